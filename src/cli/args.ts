/**
 * A small flag parser: `--flag value`, `--flag=value`, repeatable list flags, boolean switches.
 * Unknown flags, missing values and repeated single-valued flags are errors, never ignored.
 */
import { err, ok, type Result } from "../lib/result";

export type FlagKind = "string" | "list" | "boolean";

export interface FlagSpec {
  readonly kind: FlagKind;
  /** A one-letter alias such as `h` for `-h`; only for boolean flags. */
  readonly short?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<K extends FlagKind> = K extends "string" ? string : K extends "list" ? string[] : true;

/** The parsed flags: each key is present only when the flag was given. */
export type Flags<S extends FlagSpecs> = { [N in keyof S]?: ValueOf<S[N]["kind"]> };

export interface ParsedArgs<S extends FlagSpecs> {
  readonly flags: Flags<S>;
  /**
   * With `stopAtPositional`, the arguments from the first positional on; with `positionals`, the
   * positional arguments in order; otherwise empty.
   */
  readonly rest: readonly string[];
}

export interface ParseArgsOptions {
  /** Stop at the first positional argument instead of rejecting it. */
  readonly stopAtPositional?: boolean;
  /** Collect positional arguments (wherever they stand among the flags) instead of rejecting them. */
  readonly positionals?: boolean;
}

export function parseArgs<S extends FlagSpecs>(
  argv: readonly string[],
  specs: S,
  options: ParseArgsOptions = {},
): Result<ParsedArgs<S>, string> {
  const values: Record<string, string | string[] | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith("-") || token === "-") {
      if (options.stopAtPositional) return ok({ flags: values as Flags<S>, rest: argv.slice(i) });
      if (options.positionals) {
        positionals.push(token);
        continue;
      }
      return err(`unexpected argument '${token}'`);
    }

    let name: string;
    let inline: string | undefined;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      name = eq === -1 ? token.slice(2) : token.slice(2, eq);
      inline = eq === -1 ? undefined : token.slice(eq + 1);
    } else {
      const short = token.slice(1);
      const found = Object.entries(specs).find(([, spec]) => spec.short === short);
      if (!found) return err(`unknown flag ${token}`);
      name = found[0];
    }
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec || name === "") return err(`unknown flag ${token.split("=")[0]}`);

    if (spec.kind === "boolean") {
      if (inline !== undefined) return err(`flag --${name} does not take a value`);
      values[name] = true;
      continue;
    }

    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) return err(`flag --${name} needs a value`);
      value = next;
      i++;
    }
    if (value === "") return err(`flag --${name} needs a non-empty value`);

    if (spec.kind === "list") {
      const list = values[name];
      if (Array.isArray(list)) list.push(value);
      else values[name] = [value];
    } else {
      if (values[name] !== undefined) return err(`flag --${name} given more than once`);
      values[name] = value;
    }
  }
  return ok({ flags: values as Flags<S>, rest: positionals });
}
