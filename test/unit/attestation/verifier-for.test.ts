/**
 * `verifierFor` and what every verifier shares: the TEEs it knows, the sample TEE (accepted only when
 * allowed), misuse as TypeError, and results that are plain data (they survive structured clone, as
 * across a Durable Object RPC). The CollateralStore stub is a CollateralProvider (checked by tsc).
 */
import { describe, expect, it } from "vitest";
import type { CollateralStore } from "../../../src/durable/collateral";
import { verifierFor, type CollateralProvider, type TeeClaims } from "../../../src/lib/attestation";
import { parseTdxEvidence } from "../../../src/lib/attestation/tdx";
import { toBase64 } from "../../../src/lib/encoding";
import { prng } from "../../support/prng";
import { fakeCollateral, SNP_CASES, snpJsonWithChain, TDX_CASES, tdxJson } from "./contract-fixtures";

const digest = Uint8Array.from({ length: 48 }, (_, i) => i + 1);
const sample = { svn: "1", report_data: toBase64(digest) };
const allow = (allowSample: boolean) => ({ collateral: fakeCollateral({}), allowSample });
const code = (r: { ok: boolean; error?: { reason: string } }) => (r.ok ? "ok" : r.error!.reason);

describe("verifierFor", () => {
  it.each(["snp", "tdx", "sample"])("knows %s", (tee) => {
    expect(typeof verifierFor(tee, allow(false))?.verify).toBe("function");
  });
  it.each(["sgx", "az-snp-vtpm", "az-tdx-vtpm", "cca", "se", "sampledevice", "SNP", "Sample", " snp", "", "__proto__", "constructor", "toString"])("does not know %j → undefined", (tee) => {
    expect(verifierFor(tee, allow(true))).toBeUndefined();
  });
});

