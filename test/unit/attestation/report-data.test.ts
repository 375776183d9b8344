/**
 * The single binding rule (report-data.ts), table-driven: zero-padding and truncation to the field
 * size for SNP/TDX, exact equality for sample, and init data against HOST_DATA (32) / MRCONFIGID (48),
 * including the one real quote with a non-zero MRCONFIGID (Trustee's tdx_quote_6).
 */
import { describe, expect, it } from "vitest";
import { checkBinding, regularizeData } from "../../../src/lib/attestation";
import { parseTdxQuote } from "../../../src/lib/attestation/tdx";
import { fromHex, toHex } from "../../../src/lib/encoding";
import { readBytes } from "../tdx/tdx-fixtures";

const h = (s: string) => fromHex(s)!;
const digest48 = h("1147b1af549c26b6863daf32fc064834beaa470ddb06fd5c57c44363cb2e86f11c4d80906326c2154d2b96d47de1ac62"); // specs/kbs-protocol.md §12
const padded64 = new Uint8Array(64);
padded64.set(digest48);

const code = (r: { ok: boolean; error?: { reason: string } }) => (r.ok ? "ok" : r.error!.reason);

describe("regularizeData", () => {
  it.each<[string, number, string]>([
    ["", 4, "00000000"],
    ["01", 4, "01000000"],
    ["01020304", 4, "01020304"],
    ["0102030405", 4, "01020304"],
  ])("%s to %i bytes → %s", (input, size, out) => {
    expect(toHex(regularizeData(h(input), size))).toBe(out);
  });
});

describe("REPORT_DATA", () => {
  const withTail = (b: number) => {
    const x = padded64.slice();
    x[63] = b;
    return x;
  };
  it.each<[string, "snp" | "tdx" | "sample", Uint8Array, Uint8Array, string]>([
    ["SNP: the 48-byte digest zero-padded", "snp", padded64, digest48, "ok"],
    ["TDX: the 48-byte digest zero-padded", "tdx", padded64, digest48, "ok"],
    ["SNP: all 64 bytes given", "snp", padded64, padded64, "ok"],
    ["SNP: a 65-byte digest is truncated", "snp", padded64, new Uint8Array([...padded64, 0xff]), "ok"],
    ["sample: the digest exactly", "sample", digest48, digest48, "ok"],
    ["SNP: a non-zero byte in the padding", "snp", withTail(1), digest48, "report_data_mismatch"],
    ["TDX: a flipped digest byte", "tdx", padded64, Uint8Array.from(digest48, (b, i) => (i === 47 ? b ^ 1 : b)), "report_data_mismatch"],
    ["SNP: the digest one byte short", "snp", padded64, digest48.subarray(0, 47), "report_data_mismatch"],
    ["SNP: the field is not 64 bytes", "snp", digest48, digest48, "report_data_mismatch"],
    ["sample: the digest zero-padded is not the digest", "sample", padded64, digest48, "report_data_mismatch"],
    ["sample: one byte short", "sample", digest48.subarray(0, 47), digest48, "report_data_mismatch"],
    ["sample: empty evidence report data", "sample", new Uint8Array(0), digest48, "report_data_mismatch"],
  ])("%s → %s", (_what, tee, field, expected, want) => {
    expect(code(checkBinding(tee, { reportData: field, initData: new Uint8Array(tee === "snp" ? 32 : 48) }, { expectedReportData: expected }))).toBe(want);
  });
});

describe("init data", () => {
  const sha256 = h("aa".repeat(32));
  const hostData = sha256;
  const mrConfigId = new Uint8Array(48);
  mrConfigId.set(sha256);
  it.each<[string, "snp" | "tdx" | "sample", Uint8Array | undefined, Uint8Array | undefined, string]>([
    ["SNP: a sha256 digest is HOST_DATA", "snp", hostData, sha256, "ok"],
    ["SNP: a sha384 digest is truncated to 32", "snp", hostData, new Uint8Array([...sha256, 1, 2, 3]), "ok"],
    ["TDX: a sha256 digest zero-padded to 48", "tdx", mrConfigId, sha256, "ok"],
    ["no digest expected: not checked", "snp", new Uint8Array(32).fill(7), undefined, "ok"],
    ["sample: not checked (as Trustee)", "sample", undefined, sha256, "ok"],
    ["SNP: another digest", "snp", hostData, h("ab".repeat(32)), "init_data_mismatch"],
    ["SNP: the digest one byte short", "snp", hostData, sha256.subarray(0, 31), "init_data_mismatch"],
    ["TDX: padding that is not zero", "tdx", Uint8Array.from(mrConfigId, (b, i) => (i === 40 ? 1 : b)), sha256, "init_data_mismatch"],
    ["TDX: a 48-byte digest whose tail differs", "tdx", mrConfigId, new Uint8Array([...sha256, ...new Uint8Array(15), 9]), "init_data_mismatch"],
    ["SNP: no field at all", "snp", undefined, sha256, "init_data_mismatch"],
  ])("%s → %s", (_what, tee, initData, digest, want) => {
    const reportData = tee === "sample" ? digest48 : padded64;
    const r = checkBinding(tee, { reportData, ...(initData ? { initData } : {}) }, { expectedReportData: digest48, expectedInitDataDigest: digest });
    expect(code(r)).toBe(want);
    if (r.ok && digest) expect(r.value.initDataDigest).toBe(tee === "sample" ? toHex(digest) : toHex(initData!));
  });

  it("Trustee's tdx_quote_6 (REPORTDATA = digest ‖ 16 zeros, non-zero MRCONFIGID) binds its digests", () => {
    const q = parseTdxQuote(readBytes("test/fixtures/tdx/trustee-quote6-initdata/quote.bin"));
    if (!q.ok) throw new Error(q.error.detail);
    const body = q.value.body;
    expect(body.reportData.subarray(48).every((b) => b === 0)).toBe(true);
    expect(body.mrConfigId.some((b) => b !== 0)).toBe(true);
    const fields = { reportData: body.reportData, initData: body.mrConfigId };
    const rd = body.reportData.slice(0, 48);
    const init = body.mrConfigId.slice();
    expect(checkBinding("tdx", fields, { expectedReportData: rd, expectedInitDataDigest: init })).toEqual({ ok: true, value: { initDataDigest: toHex(init) } });
    expect(code(checkBinding("tdx", fields, { expectedReportData: rd, expectedInitDataDigest: init.subarray(0, 32) }))).toBe("init_data_mismatch");
    expect(code(checkBinding("tdx", fields, { expectedReportData: rd, expectedInitDataDigest: Uint8Array.from(init, (b, i) => (i === 0 ? b ^ 1 : b)) }))).toBe("init_data_mismatch");
    expect(code(checkBinding("tdx", fields, { expectedReportData: Uint8Array.from(rd, (b, i) => (i === 47 ? b ^ 0x80 : b)), expectedInitDataDigest: init }))).toBe("report_data_mismatch");
  });
});
