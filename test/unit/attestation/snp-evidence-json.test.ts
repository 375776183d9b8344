/**
 * The SNP evidence JSON (the sev crate's serde form): binary → JSON → binary is the identity on every
 * real report in test/fixtures/snp, JSON → binary → JSON on Trustee's real e2e evidence, and the
 * parser refuses every shape the serde form does not have (never throwing).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verifierFor } from "../../../src/lib/attestation";
import { parseSnpEvidence, parseSnpReport, snpEvidenceJson, SnpVerifier, type SnpReport } from "../../../src/lib/attestation/snp";
import { bytesEqual } from "../../../src/lib/x509/der-reader";
import { prng } from "../../support/prng";
import { bytes, SNP } from "../snp/snp-fixtures";
import { E2E_NOW, e2eEvidence, fakeCollateral, SNP_CASES, snpJson, wire } from "./contract-fixtures";

/** Every 1184-byte file under test/fixtures/snp that parses as a report (vectors, originals, negatives). */
function realReports(): { path: string; report: Uint8Array }[] {
  const out: { path: string; report: Uint8Array }[] = [];
  for (const f of readdirSync(SNP, { recursive: true }) as string[]) {
    if (!f.endsWith(".bin")) continue;
    const b = bytes(join(SNP, f));
    if (b.length === 1184 && parseSnpReport(b).ok) out.push({ path: f, report: b });
  }
  return out;
}

function mustParse(report: Uint8Array): SnpReport {
  const parsed = parseSnpReport(report);
  if (!parsed.ok) throw new Error(parsed.error.detail);
  return parsed.value;
}

describe("round trips", () => {
  const reports = realReports();
  it("finds the vectors' reports, their originals and the negatives that still parse", () => {
    // 9 report.bin, 3 originals of exactly 1184 bytes, and 4 same-length negatives per vector.
    expect(reports.length).toBeGreaterThanOrEqual(9 + 9 * 4);
    for (const c of SNP_CASES) expect(reports.some((r) => bytesEqual(r.report, c.report))).toBe(true);
  });

  it.each(realReports().map((r) => [r.path, r.report] as const))("%s: binary → serde JSON text → binary is identical", (_path, report) => {
    const json = snpEvidenceJson(mustParse(report));
    if (!json.ok) throw new Error(json.error.detail);
    const back = parseSnpEvidence(wire(json.value));
    if (!back.ok) throw new Error(back.error.detail);
    expect(bytesEqual(back.value.report, report)).toBe(true);
    expect(back.value.certChain).toBeNull();
  });

  it("Trustee's e2e evidence: JSON → binary → JSON gives the same fields (sev ≥ 6.3 adds the null mitigation vectors)", () => {
    const original = e2eEvidence();
    const parsed = parseSnpEvidence(original);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    const report = parseSnpReport(parsed.value.report);
    if (!report.ok) throw new Error(report.error.detail);
    const again = snpEvidenceJson(report.value, parsed.value.certChain);
    if (!again.ok) throw new Error(again.error.detail);
    const { launch_mit_vector, current_mit_vector, ...rest } = again.value.attestation_report;
    expect([launch_mit_vector, current_mit_vector]).toEqual([null, null]);
    expect(rest).toEqual(original.attestation_report);
    expect(wire(again.value.cert_chain)).toEqual(original.cert_chain);
    expect(Object.keys(rest)).toEqual(Object.keys(original.attestation_report as object)); // sev's field order
  });

  it("a field of Trustee's e2e evidence changed by one is a report whose signature no longer verifies", async () => {
    const fields = ["guest_svn", "vmpl", "plat_info", "policy"] as const;
    for (const f of fields) {
      const e = e2eEvidence() as { attestation_report: Record<string, number> };
      e.attestation_report[f] = e.attestation_report[f]! ^ (f === "policy" ? 1 << 19 : 1);
      const r = await verifierFor("snp", { collateral: fakeCollateral({}), allowSample: false, snp: new SnpVerifier() }).verify({
        evidence: e,
        expectedReportData: new Uint8Array(e.attestation_report.report_data as unknown as number[]),
        now: E2E_NOW,
      });
      expect([f, r.ok ? "ok" : r.error.reason]).toEqual([f, "bad_report_signature"]);
    }
  });

  it("refuses to put into JSON what the serde form cannot carry (a non-zero reserved TCB byte)", () => {
    const c = SNP_CASES.find((x) => x.name === "oak-milan-v3")!;
    const r = c.report.slice();
    r[0x180 + 3] = 1; // REPORTED_TCB byte 3: spl5 on Milan
    expect(snpEvidenceJson(mustParse(r))).toMatchObject({ ok: false, error: { reason: "malformed_evidence" } });
  });
});

type Report = Record<string, unknown>;
const base = (name: string) => snpJson(SNP_CASES.find((c) => c.name === name)!.report) as { attestation_report: Report; cert_chain: unknown };

