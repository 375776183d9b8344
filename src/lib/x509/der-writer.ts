/**
 * DER encoding primitives (X.690 §10), sized for the X.509 encoders in this directory.
 *
 * Two layers:
 * - `write*` functions write into a caller-owned, preallocated buffer and return the new offset.
 *   With `tlvSize`/`lengthSize` a caller computes the exact total first, allocates once and
 *   fills front to back (the leaf encoder in `certificate.ts` does this).
 * - `encode*` functions return a fresh `Uint8Array` each; use them for constants and one-off
 *   structures (algorithm identifiers, CA certificates), not in per-leaf loops.
 *
 * Caller misuse (a non-ASCII IA5String, a year outside 0000–9999, …) throws `TypeError`;
 * nothing here sees untrusted input.
 */
import { utf8 } from "../encoding";

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag byte: `[n]`, primitive (implicit tagging of a primitive) or constructed. */
export function contextTag(n: number, constructed: boolean): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new TypeError("context tag number must be 0..30");
  return (constructed ? 0xa0 : 0x80) | n;
}

// ---------------------------------------------------------------- sizes and headers

/** Bytes needed for the definite length octets of `len`. */
export function lengthSize(len: number): number {
  if (len < 0x80) return 1;
  if (len < 0x100) return 2;
  if (len < 0x10000) return 3;
  if (len < 0x1000000) return 4;
  return 5;
}

/** Total size of a TLV whose contents are `contentLength` bytes (single-byte tag). */
export function tlvSize(contentLength: number): number {
  return 1 + lengthSize(contentLength) + contentLength;
}

/** Writes tag and minimal definite length; returns the offset of the contents. */
export function writeHeader(buf: Uint8Array, off: number, tag: number, len: number): number {
  buf[off++] = tag;
  if (len < 0x80) {
    buf[off++] = len;
  } else if (len < 0x100) {
    buf[off++] = 0x81;
    buf[off++] = len;
  } else if (len < 0x10000) {
    buf[off++] = 0x82;
    buf[off++] = len >>> 8;
    buf[off++] = len & 0xff;
  } else if (len < 0x1000000) {
    buf[off++] = 0x83;
    buf[off++] = len >>> 16;
    buf[off++] = (len >>> 8) & 0xff;
    buf[off++] = len & 0xff;
  } else {
    if (len > 0xffffffff) throw new TypeError("DER length too large");
    buf[off++] = 0x84;
    buf[off++] = len >>> 24;
    buf[off++] = (len >>> 16) & 0xff;
    buf[off++] = (len >>> 8) & 0xff;
    buf[off++] = len & 0xff;
  }
  return off;
}

export function writeBytes(buf: Uint8Array, off: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 32) {
    buf.set(bytes, off);
    return off + n;
  }
  // A plain loop beats TypedArray#set's call overhead for the short chunks X.509 is made of.
  for (let i = 0; i < n; i++) buf[off + i] = bytes[i]!;
  return off + n;
}

/** Writes `s` as single bytes; throws TypeError unless every code unit is in 0x00–0x7f (IA5). */
export function writeAscii(buf: Uint8Array, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) throw new TypeError("IA5String value must be ASCII");
    buf[off++] = c;
  }
  return off;
}

// ---------------------------------------------------------------- generic constructors

export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const out = new Uint8Array(tlvSize(content.length));
  out.set(content, writeHeader(out, 0, tag, content.length));
  return out;
}

/** One allocation: header plus the already-encoded parts in order. */
export function encodeConstructed(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(tlvSize(len));
  let off = writeHeader(out, 0, tag, len);
  for (const p of parts) off = writeBytes(out, off, p);
  return out;
}

export function encodeSequence(...parts: readonly Uint8Array[]): Uint8Array {
  return encodeConstructed(TAG.SEQUENCE, ...parts);
}

/** SET OF: DER orders the encoded elements as octet strings (X.690 §11.6). */
export function encodeSet(...parts: readonly Uint8Array[]): Uint8Array {
  return encodeConstructed(TAG.SET, ...[...parts].sort(compareBytes));
}

/** `[n] EXPLICIT`: a constructed context tag around complete encodings. */
export function encodeExplicit(n: number, ...parts: readonly Uint8Array[]): Uint8Array {
  return encodeConstructed(contextTag(n, true), ...parts);
}

