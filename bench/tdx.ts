/**
 * TDX benchmark operations, runtime-agnostic (bundled into the bench Worker for workerd; also runs in
 * Node). Each takes n and returns how many of the n operations succeeded.
 *
 * - "p256-verify": the ceiling — n raw WebCrypto ECDSA P-256/SHA-256 verifications of the real
 *   quote's signature with its (already imported) attestation key.
 * - "verify-warm": n full verifications of the same quote with a TdxVerifier whose caches are warm
 *   (collateral and PCK chain checked once beforehand), as a service verifies a stream of quotes.
 *
 * Contract (issue 4): verify-warm / p256-verify ≥ 0.33, i.e. a warm verification costs at most three
 * raw verifies. It costs one (the quote signature; the QE report's signature is the same in every
 * quote of a platform's attestation key, and its verification is cached by those bytes) plus parsing.
 */
import { parseTdxCollateral, type TdxCollateral } from "../src/lib/attestation/tdx/collateral";
import { parseTdxQuote } from "../src/lib/attestation/tdx/quote";
import { TdxVerifier } from "../src/lib/attestation/tdx/verify";
import { fromBase64 } from "../src/lib/encoding";
import { TDX_BENCH_FIXTURE } from "./tdx-fixture";

function bytes(b64: string): Uint8Array<ArrayBuffer> {
  const b = fromBase64(b64);
  if (!b) throw new Error("bad base64 in the TDX bench fixture");
  return b;
}

const QUOTE = bytes(TDX_BENCH_FIXTURE.quote);
const NOW = Date.parse(TDX_BENCH_FIXTURE.verificationTime);

interface RawSetup {
  readonly key: CryptoKey;
  readonly signature: Uint8Array<ArrayBuffer>;
  readonly signed: Uint8Array<ArrayBuffer>;
}

let raw: Promise<RawSetup> | undefined;
function rawSetup(): Promise<RawSetup> {
  raw ??= (async () => {
    const q = parseTdxQuote(QUOTE);
    if (!q.ok) throw new Error(`bench quote: ${q.error.reason}`);
    const point = new Uint8Array(65);
    point[0] = 0x04;
    point.set(q.value.attestationKey, 1);
    const key = await crypto.subtle.importKey("raw", point, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    return { key, signature: q.value.signature.slice(), signed: q.value.signedData.slice() };
  })();
  return raw;
}

interface WarmSetup {
  readonly verifier: TdxVerifier;
  readonly collateral: TdxCollateral;
}

let warm: Promise<WarmSetup> | undefined;
function warmSetup(): Promise<WarmSetup> {
  warm ??= (async () => {
    const files: Record<string, Uint8Array> = {};
    for (const [name, b64] of Object.entries(TDX_BENCH_FIXTURE.files)) files[name] = bytes(b64);
    const collateral = await parseTdxCollateral(files);
    if (!collateral.ok) throw new Error(`bench collateral: ${collateral.error.reason}`);
    const verifier = new TdxVerifier();
    // Warm the caches (collateral trust, PCK chain, attestation key); not measured.
    const first = await verifier.verify({ quote: QUOTE, collateral: collateral.value, now: NOW });
    if (!first.ok || first.value.tcb_status !== TDX_BENCH_FIXTURE.expectedTcbStatus) {
      throw new Error(`bench quote does not verify: ${first.ok ? first.value.tcb_status : first.error.reason}`);
    }
    return { verifier, collateral: collateral.value };
  })();
  return warm;
}

export const tdxBench: Record<string, (n: number) => Promise<number>> = {
  async "p256-verify"(n) {
    const { key, signature, signed } = await rawSetup();
    let verified = 0;
    for (let i = 0; i < n; i++) {
      if (await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, signed)) verified++;
    }
    return verified;
  },
  async "verify-warm"(n) {
    const { verifier, collateral } = await warmSetup();
    let verified = 0;
    for (let i = 0; i < n; i++) {
      const r = await verifier.verify({ quote: QUOTE, collateral, now: NOW });
      if (r.ok) verified++;
    }
    return verified;
  },
};
