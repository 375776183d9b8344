/**
 * A strict parser for the subset of HCL (version 1, hashicorp/hcl's original syntax) that
 * configuration files such as spiffe-helper's `helper.conf` use:
 *
 *   key = "string" | 123 | 0644 | 0x1f | -1 | 1.5 | true | false | [v, …] | { key = v … }
 *   key { key = v … }                       (a block: the same as `key = { … }`)
 *   # comment   // comment   /* comment *\/
 *
 * Keys are identifiers (letters, digits, `_`, `-`, `.`) or quoted strings. Items may be separated by
 * newlines, commas or nothing (as HCL 1 allows); lists allow a trailing comma. Numbers keep their text: HCL 1 reads `0644` as
 * octal (Go's strconv base 0), which `hclInteger` reproduces. Strings take Go's escapes; `${…}` is
 * kept as written. Block labels (`key "label" { }`) and heredocs are not supported and are named as
 * such. Every failure is a value with a 1-based line and column; nothing throws past `parseHcl`.
 */
import { err, ok, type Result } from "./result";

export interface HclPos {
  readonly line: number;
  readonly column: number;
}

export type HclValue =
  | { readonly kind: "string"; readonly value: string; readonly pos: HclPos }
  | { readonly kind: "number"; readonly text: string; readonly float: boolean; readonly pos: HclPos }
  | { readonly kind: "bool"; readonly value: boolean; readonly pos: HclPos }
  | { readonly kind: "list"; readonly items: readonly HclValue[]; readonly pos: HclPos }
  | { readonly kind: "object"; readonly entries: readonly HclEntry[]; readonly pos: HclPos };

export interface HclEntry {
  readonly key: string;
  readonly value: HclValue;
  readonly pos: HclPos;
}

export interface HclError {
  readonly reason: "syntax";
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** `line:column: message`. */
export function formatHclError(e: HclError): string {
  return `${e.line}:${e.column}: ${e.message}`;
}

const MAX_DEPTH = 32;
const MAX_INPUT = 1 << 20;

class Fail extends Error {
  constructor(
    readonly pos: HclPos,
    message: string,
  ) {
    super(message);
  }
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_\-.]/;

class Parser {
  #i = 0;
  #line = 1;
  #col = 1;
  constructor(readonly src: string) {}

