/**
 * A strict, bounds-checked DER reader for untrusted input (CSRs, SPKIs, signatures).
 *
 * Invariants:
 * - Only the single-byte tag form (tag numbers 0–30) is accepted; X.509 needs nothing else.
 * - Only definite, minimally encoded lengths of at most four octets; every element must fit
 *   inside its parent. Indefinite lengths (BER) are rejected.
 * - Nothing throws on hostile input: every read returns a `Result`. Offsets in `DerTlv` are
 *   absolute positions in the reader's underlying `bytes`.
 * - The reader never recurses on its own, so nesting depth cannot exhaust the stack;
 *   `validateDerTree` recurses with an explicit depth limit.
 */
import { err, ok, type Result } from "../result";

export type DerErrorReason =
  | "der_truncated"
  | "der_indefinite_length"
  | "der_non_minimal_length"
  | "der_length_overflow"
  | "der_high_tag_number"
  | "der_unexpected_tag"
  | "der_trailing_data"
  | "der_invalid_integer"
  | "der_invalid_bit_string"
  | "der_invalid_boolean"
  | "der_invalid_null"
  | "der_too_deep";

export interface DerError {
  readonly reason: DerErrorReason;
  readonly detail?: string;
}

export interface DerTlv {
  /** The identifier octet (class | constructed bit | tag number). */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset one past the last content octet. */
  readonly end: number;
}

function fail(reason: DerErrorReason, detail?: string): { readonly ok: false; readonly error: DerError } {
  return err(detail === undefined ? { reason } : { reason, detail });
}

