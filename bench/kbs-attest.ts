/**
 * The key broker's /attest path for SNP and TDX evidence with warm collateral, for scripts/bench.mjs
 * (run in workerd). Each entry runs `n` attestations and returns how many were accepted.
 *
 * One attestation is what `appraiseAttestation` (src/workers/kbs-flow.ts) does after the nonce
 * check, minus its Durable Object round trips (the policy read, the CA's token signature and the
 * audit record are RPCs there; here the policy is a stored JSON text and the token is signed with a
 * local P-256 key):
 *   verifierFor(tee, { collateral, allowSample: false }).verify(evidence JSON, expected report data)
 *   → the stored policy parsed (JSON.parse + parseAttestationPolicy, as attestationPolicy does)
 *   → appraise (restricted profile; a policy with the vector's measurement) → earClaims
 *   → signAttestationToken (ES256).
 * The evidence is guest-components' JSON form (snpEvidenceJson / tdxEvidenceJson) of the bench
 * vectors, already parsed (as the Worker holds it after reading the body). The expected report data
 * is the vector's own REPORT_DATA: a real session's would be H(JCS(runtime data)), which these
 * vectors were not made for. The CollateralProvider serves the fixtures' collateral from memory, a
 * fresh copy per call (as the CollateralStore's RPC answers once it has fetched them): warm.
 *
 * Beside them, the limits of scripts/bench.mjs: `snp/p384-verify` and `tdx/p256-verify`.
 */
import { verifierFor, type CollateralProvider, type TeeType } from "../src/lib/attestation";
import { parseSnpReport, snpEvidenceJson } from "../src/lib/attestation/snp";
import { parseTdxQuote, tdxEvidenceJson } from "../src/lib/attestation/tdx";
import { fromBase64 } from "../src/lib/encoding";
import { appraise, parseAttestationPolicy } from "../src/lib/kbs/attestation-policy";
import { earClaims } from "../src/lib/kbs/ear";
import { ATTESTATION_TOKEN_SECONDS, signAttestationToken } from "../src/lib/kbs/token";
import { ok } from "../src/lib/result";
import type { JwksKey } from "../src/lib/spiffe/bundle";
import { SNP_BENCH_AT, SNP_BENCH_CRL_B64, SNP_BENCH_REPORT_B64, SNP_BENCH_VCEK_B64 } from "./snp-fixture";
import { TDX_BENCH_FIXTURE } from "./tdx-fixture";

function decode(b64: string): Uint8Array {
  const bytes = fromBase64(b64);
  if (!bytes) throw new Error("bad embedded base64");
  return bytes;
}

const ISSUER = "signet-attestation-service:example.org";
const POLICY_ID = "default";
/** A guest's runtime data as the token carries it (the key is a fixed P-256 point). */
const RUNTIME_DATA = {
  nonce: "bench-nonce-bench-nonce-bench-nonce-bench-0=",
  teePubKey: { kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" },
  additionalEvidence: "",
};

interface Vector {
  readonly tee: TeeType;
  readonly evidence: unknown;
  readonly reportData: Uint8Array;
  readonly now: number;
  readonly collateral: CollateralProvider;
  /** The attestation policy's fields for this TEE, beside the measurement the first verification reads. */
  readonly policy: (measurement: string) => Record<string, unknown>;
}

const noCollateral = async () => ({ ok: false as const, error: { reason: "collateral_unavailable" as const, detail: "not in the bench" } });

function snpVector(): Vector {
  const report = parseSnpReport(decode(SNP_BENCH_REPORT_B64));
  if (!report.ok) throw new Error(`bench SNP report: ${report.error.reason}`);
  const evidence = snpEvidenceJson(report.value);
  if (!evidence.ok) throw new Error(`bench SNP evidence JSON: ${evidence.error.detail}`);
  const vcek = decode(SNP_BENCH_VCEK_B64);
  const crl = decode(SNP_BENCH_CRL_B64);
  return {
    tee: "snp",
    evidence: evidence.value,
    reportData: report.value.reportData.slice(),
    now: SNP_BENCH_AT,
    collateral: { snpVcek: async () => ok({ der: vcek.slice() }), snpCrl: async () => ok({ der: crl.slice() }), tdxCollateral: noCollateral },
    policy: (measurement) => ({ snp: { measurements: [measurement] } }),
  };
}

function tdxVector(): Vector {
  const quote = decode(TDX_BENCH_FIXTURE.quote);
  const parsed = parseTdxQuote(quote);
  if (!parsed.ok) throw new Error(`bench TDX quote: ${parsed.error.reason}`);
  const files = Object.fromEntries(Object.entries(TDX_BENCH_FIXTURE.files).map(([name, b64]) => [name, decode(b64)]));
  const copy = () => Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, bytes.slice()]));
  return {
    tee: "tdx",
    evidence: tdxEvidenceJson(quote),
    reportData: parsed.value.body.reportData.slice(),
    now: Date.parse(TDX_BENCH_FIXTURE.verificationTime),
    collateral: { snpVcek: noCollateral, tdxCollateral: async () => ok({ files: copy() }) },
    // The vector's platform is OutOfDate: accepted here, so the appraisal is affirming.
    policy: (measurement) => ({ tdx: { mr_td: [measurement], accepted_tcb_statuses: ["UpToDate", TDX_BENCH_FIXTURE.expectedTcbStatus] } }),
  };
}