  pos(): HclPos {
    return { line: this.#line, column: this.#col };
  }

  peek(k = 0): string {
    return this.src[this.#i + k] ?? "";
  }

  next(): string {
    const c = this.src[this.#i++] ?? "";
    if (c === "\n") {
      this.#line++;
      this.#col = 1;
    } else this.#col++;
    return c;
  }

  atEnd(): boolean {
    return this.#i >= this.src.length;
  }

  /** Skips blanks and comments; `newlines` says whether line ends count as blanks. Returns true if one was crossed. */
  skip(newlines: boolean): boolean {
    let crossed = false;
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t" || c === "\r" || c === "\uFEFF") this.next();
      else if (c === "\n") {
        if (!newlines) return crossed;
        crossed = true;
        this.next();
      } else if (c === "#" || (c === "/" && this.peek(1) === "/")) {
        while (!this.atEnd() && this.peek() !== "\n") this.next();
      } else if (c === "/" && this.peek(1) === "*") {
        const start = this.pos();
        this.next();
        this.next();
        while (!(this.peek() === "*" && this.peek(1) === "/")) {
          if (this.atEnd()) throw new Fail(start, "comment not terminated");
          if (this.peek() === "\n") crossed = true;
          this.next();
        }
        this.next();
        this.next();
      } else return crossed;
    }
  }

  /** Items until `close` ("" for the end of input). */
  items(close: string, depth: number): HclEntry[] {
    if (depth > MAX_DEPTH) throw new Fail(this.pos(), `nested more than ${MAX_DEPTH} levels deep`);
    const out: HclEntry[] = [];
    for (;;) {
      this.skip(true);
      if (close === "" ? this.atEnd() : this.peek() === close) return out;
      if (this.atEnd()) throw new Fail(this.pos(), `expected "${close}" before the end of the file`);
      out.push(this.item(depth));
      // As in HCL 1, items need no separator; a comma after one is allowed.
      this.skip(true);
      if (this.peek() === ",") this.next();
    }
  }

  key(): string {
    const c = this.peek();
    if (c === '"') return this.string();
    if (!IDENT_START.test(c)) throw new Fail(this.pos(), `expected a key, found ${describe(c)}`);
    let s = "";
    while (IDENT_PART.test(this.peek())) s += this.next();
    return s;
  }

  item(depth: number): HclEntry {
    const pos = this.pos();
    const key = this.key();
    this.skip(false);
    const c = this.peek();
    if (c === "=") {
      this.next();
      this.skip(false);
      return { key, value: this.value(depth), pos };
    }
    if (c === "{") return { key, value: this.object(depth), pos };
    if (c === '"' || IDENT_START.test(c)) throw new Fail(this.pos(), `block labels are not supported (${JSON.stringify(key)} "…" { })`);
    throw new Fail(this.pos(), `expected "=" or "{" after ${JSON.stringify(key)}, found ${describe(c)}`);
  }

  object(depth: number): HclValue {
    const pos = this.pos();
    this.next(); // {
    const entries = this.items("}", depth + 1);
    this.next(); // }
    return { kind: "object", entries, pos };
  }

  value(depth: number): HclValue {
    const pos = this.pos();
    const c = this.peek();
    if (c === '"') return { kind: "string", value: this.string(), pos };
    if (c === "{") return this.object(depth);
    if (c === "[") return this.list(depth);
    if (c === "-" || /[0-9]/.test(c) || (c === "." && /[0-9]/.test(this.peek(1)))) return this.number(pos);
    if (c === "<" && this.peek(1) === "<") throw new Fail(pos, "heredocs are not supported");
    if (IDENT_START.test(c)) {
      let word = "";
      while (IDENT_PART.test(this.peek())) word += this.next();
      if (word === "true" || word === "false") return { kind: "bool", value: word === "true", pos };
      throw new Fail(pos, `expected a value, found ${JSON.stringify(word)} (strings need double quotes)`);
    }
    throw new Fail(pos, `expected a value, found ${describe(c)}`);
  }

  list(depth: number): HclValue {
    if (depth + 1 > MAX_DEPTH) throw new Fail(this.pos(), `nested more than ${MAX_DEPTH} levels deep`);
    const pos = this.pos();
    this.next(); // [
    const items: HclValue[] = [];
    for (;;) {
      this.skip(true);
      if (this.peek() === "]") break;
      if (this.atEnd()) throw new Fail(pos, "list not terminated");
      items.push(this.value(depth + 1));
      this.skip(true);
      const c = this.peek();
      if (c === ",") this.next();
      else if (c !== "]") throw new Fail(this.pos(), `expected "," or "]" in the list, found ${describe(c)}`);
    }
    this.next(); // ]
    return { kind: "list", items, pos };
  }

  number(pos: HclPos): HclValue {
    let text = "";
    if (this.peek() === "-") text += this.next();
    while (/[0-9A-Za-z_.]/.test(this.peek()) || ((this.peek() === "+" || this.peek() === "-") && /[eE]$/.test(text) && !/^-?0[xX]/.test(text))) text += this.next();
    const float = /^-?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/.test(text) && /[.eE]/.test(text) && !/^-?0[xX]/.test(text);
    if (!float && !/^-?(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(text)) throw new Fail(pos, `${JSON.stringify(text)} is not a number`);
    if (!float && /^-?0[0-9]+$/.test(text) && /[89]/.test(text)) throw new Fail(pos, `${text} is not an octal number (a leading 0 means octal)`);
    return { kind: "number", text, float, pos };
  }

  string(): string {
    const start = this.pos();
    this.next(); // "
    let out = "";
    for (;;) {
      const c = this.peek();
      if (c === "" || c === "\n") throw new Fail(start, "string not terminated");
      this.next();
      if (c === '"') return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const at = this.pos();
      const e = this.next();
      const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\", a: "\x07", b: "\b", f: "\f", v: "\v", "'": "'" };
      if (e in simple) out += simple[e];
      else if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        let hex = "";
        for (let k = 0; k < n; k++) hex += this.next();
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new Fail(at, `bad \\${e} escape`);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Fail(at, `\\${e}${hex} is not a character`);
        out += String.fromCodePoint(cp);
      } else if (/[0-7]/.test(e)) {
        const oct = e + this.next() + this.next();
        if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new Fail(at, "bad octal escape");
        out += String.fromCharCode(parseInt(oct, 8));
      } else throw new Fail(at, `unknown escape \\${e === "\n" ? "(new line)" : e}`);
    }
  }
}

function describe(c: string): string {
  if (c === "") return "the end of the file";
  if (c === "\n") return "a new line";
  return JSON.stringify(c);
}

/** Parses a whole file into its top-level entries (in order; a key may repeat). */
export function parseHcl(text: string): Result<HclEntry[], HclError> {
  if (text.length > MAX_INPUT) return err({ reason: "syntax", line: 1, column: 1, message: "the file is larger than 1 MiB" });
  const p = new Parser(text);
  try {
    return ok(p.items("", 0));
  } catch (e) {
    if (e instanceof Fail) return err({ reason: "syntax", line: e.pos.line, column: e.pos.column, message: e.message });
    // A stack overflow or anything unforeseen still comes back as a value.
    const pos = p.pos();
    return err({ reason: "syntax", line: pos.line, column: pos.column, message: e instanceof Error ? e.message : "unparseable" });
  }
}

/**
 * An integer as HCL 1 decodes one (Go's strconv.ParseInt with base 0): `0x`/`0o`/`0b` prefixes, a
 * leading `0` for octal, an optional sign. Undefined when the text is not such an integer or is not
 * a safe JavaScript integer.
 */
export function hclInteger(text: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text.replaceAll("_", ""));
  if (!m || text.startsWith("_") || text.endsWith("_")) return undefined;
  const body = m[2]!;
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (/^0[oO]/.test(body)) n = parseInt(body.slice(2), 8);
  else if (/^0[bB]/.test(body)) n = parseInt(body.slice(2), 2);
  else if (body.length > 1 && body.startsWith("0")) n = parseInt(body.slice(1), 8);
  else n = parseInt(body, 10);
  if (m[1] === "-") n = -n;
  return Number.isSafeInteger(n) ? n : undefined;
}