/** Reads one TLV header at `pos`; the element must end at or before `limit`. */
export function readTlv(bytes: Uint8Array, pos: number, limit: number): Result<DerTlv, DerError> {
  if (pos + 2 > limit) return fail("der_truncated", "missing tag or length");
  const tag = bytes[pos]!;
  if ((tag & 0x1f) === 0x1f) return fail("der_high_tag_number");
  const first = bytes[pos + 1]!;
  let contentStart = pos + 2;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else if (first === 0x80) {
    return fail("der_indefinite_length");
  } else {
    const n = first & 0x7f;
    if (n > 4) return fail("der_length_overflow");
    if (contentStart + n > limit) return fail("der_truncated", "length octets");
    if (bytes[contentStart] === 0) return fail("der_non_minimal_length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[contentStart + i]!;
    if (len < 0x80) return fail("der_non_minimal_length");
    contentStart += n;
  }
  if (len > limit - contentStart) return fail("der_truncated", "contents");
  return ok({ tag, start: pos, contentStart, end: contentStart + len });
}

/** A cursor over the elements between `pos` and `end` of `bytes`. */
export class DerReader {
  readonly bytes: Uint8Array;
  readonly end: number;
  pos: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Identifier octet of the next element, or undefined at the end. */
  peekTag(): number | undefined {
    return this.pos < this.end ? this.bytes[this.pos] : undefined;
  }

  next(): Result<DerTlv, DerError> {
    const r = readTlv(this.bytes, this.pos, this.end);
    if (r.ok) this.pos = r.value.end;
    return r;
  }

  /** The next element, which must carry `tag`; `what` names it in the error detail. */
  expect(tag: number, what: string): Result<DerTlv, DerError> {
    if (this.pos >= this.end) return fail("der_truncated", `missing ${what}`);
    if (this.bytes[this.pos] !== tag) return fail("der_unexpected_tag", what);
    return this.next();
  }

  /** Reads the next element only if it carries `tag`. */
  optional(tag: number): Result<DerTlv | undefined, DerError> {
    return this.peekTag() === tag ? this.next() : ok(undefined);
  }

  /** Fails with `der_trailing_data` unless every byte has been consumed. */
  finish(what: string): Result<void, DerError> {
    return this.pos === this.end ? ok(undefined) : fail("der_trailing_data", what);
  }

  /** A reader over the contents of `tlv`. */
  enter(tlv: DerTlv): DerReader {
    return new DerReader(this.bytes, tlv.contentStart, tlv.end);
  }

  /** The contents of `tlv` (a view, not a copy). */
  contents(tlv: DerTlv): Uint8Array {
    return this.bytes.subarray(tlv.contentStart, tlv.end);
  }

  /** The whole encoding of `tlv`, header included (a view). */
  raw(tlv: DerTlv): Uint8Array {
    return this.bytes.subarray(tlv.start, tlv.end);
  }
}

/** Reads exactly one element with `tag` spanning all of `bytes` (no trailing data). */
export function readSingle(bytes: Uint8Array, tag: number, what: string): Result<{ reader: DerReader; tlv: DerTlv }, DerError> {
  const reader = new DerReader(bytes);
  const tlv = reader.expect(tag, what);
  if (!tlv.ok) return tlv;
  const done = reader.finish(what);
  if (!done.ok) return done;
  return ok({ reader, tlv: tlv.value });
}

/**
 * Checks that `bytes[start, end)` is a concatenation of well-formed TLVs, recursing into
 * constructed elements (in DER every constructed encoding holds TLVs) up to `maxDepth`.
 */
export function validateDerTree(bytes: Uint8Array, start: number, end: number, maxDepth = 32): Result<void, DerError> {
  if (maxDepth < 0) return fail("der_too_deep");
  let pos = start;
  while (pos < end) {
    const r = readTlv(bytes, pos, end);
    if (!r.ok) return r;
    if (r.value.tag & 0x20) {
      const inner = validateDerTree(bytes, r.value.contentStart, r.value.end, maxDepth - 1);
      if (!inner.ok) return inner;
    }
    pos = r.value.end;
  }
  return ok(undefined);
}

// ---------------------------------------------------------------- value decoders (contents only)

/**
 * Contents of a non-negative INTEGER → its magnitude, big-endian, without the sign octet
 * (zero → one 0x00 byte). Rejects empty, non-minimal and negative encodings.
 */
export function decodeUnsignedInteger(content: Uint8Array): Result<Uint8Array, DerError> {
  if (content.length === 0) return fail("der_invalid_integer", "empty");
  const b0 = content[0]!;
  if (b0 & 0x80) return fail("der_invalid_integer", "negative");
  if (content.length > 1 && b0 === 0 && !(content[1]! & 0x80)) return fail("der_invalid_integer", "non-minimal");
  return ok(content.length > 1 && b0 === 0 ? content.subarray(1) : content);
}

/** Contents of a non-negative INTEGER below 2^31 → number. */
export function decodeSmallInteger(content: Uint8Array): Result<number, DerError> {
  const mag = decodeUnsignedInteger(content);
  if (!mag.ok) return mag;
  if (mag.value.length > 4 || (mag.value.length === 4 && mag.value[0]! & 0x80)) return fail("der_invalid_integer", "too large");
  let n = 0;
  for (const b of mag.value) n = n * 256 + b;
  return ok(n);
}

export interface BitString {
  readonly unusedBits: number;
  readonly bytes: Uint8Array;
}

/** Contents of a BIT STRING; DER requires the unused trailing bits to be zero. */
export function decodeBitString(content: Uint8Array): Result<BitString, DerError> {
  if (content.length === 0) return fail("der_invalid_bit_string", "empty");
  const unusedBits = content[0]!;
  if (unusedBits > 7) return fail("der_invalid_bit_string", "unused bits > 7");
  if (content.length === 1 && unusedBits !== 0) return fail("der_invalid_bit_string", "unused bits in empty string");
  if (unusedBits !== 0 && content[content.length - 1]! & ((1 << unusedBits) - 1)) {
    return fail("der_invalid_bit_string", "non-zero unused bits");
  }
  return ok({ unusedBits, bytes: content.subarray(1) });
}

/** Contents of a BOOLEAN; DER allows only 0x00 and 0xff. */
export function decodeBoolean(content: Uint8Array): Result<boolean, DerError> {
  if (content.length !== 1 || (content[0] !== 0 && content[0] !== 0xff)) return fail("der_invalid_boolean");
  return ok(content[0] === 0xff);
}

export function checkNull(content: Uint8Array): Result<void, DerError> {
  return content.length === 0 ? ok(undefined) : fail("der_invalid_null");
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