describe("parser: shapes the serde form does not have → malformed_evidence (or the binary parser's code)", () => {
  const edit = (name: string, f: (r: Report, e: { attestation_report: Report; cert_chain: unknown }) => void) => {
    const e = base(name);
    f(e.attestation_report, e);
    return e;
  };
  const cases: [string, unknown, string][] = [
    ["not an object", "evidence", "malformed_evidence"],
    ["an array", [], "malformed_evidence"],
    ["no attestation_report", { cert_chain: null }, "malformed_evidence"],
    ["attestation_report is a string", { attestation_report: "AAAA" }, "malformed_evidence"],
    ["version missing", edit("oak-milan-v3", (r) => delete r.version), "malformed_evidence"],
    ["version as a string", edit("oak-milan-v3", (r) => (r.version = "3")), "malformed_evidence"],
    ["version 6 (the binary parser refuses it)", edit("oak-genoa-v5", (r) => (r.version = 6)), "unsupported_version"],
    ["version 1 in the v5 shape", edit("oak-genoa-v5", (r) => (r.version = 1)), "unsupported_version"],
    ["version 1 in the v2 shape (sev writes unknown versions in the v5 layout, which has CPUID)", edit("gsg-milan-v2", (r) => (r.version = 1)), "malformed_evidence"],
    ["guest_svn negative", edit("oak-milan-v3", (r) => (r.guest_svn = -1)), "malformed_evidence"],
    ["guest_svn 2^32", edit("oak-milan-v3", (r) => (r.guest_svn = 2 ** 32)), "malformed_evidence"],
    ["vmpl fractional", edit("oak-milan-v3", (r) => (r.vmpl = 0.5)), "malformed_evidence"],
    ["policy above 2^53", edit("oak-milan-v3", (r) => (r.policy = 2 ** 60)), "malformed_evidence"],
    ["report_data 63 bytes", edit("oak-milan-v3", (r) => (r.report_data = (r.report_data as number[]).slice(1))), "malformed_evidence"],
    ["report_data with 256", edit("oak-milan-v3", (r) => ((r.report_data as number[])[0] = 256)), "malformed_evidence"],
    ["measurement as hex", edit("oak-milan-v3", (r) => (r.measurement = "00".repeat(48))), "malformed_evidence"],
    ["chip_id missing", edit("oak-milan-v3", (r) => delete r.chip_id), "malformed_evidence"],
    ["a v3 report without CPUID", edit("oak-milan-v3", (r) => (r.cpuid_fam_id = null)), "malformed_evidence"],
    ["a v2 report with CPUID", edit("gsg-milan-v2", (r) => (r.cpuid_fam_id = 0x19)), "malformed_evidence"],
    ["a CPUID of no known product", edit("oak-milan-v3", (r) => (r.cpuid_fam_id = 0x17)), "unsupported_product"],
    ["fmc on a Milan TCB", edit("oak-milan-v3", (r) => ((r.reported_tcb as Report).fmc = 0)), "malformed_evidence"],
    ["no fmc on a Turin TCB", edit("oak-turin-v5", (r) => ((r.launch_tcb as Report).fmc = null)), "malformed_evidence"],
    ["a TCB component missing", edit("oak-genoa-v5", (r) => delete (r.current_tcb as Report).snp), "malformed_evidence"],
    ["a TCB as a number", edit("oak-genoa-v5", (r) => (r.committed_tcb = 0)), "malformed_evidence"],
    ["mitigation vectors on a v3 report", edit("oak-milan-v3", (r) => (r.launch_mit_vector = 0)), "malformed_evidence"],
    ["a mitigation vector as a string", edit("oak-genoa-v5", (r) => (r.current_mit_vector = "0")), "malformed_evidence"],
    ["firmware without build", edit("oak-milan-v3", (r) => delete (r.current as Report).build), "malformed_evidence"],
    ["signature r of 48 bytes", edit("oak-milan-v3", (r) => ((r.signature as Report).r = new Array(48).fill(0))), "malformed_evidence"],
    ["signature missing", edit("oak-milan-v3", (r) => delete r.signature), "malformed_evidence"],
    ["signature s too large (the binary parser refuses it)", edit("oak-milan-v3", (r) => ((r.signature as Report).s = new Array(72).fill(1))), "bad_report_signature"],
    ["cert_chain an object", edit("oak-milan-v3", (_r, e) => (e.cert_chain = {})), "malformed_evidence"],
    ["cert_chain entry without data", edit("oak-milan-v3", (_r, e) => (e.cert_chain = [{ cert_type: "VCEK" }])), "malformed_evidence"],
    ["cert_chain data as base64", edit("oak-milan-v3", (_r, e) => (e.cert_chain = [{ cert_type: "VCEK", data: "MIIF" }])), "malformed_evidence"],
    ["cert_chain type as a number", edit("oak-milan-v3", (_r, e) => (e.cert_chain = [{ cert_type: 3, data: [] }])), "malformed_evidence"],
    ["cert_chain of 17 entries", edit("oak-milan-v3", (_r, e) => (e.cert_chain = new Array(17).fill({ cert_type: "ASK", data: [1] }))), "malformed_evidence"],
  ];
  it.each(cases.map(([what, evidence, expected]) => [what, expected, evidence] as const))("%s → %s", async (_what, expected, evidence) => {
    const parsed = parseSnpEvidence(evidence);
    const code = parsed.ok ? (parseSnpReport(parsed.value.report).ok ? "ok" : (parseSnpReport(parsed.value.report) as { error: { reason: string } }).error.reason) : parsed.error.reason;
    expect(code).toBe(expected);
  });

  it("accepts what serde accepts: absent Option fields, unknown keys, bigint u64s, {OTHER: uuid} entries", () => {
    const e = base("oak-milan-v3");
    delete e.attestation_report.launch_mit_vector;
    delete (e.attestation_report.current_tcb as Report).fmc;
    e.attestation_report.future_field = [1, 2, 3];
    e.attestation_report.policy = BigInt(e.attestation_report.policy as number);
    e.cert_chain = [{ cert_type: { OTHER: "00000000-0000-0000-0000-000000000001" }, data: [1, 2] }];
    const parsed = parseSnpEvidence(e);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    expect(bytesEqual(parsed.value.report, SNP_CASES.find((c) => c.name === "oak-milan-v3")!.report)).toBe(true);
    expect(parsed.value.certChain).toEqual([{ certType: "OTHER", data: new Uint8Array([1, 2]) }]);
  });
});

