/**
 * SEV-SNP through the verifier contract (`verifierFor("snp")`): every real vector in
 * test/fixtures/snp and Trustee's e2e evidence, in guest-components' JSON form, bound by the
 * contract's expected report data (no forged session), at the vectors' times.
 */
import { describe, expect, it } from "vitest";
import { verifierFor, type TeeVerifier, type VerifyInput } from "../../../src/lib/attestation";
import { SnpVerifier, type SnpClaims } from "../../../src/lib/attestation/snp";
import { toHex } from "../../../src/lib/encoding";
import { bytes, CRLS } from "../snp/snp-fixtures";
import { E2E_NOW, e2eEvidence, fakeCollateral, flipped, SNP_CASES, snpJson, snpJsonWithChain, trimmed, type FakeCollateral, type SnpCase } from "./contract-fixtures";

const warm = new SnpVerifier();
const snp = (c: FakeCollateral = {}): TeeVerifier<SnpClaims> => verifierFor("snp", { collateral: fakeCollateral(c), allowSample: false, snp: warm });

async function verify(c: FakeCollateral, input: VerifyInput) {
  return snp(c).verify(input);
}

const reason = (r: { ok: boolean; error?: { reason: string } }) => (r.ok ? "ok" : r.error!.reason);

describe("every real SNP vector passes when REPORT_DATA is the expected binding", () => {
  it.each(SNP_CASES.map((c) => [c.name, c] as const))("%s (endorsement key in cert_chain)", async (_name, c) => {
    const r = await verify({}, { evidence: snpJsonWithChain(c), expectedReportData: trimmed(c.reportData), now: c.now });
    if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
    const claims = r.value;
    expect(claims).toMatchObject({ tee: "snp", reportData: toHex(c.reportData), debug: claims.evidenceClaims.policy.debug, platformId: toHex(c.report.subarray(0x1a0, 0x1e0)) });
    expect(claims.measurement).toBe(toHex(c.report.subarray(0x90, 0xc0)));
    expect(claims.evidenceClaims).toMatchObject({ product: c.product, signer: c.signer, version: c.version });
    expect(claims.initDataDigest).toBeUndefined();
    expect(claims.tcbStatus).toBeUndefined();
  });

  const lookups = SNP_CASES.filter((c) => c.signer === "vcek" && !c.chipMasked);
  it.each(lookups.map((c) => [c.name, c] as const))("%s (VCEK from the collateral provider, asked for the report's chip, TCB and product)", async (_name, c) => {
    const provider = fakeCollateral({ vcek: c.cert });
    const r = await verifierFor("snp", { collateral: provider, allowSample: false, snp: warm }).verify({ evidence: snpJson(c.report), expectedReportData: c.reportData, now: c.now });
    if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
    // A v2 report names no product: Milan is asked first, and answers here.
    expect(provider.calls).toHaveLength(1);
    const asked = provider.calls[0]!.input as { product: string; chipId: Uint8Array; tcb: Record<string, number> };
    expect([asked.product, toHex(asked.chipId)]).toEqual([c.product, toHex(c.report.subarray(0x1a0, 0x1e0))]);
    expect(asked.tcb).toMatchObject({ bootloader: r.value.evidenceClaims.reported_tcb.bootloader, snp: r.value.evidenceClaims.reported_tcb.snp, microcode: r.value.evidenceClaims.reported_tcb.microcode });
    expect("fmc" in asked.tcb).toBe(c.product === "Turin");
  });
  it("covers every vector, and the lookup path all VCEK vectors with a CHIP_ID", () => {
    expect([SNP_CASES.length, lookups.length]).toEqual([9, 8]);
  });

  it("Trustee's e2e evidence (guest-components JSON, VCEK in cert_chain) verifies as sent", async () => {
    const evidence = e2eEvidence();
    const reportData = new Uint8Array((evidence.attestation_report as { report_data: number[] }).report_data);
    const r = await verify({}, { evidence, expectedReportData: reportData, now: E2E_NOW });
    if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
    expect(r.value.evidenceClaims).toMatchObject({ product: "Genoa", version: 3, vmpl: 0, cpuid: { family: 0x19, model: 0xa0, stepping: 2 }, reported_tcb: { bootloader: 10, tee: 0, snp: 23, microcode: 25 } });
    expect(r.value.evidenceClaims.current_firmware.version).toBe("1.55.40");
    expect(r.value.platformId.startsWith("371c55d6d15cb50f")).toBe(true);
    // With the Genoa CRL current at that time, and asked for the VCEK chain's CRL of Genoa.
    const provider = fakeCollateral({ crl: bytes(`${CRLS}/amd-genoa-crl.der`) });
    const withCrl = await verifierFor("snp", { collateral: provider, allowSample: false }).verify({ evidence, expectedReportData: reportData, now: E2E_NOW });
    expect(reason(withCrl)).toBe("ok");
    expect(provider.calls).toEqual([{ method: "snpCrl", input: { product: "Genoa", signer: "vcek" } }]);
  });
});

