/**
 * Intel TDX DCAP quote verification (specs/tdx.md §3, Intel QVL order), at a verification time that
 * is always a parameter. `TdxVerifier` is the warm path: it caches, bounded, the checks that depend
 * only on bytes it has seen before —
 *
 * - the collateral set's trust (root CRL, TCB Info / QE Identity signatures and signing chains, PCK
 *   CRL and its chain), keyed by the set's digest (SHA-256 of the exact file bytes; never by
 *   certificate serial: Intel re-issued the TCB signing certificate with the same serial), for sets
 *   made by `parseTdxCollateral`;
 * - the PCK chain's trust and its leaf key, keyed by the exact chain bytes in the quote;
 * - imported attestation keys and SHA-256(key ‖ QE auth data), keyed by those bytes;
 * - whether a QE report's signature verifies with a PCK key, keyed by the exact key, signature and
 *   report bytes: the Quoting Enclave certifies its attestation key once, so every quote it signs
 *   with that key carries the same QE report and signature;
 * - for callers that receive collateral as files and quotes from a stream (TdxTeeVerifier): parsed
 *   collateral sets (`parseCollateral`) and the platform a PCK chain names (`platform`), keyed by
 *   their exact bytes (bytes-cache.ts: every byte compared, entries own their copies). Only
 *   successful parses are cached; nothing in them depends on time.
 *
 * Failures are cached like successes (they depend on the same bytes). Validity windows, revocation
 * and everything quote-specific are checked on every call, so a warm verification costs the quote
 * signature (one P-256 verify; two for a QE report not seen before) and parsing.
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
import { BytesCache } from "./bytes-cache";
import { checkCollateral, type CheckedCollateral } from "./collateral-check";
import { isParsedCollateral, parseTdxCollateral, TDX_COLLATERAL_FILES, type TdxCollateral } from "./collateral";
import { tdxFail, type TdxFailure } from "./errors";
import { importP256Point, sha256, verifyP256 } from "./p256";
import { checkPckChain, type CheckedPckChain } from "./pck-chain";
import { readTdxPlatform, type TdxPlatform } from "./platform";
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
  readonly #pckChains: BytesCache<Checked<CheckedPckChain>>;
  readonly #qeReportSignatures: BytesCache<boolean>;
  readonly #attestationKeys: BoundedCache<Promise<AttestationKey>>;
  readonly #parsedCollateral: BytesCache<Result<TdxCollateral, TdxFailure>>;
  readonly #platforms: BytesCache<Result<TdxPlatform, TdxFailure>>;

  constructor(options: TdxVerifierOptions = {}) {
    const root = parseCertificate(options.trustedRoot ?? INTEL_SGX_ROOT_CA_DER);
    if (!root.ok) throw new TypeError(`trustedRoot is not a certificate: ${root.error.detail ?? root.error.reason}`);
    this.#anchor = root.value;
    const size = options.cacheSize ?? 64;
    this.#collateral = new BoundedCache(size);
    this.#pckChains = new BytesCache(size);
    this.#qeReportSignatures = new BytesCache(size);
    this.#attestationKeys = new BoundedCache(size);
    this.#parsedCollateral = new BytesCache(size);
    this.#platforms = new BytesCache(size);
  }

  /**
   * `parseTdxCollateral(files)`, answered from the cache when the seven files are byte for byte a set
   * parsed before (the same object then, so the collateral trust cache hits too). Never throws.
   */
  async parseCollateral(files: Readonly<Record<string, Uint8Array | undefined>>): Promise<Result<TdxCollateral, TdxFailure>> {
    const names = Object.values(TDX_COLLATERAL_FILES);
    const parts: Uint8Array[] = [];
    for (const name of names) {
      const bytes = Object.hasOwn(files, name) ? files[name] : undefined;
      if (!(bytes instanceof Uint8Array)) return parseTdxCollateral(files); // its own refusal
      parts.push(bytes);
    }
    return this.#parsedCollateral.getOrComputeAsync(parts, (own) => parseTdxCollateral(Object.fromEntries(names.map((name, i) => [name, own[i]]))), (r) => r.ok);
  }

  /** `readTdxPlatform(pckChainPem)`, cached by the chain's exact bytes. Never throws. */
  platform(pckChainPem: Uint8Array): Result<TdxPlatform, TdxFailure> {
    return this.#platforms.getOrCompute([pckChainPem], (own) => readTdxPlatform(own[0]!), (r) => r.ok);
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
    const pck = await this.#pckChains.getOrCompute([quote.pckChainPem], (own) => checkPckChain(own[0]!, this.#anchor), () => true);
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
      this.#qeReportSigned(pckKey, leaf.spki, quote.qeReportSignature, quote.qeReport.raw),
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

  /** Whether `signature` over the QE report verifies with the PCK key (`spki`): a pure function of those bytes. */
  #qeReportSigned(pckKey: CryptoKey, spki: Uint8Array, signature: Uint8Array, report: Uint8Array): Promise<boolean> {
    return this.#qeReportSignatures.getOrComputeAsync([spki, signature, report], (own) => verifyP256(pckKey, own[1]!, own[2]!), () => true);
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
