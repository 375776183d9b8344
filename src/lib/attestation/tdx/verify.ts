/**
 * Intel TDX DCAP quote verification (specs/tdx.md §3, Intel QVL order), at a verification time that
 * is always a parameter. `TdxVerifier` is the warm path: it caches, bounded, the checks that depend
 * only on bytes it has seen before —
 *
 * - the collateral set's trust (root CRL, TCB Info / QE Identity signatures and signing chains, PCK
 *   CRL and its chain), keyed by the set's digest (SHA-256 of the exact file bytes; never by
 *   certificate serial: Intel re-issued the TCB signing certificate with the same serial), for sets
 *   made by `parseTdxCollateral`;
 * - the PCK chain's trust and its leaf key, keyed by SHA-256 of the chain bytes in the quote;
 * - imported attestation keys and SHA-256(key ‖ QE auth data), keyed by those bytes.
 *
 * Failures are cached like successes (they depend on the same bytes). Validity windows, revocation
 * and everything quote-specific are checked on every call, so a warm verification costs the QE
 * report and quote signatures (two P-256 verifies), one SHA-256 (of the PCK chain) and parsing.
 *
 * Without a policy, a quote verifies when every check passes and it matches a TCB level that is not
 * Revoked; its status is in the claims. Appraisal against a policy is a separate step (policy.ts).
 */
import { ok, type Result } from "../../result";
import { toHex } from "../../encoding";
import { bytesEqual } from "../../x509/der-reader";
import { parseCertificate, type ParsedCertificate } from "../../x509/cert-reader";
import { BoundedCache } from "../../bounded-cache";
import { binaryKey } from "./binary-key";
import { checkValidity } from "./cert-chain";
import { buildTdxClaims, type TdxClaims } from "./claims";
import { checkCollateral, type CheckedCollateral } from "./collateral-check";
import { isParsedCollateral, type TdxCollateral } from "./collateral";
import { tdxFail, type TdxFailure } from "./errors";
import { importP256Point, sha256, verifyP256 } from "./p256";
import { checkPckChain, type CheckedPckChain } from "./pck-chain";
import { parseTdxQuote } from "./quote";
import { INTEL_SGX_ROOT_CA_DER } from "./roots";
import { checkTdxModule, evaluateTcb, matchQeIdentity } from "./tcb-evaluation";

export interface TdxVerifierOptions {
  /** DER of the trust anchor (default: the pinned Intel SGX Root CA). Tests use this for impostor roots. */
  readonly trustedRoot?: Uint8Array;
  /** Entries per cache (default 64). */
  readonly cacheSize?: number;
}

export interface TdxVerifyInput {
  readonly quote: Uint8Array;
  readonly collateral: TdxCollateral;
  /** Verification time, ms since the epoch. */
  readonly now: number;
}

type Checked<T> = Promise<Result<T, TdxFailure>>;

export class TdxVerifier {
  readonly #anchor: ParsedCertificate;
  readonly #collateral: BoundedCache<Checked<CheckedCollateral>>;
  readonly #pckChains: BoundedCache<Checked<CheckedPckChain>>;
  readonly #attestationKeys: BoundedCache<Promise<AttestationKey>>;

  constructor(options: TdxVerifierOptions = {}) {
    const root = parseCertificate(options.trustedRoot ?? INTEL_SGX_ROOT_CA_DER);
    if (!root.ok) throw new TypeError(`trustedRoot is not a certificate: ${root.error.detail ?? root.error.reason}`);
    this.#anchor = root.value;
    const size = options.cacheSize ?? 64;
    this.#collateral = new BoundedCache(size);
    this.#pckChains = new BoundedCache(size);
    this.#attestationKeys = new BoundedCache(size);
  }

