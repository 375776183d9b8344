import { describe, expect, it } from "vitest";
import {
  encodeBitString,
  encodeBoolean,
  encodeIa5String,
  encodeOid,
  encodePrintableString,
  encodeSequence,
  encodeSet,
  encodeSmallInteger,
  encodeTime,
  encodeUnsignedInteger,
  encodeUtf8String,
  lengthSize,
  tlvSize,
  writeHeader,
} from "../../../src/lib/x509/der-writer";
import { readTlv } from "../../../src/lib/x509/der-reader";
import { hex, prng } from "./x509-test-kit";

describe("lengths and headers", () => {
  it.each([
    [0, "0400"],
    [127, "047f"],
    [128, "048180"],
    [255, "0481ff"],
    [256, "04820100"],
    [65535, "0482ffff"],
    [65536, "0483010000"],
    [0x1000000, "048401000000"],
  ])("length %i → %s", (len, header) => {
    const buf = new Uint8Array(8);
    const off = writeHeader(buf, 0, 0x04, len);
    expect(hex(buf.subarray(0, off))).toBe(header);
    expect(off).toBe(1 + lengthSize(len));
    expect(tlvSize(len)).toBe(off + len);
  });

  it("round-trips through the strict reader", () => {
    for (const len of [0, 1, 127, 128, 200, 255, 256, 1000, 65535, 65536, 70000]) {
      const buf = new Uint8Array(tlvSize(len));
      writeHeader(buf, 0, 0x04, len);
      const r = readTlv(buf, 0, buf.length);
      expect(r.ok && r.value.end === buf.length && r.value.contentStart === 1 + lengthSize(len)).toBe(true);
    }
  });
});

describe("INTEGER (unsigned, minimal, positive)", () => {
  it.each([
    ["", "020100"],
    ["00", "020100"],
    ["000001", "020101"],
    ["7f", "02017f"],
    ["80", "02020080"],
    ["0080", "02020080"],
    ["00000080", "02020080"],
    ["ff".repeat(20), "0215" + "00" + "ff".repeat(20)],
  ])("%s → %s", (input, expected) => {
    expect(hex(encodeUnsignedInteger(Uint8Array.from(Buffer.from(input, "hex"))))).toBe(expected);
  });

  it("small integers", () => {
    expect(hex(encodeSmallInteger(0))).toBe("020100");
    expect(hex(encodeSmallInteger(2))).toBe("020102");
    expect(hex(encodeSmallInteger(128))).toBe("02020080");
    expect(hex(encodeSmallInteger(65537))).toBe("0203010001");
    expect(() => encodeSmallInteger(-1)).toThrow(TypeError);
  });
});

describe("OBJECT IDENTIFIER", () => {
  it.each([
    ["1.2.840.113549.1.1.11", "06092a864886f70d01010b"],
    ["1.2.840.10045.2.1", "06072a8648ce3d0201"],
    ["1.3.132.0.34", "06052b81040022"],
    ["2.5.29.17", "0603551d11"],
    ["2.999.3", "0603883703"],
    ["1.3.6.1.5.5.7.3.2", "06082b06010505070302"],
  ])("%s", (dotted, expected) => {
    expect(hex(encodeOid(dotted))).toBe(expected);
  });

  it.each(["1", "3.1", "1.40", "1.2.", "1..2", "1.02", "a.b", ""])("rejects %j", (dotted) => {
    expect(() => encodeOid(dotted)).toThrow(TypeError);
  });
});

