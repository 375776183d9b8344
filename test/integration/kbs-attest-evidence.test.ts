/**
 * The /attest path for real hardware evidence, in workerd: SEV-SNP and TDX evidence as guest-components
 * sends it, verified through the one verifier contract with collateral from the CollateralStore's
 * service (a fake KDS/PCS serving the vectors' real collateral at their times), appraised, and signed
 * as an attestation token by the CertificateAuthority object — everything /attest does after the
 * nonce check. The binding is the contract's expected-report-data input: the vector's own REPORT_DATA
 * (no session is forged).
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { verifierFor, type CollateralProvider } from "../../src/lib/attestation";
import { parseSnpReport, snpEvidenceJson } from "../../src/lib/attestation/snp";
import { parseTdxQuote } from "../../src/lib/attestation/tdx/quote";
import { tdxEvidenceJson } from "../../src/lib/attestation/tdx";
import { ManualClock } from "../../src/lib/clock";
import { toHex } from "../../src/lib/encoding";
import { appraise, parseAttestationPolicy } from "../../src/lib/kbs/attestation-policy";
import { earClaims } from "../../src/lib/kbs/ear";
import { verifyAttestationToken } from "../../src/lib/kbs/token";
import { generateTeeKeyPair, teePubKeyJwk } from "../../src/lib/kbs";
import { caFor } from "../../src/durable/addresses";
import { CollateralService } from "../../src/durable/collateral-service";
import type { CollateralStore } from "../../src/durable/collateral";
import { openDb } from "../../src/durable/db";
import * as schema from "../../src/durable/tables/collateral";
import migrations from "../../migrations/collateral/migrations.js";
import { parseTrustDomain, type TrustDomain } from "../../src/lib/spiffe/id";
import { fixture, fixtureText } from "../support/fixtures-workers";

const td = (parseTrustDomain("example.org") as { value: TrustDomain }).value;
const ISSUER = "signet-attestation-service:example.org";
const SNP_AT = Date.parse("2022-09-25T00:55:28Z");
const TDX = "tdx/automata-v5-td15-90c06f-alibaba";
const TDX_AT = Date.parse("2025-06-15T00:00:00Z");

function store(name: string): DurableObjectStub<CollateralStore> {
  const ns = env.COLLATERAL as DurableObjectNamespace<CollateralStore>;
  return ns.get(ns.idFromName(name));
}

function service(state: DurableObjectState, at: number, routes: Record<string, () => Response>): CollateralService {
  const fetch = async (url: string) => Object.entries(routes).find(([prefix]) => url.startsWith(prefix))?.[1]() ?? new Response("not found", { status: 404 });
  return new CollateralService({
    db: openDb(state, schema, migrations),
    storage: state.storage,
    fetch,
    clock: new ManualClock(at),
    sources: { kds: "https://kds.test", pcs: "https://pcs.test", rootCrl: "https://root.test/IntelSGXRootCA.der" },
  });
}

/** Everything /attest does after the nonce check, for evidence bound to `reportData`. */
async function attestPath(tee: "snp" | "tdx", collateral: CollateralProvider, evidence: unknown, reportData: Uint8Array, now: number, policyJson: unknown) {
  const verifier = verifierFor(tee, { collateral, allowSample: false });
  if (!verifier) throw new Error(`no verifier for ${tee}`);
  const verified = await verifier.verify({ evidence, expectedReportData: reportData, now });
  if (!verified.ok) return verified;
  const policy = parseAttestationPolicy(policyJson);
  if (!policy.ok) throw new Error(policy.error.detail);
  const appraisal = appraise(verified.value, policy.value, "restricted");
  const keys = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
  const claims = earClaims({
    claims: verified.value,
    appraisal,
    policyId: "default",
    runtimeData: { nonce: "n", teePubKey: { ...teePubKeyJwk(keys.teePubKey) } },
    issuer: ISSUER,
    now: Date.now(),
    lifetimeSeconds: 300,
  });
  const ca = caFor(env, td);
  const signed = await ca.signAttestationToken({ claims: claims as unknown as Record<string, unknown> });
  if (!signed.ok) throw new Error(signed.error.detail);
  const jwks = await ca.getAttestationKeys();
  if (!jwks.ok) throw new Error(jwks.error.detail);
  const token = await verifyAttestationToken({ token: signed.value.token, keys: jwks.value.keys, issuer: ISSUER, now: Date.now() });
  return { ok: true as const, appraisal, token };
}