describe("sample: only where allowed (the permissive profile)", () => {
  it("accepted: Trustee's sample claims, report data as std base64", async () => {
    const r = await verifierFor("sample", allow(true)).verify({ evidence: sample, expectedReportData: digest, now: 0 });
    expect(r).toEqual({
      ok: true,
      value: {
        tee: "sample",
        evidenceClaims: { svn: "1", report_data: sample.report_data, launch_digest: "abcde", platform_version: { major: 1, minor: 4 }, debug: false },
        reportData: sample.report_data,
        measurement: "abcde",
        debug: false,
        platformId: "sample",
      },
    });
  });

  it("with an init-data digest: reported (unchecked, there is no field), as Trustee", async () => {
    const init = new Uint8Array(32).fill(9);
    const r = await verifierFor("sample", allow(true)).verify({ evidence: sample, expectedReportData: digest, expectedInitDataDigest: init, now: 0 });
    expect(r).toMatchObject({ ok: true, value: { initDataDigest: "09".repeat(32), evidenceClaims: { init_data: toBase64(init) } } });
  });

  it.each<[string, unknown, string]>([
    ["well-formed evidence", sample, "sample_refused"],
    ["malformed evidence (refused before it is read)", "junk", "sample_refused"],
  ])("refused when not allowed: %s → %s", async (_what, evidence, want) => {
    expect(code(await verifierFor("sample", allow(false)).verify({ evidence, expectedReportData: digest, now: 0 }))).toBe(want);
  });

  const padded = new Uint8Array(64);
  padded.set(digest);
  it.each<[string, unknown, string]>([
    ["the digest zero-padded to 64 (sample compares exactly)", { svn: "1", report_data: toBase64(padded) }, "report_data_mismatch"],
    ["another digest", { svn: "1", report_data: toBase64(digest.map((b) => b ^ 1)) }, "report_data_mismatch"],
    ["no report_data (Trustee reads it as empty)", { svn: "1" }, "report_data_mismatch"],
    ["report_data URL-safe base64", { svn: "1", report_data: toBase64(new Uint8Array([0xfb, 0xff, 0xfe])).replace(/\+/g, "-").replace(/\//g, "_") }, "malformed_evidence"],
    ["report_data without padding", { svn: "1", report_data: toBase64(digest.subarray(0, 47)).replace(/=+$/, "") }, "malformed_evidence"],
    ["report_data as bytes", { svn: "1", report_data: Array.from(digest) }, "malformed_evidence"],
    ["svn as a number", { svn: 1, report_data: sample.report_data }, "malformed_evidence"],
    ["no svn", { report_data: sample.report_data }, "malformed_evidence"],
    ["an array", [sample], "malformed_evidence"],
    ["null", null, "malformed_evidence"],
  ])("allowed, but %s → %s", async (_what, evidence, want) => {
    expect(code(await verifierFor("sample", allow(true)).verify({ evidence, expectedReportData: digest, now: 0 }))).toBe(want);
  });
});

describe("misuse is a TypeError (a caller bug, not hostile input)", () => {
  const snp = SNP_CASES[0]!;
  it.each<[string, Record<string, unknown>]>([
    ["now NaN", { now: Number.NaN }],
    ["now Infinity", { now: Number.POSITIVE_INFINITY }],
    ["now a string", { now: "2025-01-01" }],
    ["empty expected report data", { expectedReportData: new Uint8Array(0) }],
    ["expected report data as hex", { expectedReportData: "00ff" }],
    ["init-data digest as hex", { expectedInitDataDigest: "00ff" }],
  ])("%s", async (_what, change) => {
    for (const tee of ["snp", "tdx", "sample"]) {
      const input = { evidence: sample, expectedReportData: digest, now: snp.now, ...change } as never;
      await expect(verifierFor(tee, allow(true))!.verify(input)).rejects.toThrow(TypeError);
    }
  });
});

/** Only plain objects, arrays and primitives (what JSON and structured clone keep as they are). */
function plain(v: unknown): boolean {
  if (v === null || ["string", "number", "boolean"].includes(typeof v)) return true;
  if (Array.isArray(v)) return v.every(plain);
  return typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype && Object.values(v as object).every(plain);
}

describe("claims are plain JSON-safe data (they survive a Durable Object RPC)", () => {
  const snp = SNP_CASES.find((c) => c.name === "oak-turin-v5")!;
  const tdx = TDX_CASES.find((c) => c.dir === "automata-v5-td15-90c06f-alibaba")!;
  const runs: [string, () => Promise<{ ok: boolean; value?: TeeClaims }>][] = [
    ["snp", () => verifierFor("snp", allow(false)).verify({ evidence: snpJsonWithChain(snp), expectedReportData: snp.reportData, expectedInitDataDigest: new Uint8Array(32), now: snp.now })],
    ["tdx", () => verifierFor("tdx", { collateral: fakeCollateral({ tdx: tdx.files }), allowSample: false }).verify({ evidence: tdxJson(tdx.quote), expectedReportData: tdx.reportData, expectedInitDataDigest: new Uint8Array(48), now: tdx.now })],
    ["sample", () => verifierFor("sample", allow(true)).verify({ evidence: sample, expectedReportData: digest, expectedInitDataDigest: digest, now: 0 })],
  ];
  it.each(runs)("%s: structuredClone and JSON give the same claims back", async (_tee, run) => {
    const r = await run();
    if (!r.ok || !r.value) throw new Error("did not verify");
    expect(plain(r.value)).toBe(true);
    expect(structuredClone(r.value)).toEqual(r.value);
    expect(JSON.parse(JSON.stringify(r.value))).toEqual(r.value);
    expect(typeof r.value.initDataDigest).toBe("string");
  });

  it("inputs also cross structured clone: a cloned VerifyInput verifies the same", async () => {
    const input = { evidence: snpJsonWithChain(snp), expectedReportData: snp.reportData, now: snp.now };
    const direct = await verifierFor("snp", allow(false)).verify(input);
    const cloned = await verifierFor("snp", allow(false)).verify(structuredClone(input));
    expect(cloned).toEqual(direct);
  });

  it("the CollateralStore Durable Object stub can be passed as the CollateralProvider (compile-time)", () => {
    const asProvider = (stub: DurableObjectStub<CollateralStore>): CollateralProvider => stub;
    expect(typeof asProvider).toBe("function");
  });
});

describe("fuzz: the sample and TDX evidence readers never throw", () => {
  const tdx = TDX_CASES[0]!;
  const tdxBase = tdxJson(tdx.quote) as Record<string, unknown>;
  /** A replacement value: junk of every JSON type, or a prefix of the original quote. */
  const junk = (rand: () => number): unknown => {
    const quote = (tdxBase.quote as string).slice(0, Math.floor(rand() * (tdxBase.quote as string).length));
    const pick = [null, 1, -1, "", "AAAA", "=", "A===", [], {}, true, quote, sample.report_data, toBase64(tdx.quote.subarray(0, Math.floor(rand() * 9000)))];
    return pick[Math.floor(rand() * pick.length)];
  };
  const mutant = (rand: () => number, base: Record<string, unknown>): unknown => {
    if (rand() < 0.05) return junk(rand);
    const m: Record<string, unknown> = { ...base };
    const key = ["svn", "report_data", "quote", "cc_eventlog", "x"][Math.floor(rand() * 5)]!;
    if (rand() < 0.2) delete m[key];
    else m[key] = junk(rand);
    return m;
  };

  it("sample: 3,000 mutants through the verifier", async () => {
    const rand = prng(0x5a3);
    const v = verifierFor("sample", allow(true));
    const seen = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const r = await v.verify({ evidence: mutant(rand, sample), expectedReportData: digest, now: 0 });
      seen.set(code(r), (seen.get(code(r)) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(["malformed_evidence", "ok", "report_data_mismatch"]);
    expect(Math.min(...seen.values())).toBeGreaterThan(100);
  });

  it("tdx: 3,000 mutants through the evidence reader, 150 through the verifier", async () => {
    const rand = prng(0x7d5);
    const seen = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const r = parseTdxEvidence(mutant(rand, tdxBase));
      seen.set(code(r), (seen.get(code(r)) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(["malformed_evidence", "ok"]);
    expect(Math.min(...seen.values())).toBeGreaterThan(300);
    const v = verifierFor("tdx", { collateral: fakeCollateral({ tdx: tdx.files }), allowSample: false });
    const codes = new Set<string>();
    for (let i = 0; i < 150; i++) codes.add(code(await v.verify({ evidence: mutant(rand, tdxBase), expectedReportData: tdx.reportData, now: tdx.now })));
    expect(codes.has("malformed_evidence") && codes.has("quote_truncated") && codes.has("ok")).toBe(true);
  }, 20_000);
});
