/**
 * Intel PCS signs JSON by bytes, not by value: `{"tcbInfo":{…},"signature":"<r‖s hex>"}` carries an
 * ECDSA signature over the exact bytes of the `tcbInfo` value as served (specs/tdx.md §2). This reads
 * such a body: the raw byte span of the signed member (never re-serialised), that member parsed from
 * those same bytes, and the 64-byte signature. Duplicate top-level members are rejected, so the bytes
 * checked and the value used cannot differ. Never throws.
 */
import { err, ok, type Result } from "../../result";
import { fromHex, fromUtf8 } from "../../encoding";

export interface SignedJson {
  /** The exact bytes of the signed member's value. */
  readonly signed: Uint8Array;
  /** That value, parsed from those bytes. */
  readonly value: unknown;
  /** ECDSA P-256 r‖s. */
  readonly signature: Uint8Array;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** End (exclusive) of the JSON string starting at `i` (a quote), or -1. */
function stringEnd(b: Uint8Array, i: number): number {
  for (let j = i + 1; j < b.length; j++) {
    if (b[j] === BACKSLASH) j++;
    else if (b[j] === QUOTE) return j + 1;
  }
  return -1;
}

/** End (exclusive) of the JSON value starting at `i`, for input already known to be valid JSON. */
function valueEnd(b: Uint8Array, i: number): number {
  const first = b[i];
  if (first === QUOTE) return stringEnd(b, i);
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
    let depth = 0;
    for (let j = i; j < b.length; j++) {
      const c = b[j];
      if (c === QUOTE) {
        j = stringEnd(b, j) - 1;
        if (j < 0) return -1;
      } else if (c === 0x7b || c === 0x5b) {
        depth++;
      } else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < b.length && !isSpace(b[j]) && b[j] !== 0x2c && b[j] !== 0x7d) j++;
  return j;
}

/** Top-level member name → [start, end) of its value, for a document that is a valid JSON object. */
function memberSpans(b: Uint8Array): Result<Map<string, [number, number]>, string> {
  const spans = new Map<string, [number, number]>();
  let i = 0;
  const skip = () => {
    while (isSpace(b[i])) i++;
  };
  skip();
  if (b[i] !== 0x7b) return err("not a JSON object");
  i++;
  skip();
  if (b[i] === 0x7d) return ok(spans);
  for (;;) {
    skip();
    const keyEnd = b[i] === QUOTE ? stringEnd(b, i) : -1;
    if (keyEnd < 0) return err("malformed member name");
    const name = JSON.parse(new TextDecoder().decode(b.subarray(i, keyEnd))) as string;
    i = keyEnd;
    skip();
    if (b[i] !== 0x3a) return err("malformed member");
    i++;
    skip();
    const end = valueEnd(b, i);
    if (end < 0) return err("malformed member value");
    if (spans.has(name)) return err(`member "${name}" appears twice`);
    spans.set(name, [i, end]);
    i = end;
    skip();
    if (b[i] === 0x2c) {
      i++;
      continue;
    }
    if (b[i] === 0x7d) return ok(spans);
    return err("malformed object");
  }
}

/** Reads a PCS body whose member `member` is signed by the hex r‖s in `signature`. */
export function readSignedJson(body: Uint8Array, member: string): Result<SignedJson, string> {
  const text = fromUtf8(body);
  if (text === undefined) return err("not UTF-8");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return err("not JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return err("not a JSON object");
  let spans: Result<Map<string, [number, number]>, string>;
  try {
    spans = memberSpans(body);
  } catch {
    return err("malformed JSON");
  }
  if (!spans.ok) return spans;
  const span = spans.value.get(member);
  if (!span) return err(`no "${member}" member`);
  const signed = body.subarray(span[0], span[1]);
  if (signed[0] !== 0x7b) return err(`"${member}" is not an object`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(signed));
  } catch {
    return err(`"${member}" is not valid JSON on its own`);
  }
  const sigHex = (doc as Record<string, unknown>).signature;
  const signature = typeof sigHex === "string" && sigHex.length === 128 ? fromHex(sigHex) : undefined;
  if (!signature) return err("signature must be 128 hex digits (ECDSA P-256 r‖s)");
  return ok({ signed, value, signature });
}