  async verify(input: TdxVerifyInput): Promise<Result<TdxClaims, TdxFailure>> {
    if (!Number.isFinite(input.now)) throw new TypeError("now must be a finite number of milliseconds");
    const parsed = parseTdxQuote(input.quote);
    if (!parsed.ok) return parsed;
    const quote = parsed.value;
    const c = input.collateral;

    // Collateral trust (cached), then its validity at `now`.
    const check = () => checkCollateral(c, this.#anchor);
    const collateral = await (isParsedCollateral(c) ? this.#collateral.getOrCreate(c.digest, check) : check());
    if (!collateral.ok) return collateral;
    const collateralTime = checkValidity(collateral.value.validity, input.now);
    if (!collateralTime.ok) return collateralTime;

    // The PCK chain (cached), its validity, and revocation by both CRLs.
    const chainKey = binaryKey(await sha256(quote.pckChainPem));
    const pck = await this.#pckChains.getOrCreate(chainKey, () => checkPckChain(quote.pckChainPem, this.#anchor));
    if (!pck.ok) return pck;
    const { leaf, intermediate, sgx, pckKey } = pck.value;
    const chainTime = checkValidity(pck.value.validity, input.now);
    if (!chainTime.ok) return chainTime;
    if (c.rootCaCrl.revokedSerials.has(intermediate.serialHex)) return tdxFail("pck_ca_revoked", `the PCK CA certificate ${intermediate.serialHex} is on the Root CA CRL`);
    if (!bytesEqual(c.pckCrl.issuerRaw, leaf.issuerRaw) || !bytesEqual(collateral.value.pckCrlSigner.spki, intermediate.spki)) {
      return tdxFail("pck_crl_wrong_issuer", "the PCK CRL is not the CRL of the CA that issued this PCK certificate");
    }
    if (c.pckCrl.revokedSerials.has(leaf.serialHex)) return tdxFail("pck_revoked", `the PCK certificate ${leaf.serialHex} is on the PCK CRL`);

    // TCB Info and the TDX module identity against the quote (QVL 4.1.2.5.10–12).
    const tcbInfo = c.tcbInfo;
    if (tcbInfo.id !== "TDX" || tcbInfo.version < 3) return tdxFail("tcb_info_mismatch", `TCB Info "${tcbInfo.id}" version ${tcbInfo.version} is not TDX TCB Info`);
    if (!bytesEqual(tcbInfo.fmspc, sgx.fmspc)) return tdxFail("tcb_info_mismatch", `TCB Info is for FMSPC ${toHex(tcbInfo.fmspc)}, the platform's is ${toHex(sgx.fmspc)}`);
    if (!bytesEqual(tcbInfo.pceId, sgx.pceId)) return tdxFail("tcb_info_mismatch", `TCB Info is for PCE-ID ${toHex(tcbInfo.pceId)}, the platform's is ${toHex(sgx.pceId)}`);
    const moduleCheck = checkTdxModule(quote.body, tcbInfo);
    if (!moduleCheck.ok) return moduleCheck;

    // Signatures and the QE binding; both verifies run concurrently, then are judged in QVL order
    // (4.1.2.5.13–17).
    const attestation = await this.#attestationKey(quote.attestationKey, quote.qeAuthData);
    const [qeSigned, quoteSigned] = await Promise.all([
      verifyP256(pckKey, quote.qeReportSignature, quote.qeReport.raw),
      attestation.key ? verifyP256(attestation.key, quote.signature, quote.signedData) : false,
    ]);
    if (!qeSigned) return tdxFail("qe_report_signature_invalid", "the QE report signature does not verify with the PCK certificate's key");
    // QVL compares REPORTDATA[0:32]; go-tdx-guest also requires REPORTDATA[32:64] to be zero. We do both.
    const rd = quote.qeReport.reportData;
    if (!bytesEqual(rd.subarray(0, 32), attestation.reportDataHash) || rd.subarray(32).some((b) => b !== 0)) {
      return tdxFail("qe_report_data_mismatch", "QE REPORTDATA is not SHA-256(attestation key ‖ QE authentication data) ‖ zeros");
    }
    const qeMatch = matchQeIdentity(quote.qeReport, c.qeIdentity);
    if (!qeMatch.ok) return qeMatch;
    if (!quoteSigned) return tdxFail("quote_signature_invalid", "the quote signature does not verify with the attestation key");

    // TCB level and status (QVL 4.1.2.5.18–20).
    const tcb = evaluateTcb({ sgx, qeSvn: quote.qeReport.isvSvn, tcbInfo, qeIdentity: c.qeIdentity }, quote.body);
    if (!tcb.ok) return tcb;
    if (tcb.value.status === "Revoked") return tdxFail("tcb_revoked", "the platform's TCB level is Revoked");

    const expiresAt = Math.min(collateral.value.validity.expiresAt, pck.value.validity.expiresAt);
    return ok(buildTdxClaims({ quote, fmspc: sgx.fmspc, tcb: tcb.value, expiresAt }));
  }

  /** The attestation key, imported, and SHA-256(key ‖ QE auth data): both pure functions of those bytes. */
  #attestationKey(xy: Uint8Array, authData: Uint8Array): Promise<AttestationKey> {
    const bound = concat(xy, authData);
    const derive = async (): Promise<AttestationKey> => ({ key: await importP256Point(xy), reportDataHash: await sha256(bound) });
    // Intel's QE sends 32 bytes of auth data; larger values are not worth a cache slot.
    return authData.length <= 64 ? this.#attestationKeys.getOrCreate(binaryKey(bound), derive) : derive();
  }
}

interface AttestationKey {
  /** Undefined when the 64 bytes are not a P-256 point. */
  readonly key: CryptoKey | undefined;
  readonly reportDataHash: Uint8Array;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One-shot verification with a fresh (cold) verifier; services keep a `TdxVerifier` instead. */
export function verifyTdxQuote(input: TdxVerifyInput & TdxVerifierOptions): Promise<Result<TdxClaims, TdxFailure>> {
  return new TdxVerifier(input).verify(input);
}
