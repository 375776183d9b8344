/**
 * What every command shares: its flag table (plus `--server` and `--help`), how flags are parsed,
 * and the context it runs in (I/O, a client for the chosen server, the admin token on demand).
 */
import { err, type Result } from "../lib/result";
import { parseArgs, type FlagSpecs, type Flags } from "./args";
import { SignetClient } from "./client";
import { isCleartextRemote, resolveAdminToken, resolveServer, type Env } from "./config";
import { oneLine, usageError, type CliFailure } from "./failure";

/** Everything the CLI touches outside itself, so that `main` runs in tests without a process. */
export interface CliIo {
  stdout(s: string): void;
  /** Raw bytes on stdout (a secret as the server stored it), in order with `stdout`. */
  stdoutBytes(bytes: Uint8Array): void;
  stderr(s: string): void;
  readonly env: Env;
  readonly cwd: string;
  readonly fetch: typeof fetch;
}

export const COMMON_FLAGS = {
  server: { kind: "string" },
  help: { kind: "boolean", short: "h" },
} as const satisfies FlagSpecs;

export interface RunContext {
  readonly io: CliIo;
  readonly client: SignetClient;
  /** Resolves the admin token (env, then .dev.vars); only commands that need it call this. */
  adminToken(): Promise<Result<string, CliFailure>>;
}

export interface CommandDefinition<S extends FlagSpecs> {
  /** `group action`, e.g. `x509 mint`. */
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly flags: S;
  /** The names of the positional arguments, each required (default: none taken). */
  readonly positionals?: readonly string[];
  run(flags: Flags<S>, ctx: RunContext, positionals: readonly string[]): Promise<Result<void, CliFailure>>;
}

export interface InvocationContext {
  readonly io: CliIo;
  /** `--server` given before the command name, if any; one given after it wins. */
  readonly server: string | undefined;
}

/** A command with its flag types erased, as `main` dispatches it. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  execute(args: readonly string[], ctx: InvocationContext): Promise<Result<void, CliFailure>>;
}

export function defineCommand<S extends FlagSpecs>(def: CommandDefinition<S>): Command {
  const specs = { ...COMMON_FLAGS, ...def.flags };
  return {
    name: def.name,
    summary: def.summary,
    usage: def.usage,
    async execute(args, ctx) {
      const names = def.positionals ?? [];
      const parsed = parseArgs(args, specs, { positionals: names.length > 0 });
      if (!parsed.ok) return err(usageError(parsed.error, def.name));
      const positionals = parsed.value.rest;
      if (positionals.length < names.length) return err(usageError(`missing argument ${names[positionals.length]}`, def.name));
      if (positionals.length > names.length) return err(usageError(`unexpected argument '${oneLine(positionals[names.length]!, 100)}'`, def.name));
      const server = resolveServer(parsed.value.flags.server ?? ctx.server, ctx.io.env);
      if (!server.ok) return server;
      const client = new SignetClient({ server: server.value, fetch: ctx.io.fetch });
      const adminToken = async (): Promise<Result<string, CliFailure>> => {
        const token = await resolveAdminToken(ctx.io.env, ctx.io.cwd);
        if (token.ok && isCleartextRemote(server.value)) {
          ctx.io.stderr(`signet: warning: sending the admin token unencrypted to ${server.value.host} (http://)\n`);
        }
        return token;
      };
      return def.run(parsed.value.flags as Flags<S>, { io: ctx.io, client, adminToken }, positionals);
    },
  };
}