describe("the binding: REPORT_DATA and HOST_DATA (negatives outnumber positives)", () => {
  const cases = SNP_CASES.map((c) => [c.name, c] as const);

  it.each(cases)("%s: the whole 64 bytes, and a longer digest truncated to 64, also bind", async (_name, c) => {
    const longer = new Uint8Array(80);
    longer.set(c.reportData);
    longer[70] = 0xff;
    for (const expectedReportData of [c.reportData, longer]) {
      expect(reason(await verify({}, { evidence: snpJsonWithChain(c), expectedReportData, now: c.now }))).toBe("ok");
    }
  });

  it.each(cases)("%s: a flipped byte, a missing zero byte of padding or a shifted digest → report_data_mismatch", async (_name, c) => {
    const t = trimmed(c.reportData);
    const wrong = [flipped(t, 0), flipped(t, t.length - 1), flipped(c.reportData, 63), t.slice(1), (() => {
      const shifted = new Uint8Array(t.length + 1);
      shifted.set(t, 1);
      return shifted;
    })()];
    for (const expectedReportData of wrong) {
      const r = await verify({}, { evidence: snpJsonWithChain(c), expectedReportData, now: c.now });
      expect(reason(r)).toBe("report_data_mismatch");
    }
  });

  it.each(cases)("%s: HOST_DATA binds its digest (zero here, padded or truncated to 32 bytes)", async (_name, c) => {
    expect(c.hostData.every((b) => b === 0)).toBe(true); // no real vector has non-zero HOST_DATA (see report-data.test.ts for one that does)
    for (const digest of [new Uint8Array(32), new Uint8Array(48), new Uint8Array(1)]) {
      const r = await verify({}, { evidence: snpJsonWithChain(c), expectedReportData: c.reportData, expectedInitDataDigest: digest, now: c.now });
      if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
      expect(r.value.initDataDigest).toBe("00".repeat(32));
    }
  });

  it.each(cases)("%s: a wrong init-data digest → init_data_mismatch", async (_name, c) => {
    const sha256Like = new Uint8Array(32).fill(0x5a);
    const onlyTail = new Uint8Array(32);
    onlyTail[31] = 1;
    for (const digest of [sha256Like, onlyTail, new Uint8Array(48).fill(1)]) {
      const r = await verify({}, { evidence: snpJsonWithChain(c), expectedReportData: c.reportData, expectedInitDataDigest: digest, now: c.now });
      expect(reason(r)).toBe("init_data_mismatch");
    }
  });

  it("the binding is checked after verification: a forged report with the right REPORT_DATA fails on its signature", async () => {
    const c = SNP_CASES.find((x) => x.name === "oak-milan-v3")!;
    const forged = c.report.slice();
    forged[0x90] = forged[0x90]! ^ 1; // MEASUREMENT
    const r = await verify({}, { evidence: snpJson(forged, [{ certType: "VCEK", data: c.cert }]), expectedReportData: c.reportData, now: c.now });
    expect(reason(r)).toBe("bad_report_signature");
  });
});

