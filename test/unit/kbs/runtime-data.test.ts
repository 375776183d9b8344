/**
 * The runtime-data binding: the §12 canonical text and digest exactly, Trustee's own JCS test
 * vector, the zero padding into REPORT_DATA, and what changes the digest.
 */
import canonicalize from "canonicalize";
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64, toHex, utf8 } from "../../../src/lib/encoding";
import { digestWith, type HashAlgorithm } from "../../../src/lib/kbs/protocol";
import { expectedReportData, runtimeDataText } from "../../../src/lib/kbs/runtime-data";
import { checkBinding } from "../../../src/lib/attestation";

const reportDataBinds = (reportData: Uint8Array, digest: Uint8Array) => checkBinding("tdx", { reportData }, { expectedReportData: digest }).ok;
import { filled, VECTOR } from "./kbs-fixtures";

const INPUT = { nonce: VECTOR.nonce, teePubKey: VECTOR.teePubKey, additionalEvidence: "" };

describe("§12 vector", () => {
  it("the canonical text is the vector's JCS string", () => {
    expect(runtimeDataText(INPUT)).toBe(VECTOR.jcs);
  });

  it("sha384 of it is the vector's digest, and the sample evidence carries it in std base64", async () => {
    const digest = await expectedReportData(INPUT, "sha384");
    expect(toHex(digest)).toBe(VECTOR.sha384);
    expect(toBase64(digest)).toBe(VECTOR.sampleEvidence.report_data);
  });

  it("SNP/TDX REPORT_DATA is the digest followed by 16 zeros", async () => {
    const digest = await expectedReportData(INPUT, "sha384");
    const reportData = new Uint8Array(64);
    reportData.set(digest);
    expect(reportDataBinds(reportData, digest)).toBe(true);
    reportData[63] = 1;
    expect(reportDataBinds(reportData, digest)).toBe(false);
    reportData[63] = 0;
    reportData[0]! ^= 1;
    expect(reportDataBinds(reportData, digest)).toBe(false);
    expect(reportDataBinds(new Uint8Array(0), digest)).toBe(false);
  });

  it("sha256 and sha512 hash the same text", async () => {
    for (const h of ["sha256", "sha512"] as HashAlgorithm[]) {
      expect(await expectedReportData(INPUT, h)).toEqual(await digestWith(h, utf8(VECTOR.jcs)));
    }
    expect((await expectedReportData(INPUT, "sha512")).length).toBe(64);
  });
});

describe("JCS (the canonicalize package) as Trustee computes it", () => {
  it('{"b":1,"a":"test","c":{"d":"e"}} → sha384 e71ce8e7…8870c3 (attestation-service parse_runtime_data test)', async () => {
    const text = canonicalize({ b: 1, a: "test", c: { d: "e" } })!;
    expect(text).toBe('{"a":"test","b":1,"c":{"d":"e"}}');
    const hex = toHex(await digestWith("sha384", utf8(text)));
    expect(hex.startsWith("e71ce8e7")).toBe(true);
    expect(hex.endsWith("8870c3")).toBe(true);
    expect(hex).toBe("e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3");
  });
});

describe("what the digest covers", () => {
  it("extra JWK members sent by a client do not enter the binding (the typed key is hashed)", () => {
    const withExtras = { ...VECTOR.teePubKey, kid: "x", use: "enc" } as typeof VECTOR.teePubKey;
    expect(runtimeDataText({ ...INPUT, teePubKey: withExtras })).toBe(VECTOR.jcs);
  });

  it("the nonce, the key and the additional evidence each change it", async () => {
    const base = toHex(await expectedReportData(INPUT, "sha384"));
    const variants = [
      { ...INPUT, nonce: toBase64(filled(1, 32)) },
      { ...INPUT, teePubKey: { ...VECTOR.teePubKey, crv: "P-521" as const } },
      { ...INPUT, additionalEvidence: '{"sampledevice":{"svn":"1"}}' },
    ];
    let runs = 0;
    for (const v of variants) {
      expect(toHex(await expectedReportData(v, "sha384"))).not.toBe(base);
      runs++;
    }
    expect(runs).toBe(3);
  });

  it("escaping follows JSON: quotes, backslashes and control characters in the additional evidence", () => {
    const text = runtimeDataText({ ...INPUT, additionalEvidence: 'a"b\\c\n\u0001é😀' });
    expect(text.startsWith('{"additional-evidence":"a\\"b\\\\c\\n\\u0001é😀","nonce"')).toBe(true);
  });

  it("a lone surrogate cannot be canonicalized: misuse (the wire schema refuses it first)", async () => {
    expect(() => runtimeDataText({ ...INPUT, additionalEvidence: "\ud800" })).toThrow(TypeError);
    await expect(expectedReportData({ ...INPUT, additionalEvidence: "\udfff" }, "sha384")).rejects.toThrow(TypeError);
  });

  it("the digest is over the UTF-8 bytes of the text", async () => {
    const digest = await expectedReportData(INPUT, "sha384");
    expect(digest).toEqual(new Uint8Array(await crypto.subtle.digest("SHA-384", utf8(VECTOR.jcs))));
    expect(fromBase64(VECTOR.sampleEvidence.report_data)).toEqual(digest);
  });
});