interface Setup {
  readonly vector: Vector;
  /** The policy as the Registry stores it (JSON text). */
  readonly policyText: string;
  readonly key: CryptoKey;
  readonly signer: { readonly kid: string; readonly publicJwk: JwksKey };
}

let signing: Promise<Pick<Setup, "key" | "signer">> | undefined;
function signingKey(): Promise<Pick<Setup, "key" | "signer">> {
  signing ??= (async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
    const publicJwk: JwksKey = { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y!, kid: "bench-attestation-key", alg: "ES256", use: "sig" };
    return { key: pair.privateKey, signer: { kid: publicJwk.kid, publicJwk } };
  })();
  return signing;
}

/** One attestation: the /attest path after the nonce check. Returns whether it was accepted. */
async function attestOnce(s: Setup): Promise<boolean> {
  const { vector } = s;
  const verifier = verifierFor(vector.tee, { collateral: vector.collateral, allowSample: false });
  if (!verifier) return false;
  const verified = await verifier.verify({ evidence: vector.evidence, expectedReportData: vector.reportData, now: vector.now });
  if (!verified.ok) return false;
  const policy = parseAttestationPolicy(JSON.parse(s.policyText));
  if (!policy.ok) return false;
  const appraisal = appraise(verified.value, policy.value, "restricted");
  const claims = earClaims({
    claims: verified.value,
    appraisal,
    policyId: POLICY_ID,
    runtimeData: { nonce: RUNTIME_DATA.nonce, teePubKey: { ...RUNTIME_DATA.teePubKey }, additionalEvidence: RUNTIME_DATA.additionalEvidence },
    issuer: ISSUER,
    now: vector.now,
    lifetimeSeconds: ATTESTATION_TOKEN_SECONDS,
  });
  const token = await signAttestationToken(s.key, s.signer, claims as unknown as Record<string, unknown>);
  return appraisal.status === "affirming" && token.length > 0;
}

const setups = new Map<TeeType, Promise<Setup>>();
function setup(tee: "snp" | "tdx"): Promise<Setup> {
  let s = setups.get(tee);
  if (!s) {
    s = (async () => {
      const vector = tee === "snp" ? snpVector() : tdxVector();
      const verifier = verifierFor(vector.tee, { collateral: vector.collateral, allowSample: false });
      // The first verification warms the verifier's caches (chain, CRL, collateral trust); not measured.
      const first = await verifier!.verify({ evidence: vector.evidence, expectedReportData: vector.reportData, now: vector.now });
      if (!first.ok) throw new Error(`bench ${tee} evidence does not verify: ${first.error.reason}: ${first.error.detail}`);
      const policy = parseAttestationPolicy({ version: 1, ...vector.policy(first.value.measurement) });
      if (!policy.ok) throw new Error(`bench ${tee} policy: ${policy.error.detail}`);
      const ready: Setup = { vector, policyText: JSON.stringify(policy.value), ...(await signingKey()) };
      if (!(await attestOnce(ready))) throw new Error(`bench ${tee} attestation is not affirming`);
      return ready;
    })();
    setups.set(tee, s);
  }
  return s;
}

async function run(tee: "snp" | "tdx", n: number): Promise<number> {
  const s = await setup(tee);
  let accepted = 0;
  for (let i = 0; i < n; i++) if (await attestOnce(s)) accepted++;
  return accepted;
}

export const kbsBench: Record<string, (n: number) => Promise<number>> = {
  "attest-snp-warm": (n) => run("snp", n),
  "attest-tdx-warm": (n) => run("tdx", n),
};