describe("strings and simple types", () => {
  it("IA5String accepts ASCII only", () => {
    expect(hex(encodeIa5String("a.b"))).toBe("1603612e62");
    expect(hex(encodeIa5String("x", 0x86))).toBe("860178");
    expect(() => encodeIa5String("é")).toThrow(TypeError);
  });

  it("PrintableString validates its alphabet", () => {
    expect(hex(encodePrintableString("US"))).toBe("13025553");
    expect(() => encodePrintableString("a@b")).toThrow(TypeError);
    expect(() => encodePrintableString("*")).toThrow(TypeError);
  });

  it("UTF8String encodes UTF-8", () => {
    expect(hex(encodeUtf8String("é"))).toBe("0c02c3a9");
  });

  it("BOOLEAN uses 0xff for TRUE", () => {
    expect(hex(encodeBoolean(true))).toBe("0101ff");
    expect(hex(encodeBoolean(false))).toBe("010100");
  });

  it("BIT STRING carries the unused-bit count", () => {
    expect(hex(encodeBitString(Uint8Array.of(0x88), 3))).toBe("03020388");
    expect(hex(encodeBitString(new Uint8Array(0)))).toBe("030100");
    expect(() => encodeBitString(Uint8Array.of(1), 8)).toThrow(TypeError);
    expect(() => encodeBitString(new Uint8Array(0), 1)).toThrow(TypeError);
  });

  it("SET OF sorts its elements (X.690 §11.6)", () => {
    const a = Uint8Array.of(0x02, 0x01, 0x05);
    const b = Uint8Array.of(0x02, 0x01, 0x01);
    const c = Uint8Array.of(0x01, 0x01, 0xff);
    expect(hex(encodeSet(a, b, c))).toBe("3109" + "0101ff" + "020101" + "020105");
    expect(hex(encodeSequence(a, b))).toBe("3006020105020101");
  });
});

describe("Time (RFC 5280 §4.1.2.5)", () => {
  const ascii = (der: Uint8Array) => Buffer.from(der.subarray(2)).toString("latin1");

  it.each([
    ["2049-12-31T23:59:59.999Z", 0x17, "491231235959Z"],
    ["2050-01-01T00:00:00.000Z", 0x18, "20500101000000Z"],
    ["1950-01-01T00:00:00.000Z", 0x17, "500101000000Z"],
    ["1949-12-31T23:59:59.000Z", 0x18, "19491231235959Z"],
    ["1970-01-01T00:00:00.000Z", 0x17, "700101000000Z"],
    ["2000-02-29T12:34:56.789Z", 0x17, "000229123456Z"],
    ["2100-03-01T00:00:00.000Z", 0x18, "21000301000000Z"],
    ["9999-12-31T23:59:59.999Z", 0x18, "99991231235959Z"],
    ["0001-01-01T00:00:00.000Z", 0x18, "00010101000000Z"],
  ])("%s", (iso, tag, text) => {
    const der = encodeTime(Date.parse(iso));
    expect(der[0]).toBe(tag);
    expect(der[1]).toBe(text.length);
    expect(ascii(der)).toBe(text);
  });

  it("truncates to the second, also before the epoch", () => {
    expect(ascii(encodeTime(-1))).toBe("691231235959Z");
    expect(ascii(encodeTime(1999))).toBe("700101000001Z");
  });

  it("matches Date for random instants over years 0000–9999", () => {
    const rand = prng(1);
    const min = Date.parse("0000-01-01T00:00:00Z");
    const max = Date.parse("9999-12-31T23:59:59Z");
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(min + rand() * (max - min));
      const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ for years 0..9999
      const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
      const der = encodeTime(ms);
      const year = Number(iso.slice(0, 4));
      const expected = year >= 1950 && year < 2050 ? digits.slice(2) + "Z" : digits + "Z";
      if (ascii(der) !== expected) expect(`${ms}: ${ascii(der)}`).toBe(`${ms}: ${expected}`);
    }
  });

  it("rejects instants outside years 0000–9999", () => {
    expect(() => encodeTime(Date.parse("+010000-01-01T00:00:00Z"))).toThrow(TypeError);
    expect(() => encodeTime(Date.parse("-000001-12-31T23:59:59Z"))).toThrow(TypeError);
    expect(() => encodeTime(NaN)).toThrow(TypeError);
  });
});