describe("where the endorsement key and the CRL come from", () => {
  const byName = (n: string): SnpCase => SNP_CASES.find((c) => c.name === n)!;
  const milan = byName("oak-milan-v3");
  const vlek = byName("trustee-milan-vlek-v3");
  const turin = byName("oak-turin-v5");
  const v2 = byName("gsg-milan-v2");
  const milanCrl = bytes(`${CRLS}/amd-milan-crl.der`);
  const genoaCrl = bytes(`${CRLS}/amd-genoa-crl.der`);
  const june2025 = Date.parse("2025-06-01T00:00:00Z");

  it.each<[string, SnpCase, FakeCollateral, number | undefined, string]>([
    ["a VLEK-signed report without its VLEK in cert_chain", vlek, { vcek: vlek.cert }, undefined, "missing_endorsement_key"],
    ["a masked CHIP_ID and no cert_chain", vlek, {}, undefined, "missing_endorsement_key"],
    ["the provider has no VCEK", milan, {}, undefined, "collateral_unavailable"],
    ["the provider answers with another chip's VCEK", milan, { vcek: byName("gsg-milan-v2").cert }, undefined, "bad_report_signature"],
    ["the provider answers with another product's VCEK", milan, { vcek: byName("tinfoil-genoa-v3").cert }, undefined, "product_mismatch"],
    ["the provider answers with a report instead of a VCEK", milan, { vcek: milan.report }, undefined, "malformed_endorsement_cert"],
    ["the provider answers with PEM that holds no certificate", milan, { vcek: new TextEncoder().encode("-----BEGIN CRL-----\nAAAA\n-----END CRL-----\n") }, undefined, "malformed_endorsement_cert"],
    ["a CRL the provider cannot get (fail closed)", milan, { vcek: milan.cert, fail: "crl" }, june2025, "collateral_unavailable"],
    ["another product's CRL", milan, { vcek: milan.cert, crl: genoaCrl }, june2025, "crl_issuer_mismatch"],
    ["a stale CRL", byName("tinfoil-genoa-v3"), { vcek: byName("tinfoil-genoa-v3").cert, crl: genoaCrl }, undefined, "crl_expired"],
    ["a CRL given as the VCEK", milan, { vcek: milanCrl }, undefined, "malformed_endorsement_cert"],
    ["a v2 report whose VCEK neither Milan nor Genoa lookups find", v2, {}, undefined, "collateral_unavailable"],
    ["a current Milan CRL (positive)", milan, { vcek: milan.cert, crl: milanCrl }, june2025, "ok"],
    ["a Turin report (positive, fmc in the lookup)", turin, { vcek: turin.cert }, undefined, "ok"],
  ])("%s → %s", async (_what, c, collateral, at, expected) => {
    const r = await verify(collateral, { evidence: snpJson(c.report), expectedReportData: c.reportData, now: at ?? c.now });
    expect(reason(r)).toBe(expected);
  });

  it("a v2 report asks Milan, then Genoa, and keeps the first provider error", async () => {
    const provider = fakeCollateral({});
    const r = await verifierFor("snp", { collateral: provider, allowSample: false }).verify({ evidence: snpJson(v2.report), expectedReportData: v2.reportData, now: v2.now });
    expect(r).toMatchObject({ ok: false, error: { reason: "collateral_unavailable", detail: "no VCEK (test)" } });
    expect(provider.calls.map((x) => (x.input as { product: string }).product)).toEqual(["Milan", "Genoa"]);
  });

  it("cert_chain: the entry of the report's signing key is used; ASK/ARK/other entries are ignored", async () => {
    const ask = bytes("test/fixtures/snp/amd_chains/milan/ask.pem");
    const chain = [{ certType: "ARK", data: ask }, { certType: "ASK", data: ask }, { certType: "OTHER", data: new Uint8Array([1]) }, { certType: "VLEK", data: vlek.cert }];
    const provider = fakeCollateral({});
    const ok = await verifierFor("snp", { collateral: provider, allowSample: false }).verify({ evidence: snpJson(vlek.report, chain), expectedReportData: vlek.reportData, now: vlek.now });
    expect([reason(ok), provider.calls.length]).toEqual(["ok", 0]);
    // A VCEK-signed report whose chain carries only a VLEK goes to the provider.
    const r = await verify({}, { evidence: snpJson(milan.report, [{ certType: "VLEK", data: vlek.cert }]), expectedReportData: milan.reportData, now: milan.now });
    expect(reason(r)).toBe("collateral_unavailable");
    // A chain VCEK of the wrong chip is judged like any VCEK.
    const wrong = await verify({ vcek: milan.cert }, { evidence: snpJson(milan.report, [{ certType: "VCEK", data: v2.cert }]), expectedReportData: milan.reportData, now: milan.now });
    expect(reason(wrong)).toBe("bad_report_signature");
  });

  it("a provider that returns something other than bytes is collateral_invalid", async () => {
    const bogus = { ...fakeCollateral({}), snpVcek: async () => ({ ok: true as const, value: { der: "MIIB" as unknown as Uint8Array } }) };
    const r = await verifierFor("snp", { collateral: bogus, allowSample: false }).verify({ evidence: snpJson(milan.report), expectedReportData: milan.reportData, now: milan.now });
    expect(reason(r)).toBe("collateral_invalid");
  });
});
