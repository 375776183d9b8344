import { describe, expect, it } from "vitest";
import {
  DerReader,
  decodeBitString,
  decodeBoolean,
  decodeSmallInteger,
  decodeUnsignedInteger,
  readSingle,
  readTlv,
  validateDerTree,
} from "../../../src/lib/x509/der-reader";
import { fromHexString as h, hex, prng } from "./x509-test-kit";

describe("readTlv on hostile headers", () => {
  it.each([
    ["", "der_truncated"],
    ["30", "der_truncated"],
    ["3080", "der_indefinite_length"],
    ["30800000", "der_indefinite_length"],
    ["308105" + "0000000000", "der_non_minimal_length"],
    ["3081", "der_truncated"],
    ["308200" + "05" + "0000000000", "der_non_minimal_length"],
    ["30820005" + "0000000000", "der_non_minimal_length"],
    ["3085" + "0100000000", "der_length_overflow"],
    ["3088" + "ffffffffffffffff", "der_length_overflow"],
    ["3084ffffffff", "der_truncated"],
    ["308401000000" + "00", "der_truncated"],
    ["300501", "der_truncated"],
    ["1f0100", "der_high_tag_number"],
    ["3f8101" + "00", "der_high_tag_number"],
  ])("%s → %s", (input, reason) => {
    const bytes = h(input);
    const r = readTlv(bytes, 0, bytes.length);
    expect(r.ok ? "ok" : r.error.reason).toBe(reason);
  });

  it("accepts minimal long-form lengths", () => {
    const bytes = new Uint8Array(3 + 128);
    bytes.set(h("048180"));
    const r = readTlv(bytes, 0, bytes.length);
    expect(r.ok && r.value.contentStart === 3 && r.value.end === 131).toBe(true);
  });

  it("enforces the parent's limit, not the buffer's", () => {
    // SEQUENCE(3) { OCTET STRING claiming 4 bytes } followed by more bytes in the buffer.
    const bytes = h("3003" + "0404" + "01" + "020304");
    const outer = new DerReader(bytes);
    const seq = outer.next();
    expect(seq.ok).toBe(true);
    if (!seq.ok) return;
    const inner = outer.enter(seq.value).next();
    expect(inner.ok ? "ok" : inner.error.reason).toBe("der_truncated");
  });
});

describe("DerReader", () => {
  it("reads, expects and finishes", () => {
    const bytes = h("3006" + "020101" + "0101ff");
    const single = readSingle(bytes, 0x30, "seq");
    expect(single.ok).toBe(true);
    if (!single.ok) return;
    const r = single.value.reader.enter(single.value.tlv);
    const int = r.expect(0x02, "int");
    expect(int.ok && hex(r.contents(int.value))).toBe("01");
    expect(r.optional(0x04).ok).toBe(true);
    const bool = r.expect(0x01, "bool");
    expect(bool.ok && hex(r.raw(bool.value))).toBe("0101ff");
    expect(r.done).toBe(true);
    expect(r.finish("seq").ok).toBe(true);
    const missing = r.expect(0x02, "more");
    expect(!missing.ok && missing.error).toEqual({ reason: "der_truncated", detail: "missing more" });
  });

  it("reports the wrong tag and trailing data", () => {
    const unexpected = readSingle(h("3100"), 0x30, "seq");
    expect(!unexpected.ok && unexpected.error).toEqual({ reason: "der_unexpected_tag", detail: "seq" });
    const trailing = readSingle(h("300000"), 0x30, "seq");
    expect(!trailing.ok && trailing.error.reason).toBe("der_trailing_data");
    const r = new DerReader(h("020101020102"));
    r.next();
    expect(r.finish("x").ok).toBe(false);
  });
});

describe("value decoders", () => {
  it.each([
    ["", "der_invalid_integer"],
    ["80", "der_invalid_integer"],
    ["ff", "der_invalid_integer"],
    ["0001", "der_invalid_integer"],
    ["00007f", "der_invalid_integer"],
  ])("INTEGER %j rejected", (input, reason) => {
    const r = decodeUnsignedInteger(h(input));
    expect(r.ok ? "ok" : r.error.reason).toBe(reason);
  });

  it.each([
    ["00", "00"],
    ["7f", "7f"],
    ["0080", "80"],
    ["00ff01", "ff01"],
  ])("INTEGER %s → magnitude %s", (input, magnitude) => {
    const r = decodeUnsignedInteger(h(input));
    expect(r.ok && hex(r.value)).toBe(magnitude);
  });

  it("small integers stay below 2^31", () => {
    expect(decodeSmallInteger(h("7fffffff"))).toEqual({ ok: true, value: 0x7fffffff });
    expect(decodeSmallInteger(h("0080000000")).ok).toBe(false);
  });

  it.each([
    ["", false],
    ["08", false],
    ["01", false],
    ["0101", false],
    ["0180", true],
    ["00", true],
    ["03f8", true],
    ["03f9", false],
  ])("BIT STRING %j ok=%s", (input, valid) => {
    expect(decodeBitString(h(input)).ok).toBe(valid);
  });

  it.each([
    ["ff", true],
    ["00", true],
    ["01", false],
    ["", false],
    ["ffff", false],
  ])("BOOLEAN %j ok=%s", (input, valid) => {
    expect(decodeBoolean(h(input)).ok).toBe(valid);
  });
});

describe("validateDerTree", () => {
  const nested = (depth: number): Uint8Array => {
    let inner = h("0500");
    for (let i = 0; i < depth; i++) inner = Uint8Array.of(0x30, inner.length, ...inner); // stays < 128 bytes
    return inner;
  };

  it("accepts nesting up to the limit and refuses deeper", () => {
    const ok = nested(30);
    expect(validateDerTree(ok, 0, ok.length).ok).toBe(true);
    const deep = nested(40);
    const r = validateDerTree(deep, 0, deep.length);
    expect(r.ok ? "ok" : r.error.reason).toBe("der_too_deep");
  });

  it("finds malformed elements deep inside", () => {
    const bad = h("3006" + "3004" + "3080" + "0000");
    const r = validateDerTree(bad, 0, bad.length);
    expect(r.ok ? "ok" : r.error.reason).toBe("der_indefinite_length");
  });

  it("never throws on random bytes", () => {
    const rand = prng(7);
    for (let i = 0; i < 20_000; i++) {
      const bytes = new Uint8Array(1 + Math.floor(rand() * 40));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
      if (rand() < 0.5) bytes[0] = 0x30;
      const r = validateDerTree(bytes, 0, bytes.length);
      expect(typeof r.ok).toBe("boolean");
      const t = readTlv(bytes, 0, bytes.length);
      if (t.ok) expect(t.value.end).toBeLessThanOrEqual(bytes.length);
    }
  });
});
