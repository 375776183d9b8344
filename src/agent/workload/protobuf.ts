/**
 * The few protocol buffers wire primitives the Workload API needs (protobuf encoding spec: varints,
 * length-delimited fields, fixed64 doubles), so the server carries no code generator or reflection
 * library. Encoding is exact for proto3 (default values are not written); decoding skips unknown
 * fields as proto3 requires and throws `ProtobufError` on bytes that are not a message.
 */

export class ProtobufError extends Error {
  override readonly name = "ProtobufError";
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const utf8Encoder = new TextEncoder();

/** Appends fields to a growing buffer; `finish()` returns the message bytes. */
export class ProtobufWriter {
  #buf: Buffer;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  #varint(value: number): void {
    this.#reserve(10);
    let v = value;
    while (v > 0x7f) {
      this.#buf[this.#len++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#len++] = v;
  }

  #tag(field: number, wire: number): void {
    this.#varint(field * 8 + wire);
  }

  /** A length-delimited field (bytes, a string's UTF-8 or a nested message), written even when empty. */
  bytesAlways(field: number, bytes: Uint8Array): this {
    this.#tag(field, WIRE_LENGTH);
    this.#varint(bytes.length);
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
    return this;
  }

  /** proto3 `bytes`: omitted when empty. */
  bytes(field: number, bytes: Uint8Array): this {
    return bytes.length === 0 ? this : this.bytesAlways(field, bytes);
  }

  /** proto3 `string`: omitted when empty. */
  string(field: number, s: string): this {
    return s === "" ? this : this.bytesAlways(field, utf8Encoder.encode(s));
  }

  /** A nested message, always present (a set message field is written even when it is empty). */
  message(field: number, encoded: Uint8Array): this {
    return this.bytesAlways(field, encoded);
  }

  /** proto3 `bool`/enum as a varint: omitted when false/zero unless `always` (oneof members). */
  varint(field: number, value: number, always = false): this {
    if (value === 0 && !always) return this;
    this.#tag(field, WIRE_VARINT);
    this.#varint(value);
    return this;
  }

  /** `double` as fixed64 little-endian; `always` for oneof members. */
  double(field: number, value: number, always = false): this {
    if (value === 0 && !Object.is(value, -0) && !always) return this;
    this.#tag(field, WIRE_FIXED64);
    this.#reserve(8);
    this.#buf.writeDoubleLE(value, this.#len);
    this.#len += 8;
    return this;
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}

export interface ProtobufField {
  readonly field: number;
  readonly wire: number;
  /** Length-delimited payload (wire type 2), or the 8 or 4 little-endian bytes of a fixed64/fixed32 field (wire types 1, 5). */
  readonly bytes?: Uint8Array;
  /** Varint payload (wire type 0), as a number (exact up to 2^53). */
  readonly value?: number;
}

/** Every field of a message in order; unknown wire types or truncation throw ProtobufError. */
export function readFields(buf: Uint8Array): ProtobufField[] {
  const out: ProtobufField[] = [];
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new ProtobufError("truncated varint");
      const b = buf[pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new ProtobufError("varint longer than 10 bytes");
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field < 1 || field > 0x1fffffff) throw new ProtobufError("invalid field number");
    if (wire === WIRE_VARINT) out.push({ field, wire, value: varint() });
    else if (wire === WIRE_LENGTH) {
      const len = varint();
      if (len > buf.length - pos) throw new ProtobufError("truncated length-delimited field");
      out.push({ field, wire, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      const len = wire === WIRE_FIXED64 ? 8 : 4;
      if (len > buf.length - pos) throw new ProtobufError("truncated fixed field");
      out.push({ field, wire, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new ProtobufError(`unsupported wire type ${wire}`);
  }
  return out;
}

/** A proto3 string field's value: valid UTF-8 or ProtobufError. */
export function decodeString(f: ProtobufField): string {
  if (f.wire !== WIRE_LENGTH || !f.bytes) throw new ProtobufError(`field ${f.field} is not length-delimited`);
  try {
    return utf8Decoder.decode(f.bytes);
  } catch {
    throw new ProtobufError(`field ${f.field} is not UTF-8`);
  }
}
