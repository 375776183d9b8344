/**
 * SEV-SNP benchmarks for scripts/bench.mjs (run in workerd). Each entry runs `n` operations and
 * returns how many succeeded:
 * - `p384-verify`: the limit, raw WebCrypto ECDSA P-384/SHA-384 verifies of a real report's
 *   signature with its VCEK key (imported once);
 * - `verify-warm`: full verifications of the same report through SnpVerifier with warm collateral
 *   (VCEK chain and AMD's CRL cached): parse, validity, CRL, signature, binding, claims.
 */
import { fromBase64 } from "../src/lib/encoding";
import { parseSnpReport } from "../src/lib/attestation/snp/report";
import { SnpVerifier } from "../src/lib/attestation/snp/verify";
import { parseCertificate } from "../src/lib/x509/cert-reader";
import { SNP_BENCH_AT, SNP_BENCH_CRL_B64, SNP_BENCH_REPORT_B64, SNP_BENCH_VCEK_B64 } from "./snp-fixture";

function decode(b64: string): Uint8Array {
  const bytes = fromBase64(b64);
  if (!bytes) throw new Error("bad embedded base64");
  return bytes;
}

const report = decode(SNP_BENCH_REPORT_B64);
const vcek = decode(SNP_BENCH_VCEK_B64);
const crl = decode(SNP_BENCH_CRL_B64);

let raw: { key: CryptoKey; signature: Uint8Array; signed: Uint8Array } | undefined;

async function rawInputs(): Promise<NonNullable<typeof raw>> {
  if (!raw) {
    const parsed = parseSnpReport(report);
    const cert = parseCertificate(vcek);
    if (!parsed.ok || !cert.ok) throw new Error("embedded SNP evidence does not parse");
    const key = await crypto.subtle.importKey("spki", cert.value.spki as Uint8Array<ArrayBuffer>, { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"]);
    raw = { key, signature: parsed.value.signature, signed: parsed.value.signedBytes };
  }
  return raw;
}

const verifier = new SnpVerifier();

export const snpBench: Record<string, (n: number) => Promise<number>> = {
  async "p384-verify"(n) {
    const { key, signature, signed } = await rawInputs();
    let verified = 0;
    for (let i = 0; i < n; i++) {
      if (await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-384" }, key, signature as Uint8Array<ArrayBuffer>, signed as Uint8Array<ArrayBuffer>)) verified++;
    }
    return verified;
  },

  async "verify-warm"(n) {
    const input = { report, endorsementCert: vcek, crl, now: SNP_BENCH_AT };
    // Warm the collateral outside the timed loop's steady state (the first call verifies the chain and CRL).
    const first = await verifier.verify(input);
    if (!first.ok) throw new Error(`${first.error.reason}: ${first.error.detail}`);
    let verified = 0;
    for (let i = 0; i < n; i++) {
      const r = await verifier.verify(input);
      if (r.ok) verified++;
    }
    return verified;
  },
};