/** `[n] IMPLICIT` over a primitive type: the contents of that type under a context tag. */
export function encodeImplicit(n: number, content: Uint8Array): Uint8Array {
  return encodeTlv(contextTag(n, false), content);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

// ---------------------------------------------------------------- primitives

export const DER_NULL: Uint8Array = Uint8Array.of(TAG.NULL, 0);

export function encodeBoolean(value: boolean): Uint8Array {
  return Uint8Array.of(TAG.BOOLEAN, 1, value ? 0xff : 0x00);
}

/** Content length of the minimal positive INTEGER holding the unsigned big-endian `bytes`. */
export function unsignedIntegerContentSize(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  if (bytes.length === 0) return 1;
  return bytes.length - i + (bytes[i]! & 0x80 ? 1 : 0);
}

/** Writes an INTEGER TLV for the unsigned big-endian `bytes` (leading zeros stripped, 0x00 prefix if needed). */
export function writeUnsignedInteger(buf: Uint8Array, off: number, bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  if (bytes.length === 0) return writeHeader(buf, off, TAG.INTEGER, 1) + 1; // buf is zeroed: INTEGER 0
  const pad = bytes[i]! & 0x80 ? 1 : 0;
  off = writeHeader(buf, off, TAG.INTEGER, bytes.length - i + pad);
  if (pad) buf[off++] = 0;
  for (; i < bytes.length; i++) buf[off++] = bytes[i]!;
  return off;
}

export function encodeUnsignedInteger(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(tlvSize(unsignedIntegerContentSize(bytes)));
  writeUnsignedInteger(out, 0, bytes);
  return out;
}

/** A non-negative safe integer as INTEGER (for versions and small counters). */
export function encodeSmallInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError("expected a non-negative safe integer");
  const bytes: number[] = [];
  do {
    bytes.unshift(n % 256);
    n = Math.floor(n / 256);
  } while (n > 0);
  return encodeUnsignedInteger(Uint8Array.from(bytes));
}

/** OBJECT IDENTIFIER from dotted decimal ("1.2.840.10045.2.1"). */
export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => (/^(0|[1-9][0-9]*)$/.test(a) ? Number(a) : NaN));
  const [a0, a1] = arcs;
  if (arcs.length < 2 || a0 === undefined || a1 === undefined || arcs.some((a) => !Number.isSafeInteger(a)) || a0 > 2 || (a0 < 2 && a1 > 39)) {
    throw new TypeError(`invalid OID ${dotted}`);
  }
  const content: number[] = [];
  for (const arc of [a0 * 40 + a1, ...arcs.slice(2)]) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(v % 128);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    content.push(...groups);
  }
  return encodeTlv(TAG.OID, Uint8Array.from(content));
}

export function encodeBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new TypeError("invalid BIT STRING unused-bit count");
  }
  const out = new Uint8Array(tlvSize(bytes.length + 1));
  const off = writeHeader(out, 0, TAG.BIT_STRING, bytes.length + 1);
  out[off] = unusedBits;
  out.set(bytes, off + 1);
  return out;
}

export function encodeOctetString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(TAG.OCTET_STRING, bytes);
}

/** IA5String; pass `tag` for an IMPLICIT tag (e.g. 0x86 for a GeneralName URI). */
export function encodeIa5String(s: string, tag: number = TAG.IA5_STRING): Uint8Array {
  const out = new Uint8Array(tlvSize(s.length));
  writeAscii(out, writeHeader(out, 0, tag, s.length), s);
  return out;
}

export function encodeUtf8String(s: string): Uint8Array {
  return encodeTlv(TAG.UTF8_STRING, utf8(s));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function encodePrintableString(s: string): Uint8Array {
  if (!PRINTABLE.test(s)) throw new TypeError("value is not a PrintableString");
  return encodeIa5String(s, TAG.PRINTABLE_STRING);
}

// ---------------------------------------------------------------- time (RFC 5280 §4.1.2.5)

const MIN_MS = -62_167_219_200_000; // 0000-01-01T00:00:00Z (Date.UTC maps years 0-99 to 19xx)
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const UTC_FROM_MS = Date.UTC(1950, 0, 1);
const UTC_UNTIL_MS = Date.UTC(2050, 0, 1);

/**
 * Encoded size of the Time for `ms` (milliseconds since the epoch, truncated to the second):
 * UTCTime (15 bytes) for 1950–2049, GeneralizedTime (17 bytes) otherwise.
 */
export function timeSize(ms: number): number {
  checkTime(ms);
  return ms >= UTC_FROM_MS && ms < UTC_UNTIL_MS ? 15 : 17;
}

/** Writes the Time for `ms` (see `timeSize`), `YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ`; no fractions. */
export function writeTime(buf: Uint8Array, off: number, ms: number): number {
  const utc = timeSize(ms) === 15;
  const secs = Math.floor(ms / 1000);
  const days = Math.floor(secs / 86400);
  let rem = secs - days * 86400;
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rem / 3600);
  rem -= hour * 3600;
  const minute = Math.floor(rem / 60);
  const second = rem - minute * 60;

  buf[off++] = utc ? TAG.UTC_TIME : TAG.GENERALIZED_TIME;
  buf[off++] = utc ? 13 : 15;
  if (!utc) off = write2(buf, off, Math.floor(year / 100));
  off = write2(buf, off, year % 100);
  off = write2(buf, off, month);
  off = write2(buf, off, day);
  off = write2(buf, off, hour);
  off = write2(buf, off, minute);
  off = write2(buf, off, second);
  buf[off++] = 0x5a; // 'Z'
  return off;
}

export function encodeTime(ms: number): Uint8Array {
  const out = new Uint8Array(timeSize(ms));
  writeTime(out, 0, ms);
  return out;
}

function write2(buf: Uint8Array, off: number, v: number): number {
  buf[off] = 0x30 + Math.floor(v / 10);
  buf[off + 1] = 0x30 + (v % 10);
  return off + 2;
}

function checkTime(ms: number): void {
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) throw new TypeError("time must be within years 0000-9999");
}