describe("SEV-SNP evidence through the attest path", () => {
  const report = () => fixture("snp/gsg-milan-v2/report.bin");
  const routes = { "https://kds.test/vcek/v1/Milan/": () => new Response(fixture("snp/gsg-milan-v2/vcek.der")) };

  it("verifies with the VCEK the store fetches, appraises affirming against the measurement, and becomes a verifiable token", async () => {
    await runInDurableObject(store("kbs-snp"), async (_i, state) => {
      const svc = service(state, SNP_AT, routes);
      // The KDS serves this old vector's VCEK; its CRL from that time is not in the fixtures, so the
      // provider here offers none (the deployment's store always does, and a failed CRL fails closed).
      const collateral: CollateralProvider = { snpVcek: (i) => svc.snpVcek(i), tdxCollateral: (i) => svc.tdxCollateral(i) };
      const parsed = parseSnpReport(report());
      if (!parsed.ok) throw new Error(parsed.error.detail);
      const evidence = snpEvidenceJson(parsed.value);
      if (!evidence.ok) throw new Error(evidence.error.detail);
      const reportData = parsed.value.reportData;
      const measurement = toHex(parsed.value.measurement);
      // gsg-milan-v2 is a debug guest: allowed by this policy, so configuration is a warning at best.
      const r = await attestPath("snp", collateral, JSON.parse(JSON.stringify(evidence.value)), reportData, SNP_AT, { version: 1, snp: { measurements: [measurement], allow_debug: true } });
      if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
      expect(r.appraisal.trustVector.executables).toBe(2);
      expect(r.appraisal.trustVector.hardware).toBe(2);
      expect(r.token.ok).toBe(true);

      // Another binding: refused by the contract with report_data_mismatch.
      const other = reportData.slice();
      other[0]! ^= 1;
      const refused = await attestPath("snp", collateral, evidence.value, other, SNP_AT, { version: 1 });
      expect(refused).toMatchObject({ ok: false, error: { reason: "report_data_mismatch" } });
    });
  });
});

describe("TDX evidence through the attest path", () => {
  const chain = (name: string) => encodeURIComponent(fixtureText(`${TDX}/${name}`));
  const routes = {
    "https://pcs.test/tdx/certification/v4/tcb?fmspc=90c06f000000": () => new Response(fixture(`${TDX}/tcb_info.json`), { headers: { "TCB-Info-Issuer-Chain": chain("tcb_info_issuer_chain.pem") } }),
    "https://pcs.test/tdx/certification/v4/qe/identity": () => new Response(fixture(`${TDX}/qe_identity.json`), { headers: { "SGX-Enclave-Identity-Issuer-Chain": chain("qe_identity_issuer_chain.pem") } }),
    "https://pcs.test/sgx/certification/v4/pckcrl?ca=platform&encoding=der": () => new Response(fixture(`${TDX}/pck_crl.der`), { headers: { "SGX-PCK-CRL-Issuer-Chain": chain("pck_crl_issuer_chain.pem") } }),
    "https://root.test/IntelSGXRootCA.der": () => new Response(fixture(`${TDX}/root_ca_crl.der`)),
  };

  it("verifies with the collateral the store assembles from PCS, appraises affirming against MR_TD, and becomes a verifiable token", async () => {
    await runInDurableObject(store("kbs-tdx"), async (_i, state) => {
      const svc = service(state, TDX_AT, routes);
      const collateral: CollateralProvider = { snpVcek: (i) => svc.snpVcek(i), tdxCollateral: (i) => svc.tdxCollateral(i) };
      const quote = fixture(`${TDX}/quote.bin`);
      const parsed = parseTdxQuote(quote);
      if (!parsed.ok) throw new Error(parsed.error.detail);
      const mrTd = toHex(parsed.value.body.mrTd);
      const r = await attestPath("tdx", collateral, tdxEvidenceJson(quote), parsed.value.body.reportData, TDX_AT, { version: 1, tdx: { mr_td: [mrTd], accepted_tcb_statuses: ["UpToDate"] } });
      if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
      expect(r.appraisal.status).toBe("affirming");
      expect(r.token.ok).toBe(true);
      if (r.token.ok) expect((r.token.value.submods as Record<string, Record<string, unknown>>).cpu0!["ear.status"]).toBe("affirming");

      // Another MR_TD in the policy: the token says contraindicated (the resource policy then denies).
      const denied = await attestPath("tdx", collateral, tdxEvidenceJson(quote), parsed.value.body.reportData, TDX_AT, { version: 1, tdx: { mr_td: ["00".repeat(48)], accepted_tcb_statuses: ["UpToDate"] } });
      if (!denied.ok) throw new Error(denied.error.reason);
      expect(denied.appraisal.status).toBe("contraindicated");

      const other = parsed.value.body.reportData.slice();
      other[63]! ^= 1;
      expect(await attestPath("tdx", collateral, tdxEvidenceJson(quote), other, TDX_AT, { version: 1 })).toMatchObject({ ok: false, error: { reason: "report_data_mismatch" } });
    });
  });
});