/** A random JSON-ish value. */
function junk(rand: () => number): unknown {
  const k = Math.floor(rand() * 9);
  return [null, true, -1, 2 ** 53, 256, "", "x", [], {}][k];
}

/** One structural mutation somewhere in a JSON value: replace, delete, retype or resize. */
function mutateJson(v: unknown, rand: () => number): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0 || rand() < 0.15) return rand() < 0.5 ? v.slice(0, Math.floor(rand() * v.length)) : [...v, junk(rand)];
    const i = Math.floor(rand() * v.length);
    const out = v.slice();
    out[i] = mutateJson(v[i], rand);
    return out;
  }
  if (typeof v === "object" && v !== null) {
    const keys = Object.keys(v);
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    if (keys.length === 0 || rand() < 0.1) {
      out[`k${Math.floor(rand() * 4)}`] = junk(rand);
      return out;
    }
    const key = keys[Math.floor(rand() * keys.length)]!;
    if (rand() < 0.15) delete out[key];
    else out[key] = mutateJson(out[key], rand);
    return out;
  }
  if (typeof v === "number" && rand() < 0.6) return rand() < 0.5 ? v ^ (1 << Math.floor(rand() * 8)) : v + 1;
  return junk(rand);
}

describe("fuzz: the SNP evidence parser", () => {
  it("never throws on 5,000 mutated evidence documents, and every refusal is a known code", () => {
    const rand = prng(0x5a7);
    const bases: unknown[] = [e2eEvidence(), ...SNP_CASES.map((c) => snpJson(c.report, [{ certType: c.signer.toUpperCase(), data: c.cert }]))];
    const seen = new Map<string, number>();
    let rebuilt = 0;
    for (let i = 0; i < 5000; i++) {
      let m: unknown = bases[i % bases.length];
      const rounds = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < rounds; j++) m = mutateJson(m, rand);
      const r = parseSnpEvidence(m);
      if (r.ok) {
        rebuilt++;
        if (r.value.report.length !== 1184) throw new Error(`bad rebuild at ${i}`);
      } else seen.set(r.error.reason, (seen.get(r.error.reason) ?? 0) + 1);
    }
    expect([...seen.keys()].every((k) => k === "malformed_evidence" || k === "unsupported_product")).toBe(true);
    // Both outcomes happen often enough for the sweep to mean something.
    expect(rebuilt).toBeGreaterThan(500);
    expect(seen.get("malformed_evidence")).toBeGreaterThan(1000);
  });

  it("no mutant that changes the rebuilt report verifies (600 mutants through verifierFor)", async () => {
    const rand = prng(0xe2e);
    const original = e2eEvidence();
    const originalReport = (parseSnpEvidence(original) as { value: { report: Uint8Array } }).value.report;
    const verifier = verifierFor("snp", { collateral: fakeCollateral({}), allowSample: false, snp: new SnpVerifier() });
    const reportData = new Uint8Array((original.attestation_report as { report_data: number[] }).report_data);
    let changed = 0;
    for (let i = 0; i < 600; i++) {
      const m = mutateJson(original, rand);
      const parsed = parseSnpEvidence(m);
      const r = await verifier.verify({ evidence: m, expectedReportData: reportData, now: E2E_NOW });
      if (parsed.ok && !bytesEqual(parsed.value.report, originalReport)) {
        changed++;
        if (r.ok) throw new Error(`a changed report verified at ${i}`);
      }
    }
    expect(changed).toBeGreaterThan(60);
  }, 20_000);
});
