/**
 * Intel TDX through the verifier contract (`verifierFor("tdx")`): every real vector in
 * test/fixtures/tdx as guest-components' evidence JSON, with its collateral directory from a
 * provider, bound by the contract's expected report data, at the vectors' times.
 */
import { describe, expect, it } from "vitest";
import { verifierFor, type TeeVerifier } from "../../../src/lib/attestation";
import { TdxVerifier, type TdxClaims } from "../../../src/lib/attestation/tdx";
import { toBase64, toHex } from "../../../src/lib/encoding";
import { codesFor, INDEX, loadVector } from "../tdx/tdx-fixtures";
import { fakeCollateral, flipped, TDX_CASES, tdxJson, trimmed, type FakeCollateral, type TdxCase } from "./contract-fixtures";

/** One warm verifier per trusted root (the wrong-root negatives trust an impostor). */
const verifiers = new Map<string, TdxVerifier>();
function tdx(c: FakeCollateral, trustedRoot: Uint8Array): TeeVerifier<TdxClaims> {
  const key = toHex(trustedRoot);
  let v = verifiers.get(key);
  if (!v) verifiers.set(key, (v = new TdxVerifier({ trustedRoot })));
  return verifierFor("tdx", { collateral: fakeCollateral(c), allowSample: false, tdx: v });
}

const reason = (r: { ok: boolean; error?: { reason: string } }) => (r.ok ? "ok" : r.error!.reason);
const passing = TDX_CASES.filter((c) => c.passes);
const rows = (cases: readonly TdxCase[]) => cases.map((c) => [c.dir, c] as const);

describe("every real TDX vector verifies when REPORTDATA is the expected binding", () => {
  it("covers 10 positive vectors, 7 of which match a TCB level", () => {
    expect([TDX_CASES.length, passing.length]).toEqual([10, 7]);
  });

  it.each(rows(passing))("%s", async (_dir, c) => {
    const provider = fakeCollateral({ tdx: c.files });
    const v = verifierFor("tdx", { collateral: provider, allowSample: false, tdx: new TdxVerifier({ trustedRoot: c.trustedRoot }) });
    const r = await v.verify({ evidence: tdxJson(c.quote), expectedReportData: trimmed(c.reportData), now: c.now });
    if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
    expect(r.value).toMatchObject({ tee: "tdx", reportData: toHex(c.reportData), tcbStatus: c.tcbStatus, debug: r.value.evidenceClaims.td_attributes.debug });
    expect(r.value.measurement).toBe(r.value.evidenceClaims.mr_td);
    expect(r.value.platformId).toMatch(/^[0-9a-f]{32}$/); // the PCK certificate's PPID
    expect(r.value.initDataDigest).toBeUndefined();
    // The provider was asked for the quote's platform: FMSPC and PCK CA from its PCK certificate.
    expect(provider.calls).toEqual([{ method: "tdxCollateral", input: { fmspc: r.value.evidenceClaims.fmspc, ca: "platform" } }]);
  });

  it.each(rows(TDX_CASES.filter((c) => !c.passes)))("%s: the binding is right, but no TCB level matches → tcb_not_supported", async (_dir, c) => {
    const r = await tdx({ tdx: c.files }, c.trustedRoot).verify({ evidence: tdxJson(c.quote), expectedReportData: c.reportData, now: c.now });
    expect(reason(r)).toBe("tcb_not_supported");
  });

  it("the x-trustee-v4 quote (a TD with DEBUG set) says so in `debug`", async () => {
    const c = TDX_CASES.find((x) => x.dir === "x-trustee-v4-50806f")!;
    const r = await tdx({ tdx: c.files }, c.trustedRoot).verify({ evidence: tdxJson(c.quote), expectedReportData: c.reportData, now: c.now });
    expect(r).toMatchObject({ ok: true, value: { debug: true } });
  });
});

