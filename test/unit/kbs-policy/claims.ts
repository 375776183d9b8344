/**
 * TeeClaims for the policy tests, built from what the real verifiers return on the real vectors in
 * test/fixtures (each verified at its vector time), mapped by hand to the TeeClaims contract
 * (lib/attestation/verifier.ts; `initDataDigest` is the HOST_DATA / MRCONFIGID field that matched).
 * Sample claims come from the real SampleVerifier on the §12 vector; a debug sample guest (which
 * that verifier never reports) is made by hand.
 */
import type { SnpClaims } from "../../../src/lib/attestation/snp";
import { SnpVerifier } from "../../../src/lib/attestation/snp/verify";
import { parseTdxCollateral } from "../../../src/lib/attestation/tdx/collateral";
import type { TdxClaims } from "../../../src/lib/attestation/tdx/claims";
import { TdxVerifier } from "../../../src/lib/attestation/tdx/verify";
import { SampleVerifier, type TeeClaims } from "../../../src/lib/attestation";
import { fromBase64, fromHex } from "../../../src/lib/encoding";
import { evidence } from "../snp/snp-fixtures";
import { loadVector } from "../tdx/tdx-fixtures";

export const SNP_VECTORS = ["gsg-milan-v2", "trustee-azure-milan-v2", "oak-milan-v3", "trustee-milan-vlek-v3", "oak-turin-v5"] as const;
export const TDX_VECTORS = ["automata-v5-td15-90c06f-alibaba", "phala-v4-b0c06f-uptodate", "automata-v4-00806f050000-col0625"] as const;

export function fromSnp(c: SnpClaims, initDataDigest?: string): TeeClaims {
  return {
    tee: "snp",
    evidenceClaims: c as unknown as Record<string, unknown>,
    reportData: c.report_data,
    measurement: c.measurement,
    debug: c.policy.debug,
    platformId: c.chip_id,
    ...(initDataDigest !== undefined ? { initDataDigest } : {}),
  };
}

export function fromTdx(c: TdxClaims, initDataDigest?: string): TeeClaims {
  return {
    tee: "tdx",
    evidenceClaims: c as unknown as Record<string, unknown>,
    reportData: c.report_data,
    measurement: c.mr_td,
    debug: c.td_attributes.debug,
    platformId: c.fmspc,
    tcbStatus: c.tcb_status,
    ...(initDataDigest !== undefined ? { initDataDigest } : {}),
  };
}

/** specs/kbs-protocol.md §12: the digest of the JCS runtime data, as the sample attester sends it. */
const SAMPLE_DIGEST = "1147b1af549c26b6863daf32fc064834beaa470ddb06fd5c57c44363cb2e86f11c4d80906326c2154d2b96d47de1ac62";
let sample: TeeClaims | undefined;

export async function verifiedSample(): Promise<TeeClaims> {
  const digest = fromHex(SAMPLE_DIGEST)!;
  const evidence = { svn: "1", report_data: "EUexr1ScJraGPa8y/AZINL6qRw3bBv1cV8RDY8suhvEcTYCQYybCFU0rltR94axi" };
  if (fromBase64(evidence.report_data)?.length !== 48) throw new Error("sample vector");
  const r = await new SampleVerifier({ allowSample: true }).verify({ evidence, expectedReportData: digest, now: 0 });
  if (!r.ok) throw new Error(r.error.reason);
  sample = r.value;
  return r.value;
}

/** The verified sample claims (call `verifiedSample` first), with a debug guest or init-data digest made by hand. */
export function sampleClaims(over: { debug?: boolean; initDataDigest?: string } = {}): TeeClaims {
  if (!sample) throw new Error("verifiedSample() first");
  return {
    ...sample,
    ...(over.debug !== undefined ? { debug: over.debug, evidenceClaims: { ...sample.evidenceClaims, debug: over.debug } } : {}),
    ...(over.initDataDigest !== undefined ? { initDataDigest: over.initDataDigest } : {}),
  };
}

export async function verifiedSnp(): Promise<Record<string, SnpClaims>> {
  const verifier = new SnpVerifier();
  const out: Record<string, SnpClaims> = {};
  for (const name of SNP_VECTORS) {
    const r = await verifier.verify(evidence(name));
    if (!r.ok) throw new Error(`${name}: ${r.error.reason}`);
    out[name] = r.value;
  }
  return out;
}

export async function verifiedTdx(): Promise<Record<string, TdxClaims>> {
  const verifier = new TdxVerifier();
  const out: Record<string, TdxClaims> = {};
  for (const dir of TDX_VECTORS) {
    const v = loadVector(dir);
    const collateral = await parseTdxCollateral(v.files);
    if (!collateral.ok) throw new Error(`${dir}: ${collateral.error.reason}`);
    const r = await verifier.verify({ quote: v.quote, collateral: collateral.value, now: v.now });
    if (!r.ok) throw new Error(`${dir}: ${r.error.reason}`);
    out[dir] = r.value;
  }
  return out;
}