describe("the binding: REPORTDATA and MRCONFIGID (negatives outnumber positives)", () => {
  it.each(rows(passing))("%s: a flipped byte, a dropped byte or the wrong padding → report_data_mismatch", async (_dir, c) => {
    const t = trimmed(c.reportData);
    const ones = new Uint8Array(64).fill(1);
    for (const expectedReportData of [flipped(t), flipped(c.reportData, 63), t.slice(0, -1).length > 0 ? flipped(t.slice(0, -1), 0) : ones, ones]) {
      const r = await tdx({ tdx: c.files }, c.trustedRoot).verify({ evidence: tdxJson(c.quote), expectedReportData, now: c.now });
      expect(reason(r)).toBe("report_data_mismatch");
    }
  });

  it.each(rows(passing))("%s: MRCONFIGID binds its digest (zero in every vector: 32, 48 or 64 zero bytes)", async (_dir, c) => {
    expect(c.mrConfigId.every((b) => b === 0)).toBe(true); // Trustee's tdx_quote_6 has a non-zero one: report-data.test.ts
    for (const digest of [new Uint8Array(32), new Uint8Array(48), new Uint8Array(64)]) {
      const r = await tdx({ tdx: c.files }, c.trustedRoot).verify({ evidence: tdxJson(c.quote), expectedReportData: c.reportData, expectedInitDataDigest: digest, now: c.now });
      if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
      expect(r.value.initDataDigest).toBe("00".repeat(48));
    }
  });

  it.each(rows(passing))("%s: a wrong init-data digest → init_data_mismatch", async (_dir, c) => {
    const lastByte = new Uint8Array(48);
    lastByte[47] = 1;
    for (const digest of [new Uint8Array(48).fill(0xab), lastByte, new Uint8Array([1])]) {
      const r = await tdx({ tdx: c.files }, c.trustedRoot).verify({ evidence: tdxJson(c.quote), expectedReportData: c.reportData, expectedInitDataDigest: digest, now: c.now });
      expect(reason(r)).toBe("init_data_mismatch");
    }
  });
});

describe("every negative TDX vector is rejected through the contract with its check's code", () => {
  it.each(INDEX.negative.map((e) => [e.dir, e] as const))("%s", async (dir, entry) => {
    const v = loadVector(dir);
    const reportDataAt = (v.quote[0] === 5 ? 54 : 48) + 520;
    const r = await tdx({ tdx: v.files }, v.trustedRoot).verify({ evidence: tdxJson(v.quote), expectedReportData: v.quote.slice(reportDataAt, reportDataAt + 64), now: v.now });
    expect(r.ok).toBe(false);
    const allowed = entry.expected.failed_checks.flatMap((check) => codesFor(check));
    expect(allowed).toContain(reason(r));
  });
});

describe("evidence and collateral the contract refuses", () => {
  const c = passing.find((x) => x.dir === "automata-v4-00806f050000-col0625")!;
  const other = passing.find((x) => x.dir === "automata-v5-td15-90c06f-alibaba")!;
  const b64 = toBase64(c.quote);
  it("the quote's base64 has + and / and padding (so the URL-safe and unpadded rows below change it)", () => {
    expect([b64.includes("+"), b64.includes("/"), b64.endsWith("=")]).toEqual([true, true, true]);
  });
  it.each<[string, unknown, FakeCollateral, string]>([
    ["not an object", b64, { tdx: c.files }, "malformed_evidence"],
    ["no quote", { cc_eventlog: null }, { tdx: c.files }, "malformed_evidence"],
    ["an empty quote", { cc_eventlog: null, quote: "" }, { tdx: c.files }, "malformed_evidence"],
    ["a quote as an array of bytes", { quote: Array.from(c.quote) }, { tdx: c.files }, "malformed_evidence"],
    ["a URL-safe base64 quote", { quote: b64.replace(/\+/g, "-").replace(/\//g, "_") }, { tdx: c.files }, "malformed_evidence"],
    ["a quote without its padding", { quote: b64.replace(/=+$/, "") }, { tdx: c.files }, "malformed_evidence"],
    ["base64 with a line break", { quote: `${b64.slice(0, 76)}\n${b64.slice(76)}` }, { tdx: c.files }, "malformed_evidence"],
    ["cc_eventlog as a number", { cc_eventlog: 1, quote: b64 }, { tdx: c.files }, "malformed_evidence"],
    ["a truncated quote", { quote: toBase64(c.quote.subarray(0, 1000)) }, { tdx: c.files }, "quote_truncated"],
    ["an SNP report as the quote", { quote: toBase64(new Uint8Array(1184).fill(2)) }, { tdx: c.files }, "quote_unsupported_version"],
    ["the provider has no collateral", { quote: b64 }, { fail: "tdx" }, "collateral_unavailable"],
    ["the provider answers with another platform's collateral", { quote: b64 }, { tdx: other.files }, "tcb_info_mismatch"],
    ["the provider's set lacks a file", { quote: b64 }, { tdx: { ...c.files, "pck_crl.der": undefined as unknown as Uint8Array } }, "collateral_file_missing"],
    ["the provider's files are strings", { quote: b64 }, { tdx: Object.fromEntries(Object.keys(c.files).map((k) => [k, "x" as unknown as Uint8Array])) }, "collateral_file_missing"],
    ["cc_eventlog present (accepted, not read)", { cc_eventlog: "AAAA", quote: b64 }, { tdx: c.files }, "ok"],
  ])("%s → %s", async (_what, evidence, collateral, expected) => {
    const r = await tdx(collateral, c.trustedRoot).verify({ evidence, expectedReportData: c.reportData, now: c.now });
    expect(reason(r)).toBe(expected);
  });
});
