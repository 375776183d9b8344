/**
 * SEV-SNP evidence verification: a report plus its VCEK or VLEK (and optionally AMD's CRL) at a
 * given time → claims, or one specific failure. Appraisal against a policy is a separate step
 * (policy.ts).
 *
 * Order of checks (each failure is final):
 *  1. the report parses (length, version, reserved fields);
 *  2. the certificate chains to a pinned ARK through the pinned ASK/ASVK (cached per certificate);
 *  3. the report's product (CPUID, v3+) and SIGNING_KEY agree with the certificate;
 *  4. every certificate of the chain is valid at `now`;
 *  5. if a CRL is given: signed by the product's ARK (cached), current at `now`, and the issuing
 *     ASK/ASVK is not revoked;
 *  6. the report's ECDSA P-384 signature verifies with the certificate's key;
 *  7. VCEK: hwID = CHIP_ID, and the certificate's SPLs = REPORTED_TCB in the product's layout.
 * The signature comes before the hwID/TCB binding so that a certificate of another chip or
 * product is reported as what it is to a relying party: the key did not sign this report.
 *
 * Warm path: `SnpVerifier` caches successful chain verifications (with the imported P-384 key) and
 * verified CRLs, keyed by their exact DER. Only time-independent results are cached; validity
 * windows, CRL freshness and revocation are evaluated against `now` on every call. A warm
 * verification costs one report parse, one P-384 verify and building the claims.
 */
import { ok, type Result } from "../../result";
import { checkHwId, checkSigner, checkTcb, resolveProduct, verifyReportSignature } from "./binding";
import { checkValidity, verifyEndorsementChain, type VerifiedEndorsement } from "./chain";
import { snpClaims, type SnpClaims } from "./claims";
import { checkCrlFreshness, checkNotRevoked, verifyAmdCrl, type VerifiedCrl } from "./crl";
import { DerCache } from "./der-cache";
import { snpFail, type SnpFailure } from "./errors";
import type { ProductRoots } from "./roots";
import { parseSnpReport } from "./report";

export interface SnpVerifyInput {
  /** The 1184-byte ATTESTATION_REPORT. */
  readonly report: Uint8Array;
  /** The VCEK or VLEK certificate, DER. */
  readonly endorsementCert: Uint8Array;
  /** AMD's CRL for the product and key kind (`/vcek|vlek/v1/<P>/crl`), DER; revocation is checked when given. */
  readonly crl?: Uint8Array;
  /**
   * Which endpoint `crl` came from. The ASK and ASVK CRLs are both signed by the ARK and carry nothing
   * that tells them apart, so a caller that knows (the collateral store) says so, and a CRL for the
   * other chain is refused rather than silently checking the wrong intermediate.
   */
  readonly crlFor?: "vcek" | "vlek";
  /** Verification time, milliseconds since the epoch. */
  readonly now: number;
}

export interface SnpVerifierOptions {
  /** Endorsement certificates kept verified (default 256). */
  readonly maxCachedCertificates?: number;
  /** CRLs kept verified (default 16). */
  readonly maxCachedCrls?: number;
}

export class SnpVerifier {
  readonly #certs: DerCache<VerifiedEndorsement>;
  readonly #crls: DerCache<VerifiedCrl>;

  constructor(options: SnpVerifierOptions = {}) {
    this.#certs = new DerCache(options.maxCachedCertificates ?? 256);
    this.#crls = new DerCache(options.maxCachedCrls ?? 16);
  }

  /** Verifies one report. Never throws on hostile input; a non-finite `now` is a caller bug (TypeError). */
  async verify(input: SnpVerifyInput): Promise<Result<SnpClaims, SnpFailure>> {
    if (typeof input.now !== "number" || !Number.isFinite(input.now)) throw new TypeError("now must be a finite number of milliseconds");
    const parsed = parseSnpReport(input.report);
    if (!parsed.ok) return parsed;
    const report = parsed.value;
    if (report.signingKey === "none") return snpFail("unsupported_signing_key", "SIGNING_KEY 7: the report is not signed");

    const endorsement = await this.#endorsement(input.endorsementCert);
    if (!endorsement.ok) return endorsement;
    const e = endorsement.value;
    const product = resolveProduct(report, e);
    if (!product.ok) return product;
    const signer = checkSigner(report, e);
    if (!signer.ok) return signer;
    const valid = checkValidity(e.windows, input.now);
    if (!valid.ok) return valid;

    if (input.crl !== undefined) {
      if (input.crlFor !== undefined && input.crlFor !== e.kind) {
        return snpFail("crl_issuer_mismatch", `a ${input.crlFor.toUpperCase()}-chain CRL was given for a ${e.kind.toUpperCase()}-signed report`);
      }
      const crl = await this.#crl(input.crl, e.roots);
      if (!crl.ok) return crl;
      const fresh = checkCrlFreshness(crl.value, input.now);
      if (!fresh.ok) return fresh;
      const revoked = checkNotRevoked(crl.value, e.issuerSerial, e.issuerName);
      if (!revoked.ok) return revoked;
    }

    const signature = await verifyReportSignature(report, e.key);
    if (!signature.ok) return signature;
    const hwId = checkHwId(report, e);
    if (!hwId.ok) return hwId;
    const tcb = checkTcb(report, e, product.value);
    if (!tcb.ok) return tcb;
    return ok(snpClaims(report, product.value, e));
  }

  /** How many verified certificates and CRLs are cached. */
  stats(): { readonly certificates: number; readonly crls: number } {
    return { certificates: this.#certs.size, crls: this.#crls.size };
  }

  async #endorsement(der: Uint8Array): Promise<Result<VerifiedEndorsement, SnpFailure>> {
    const hit = this.#certs.get("", der);
    if (hit) return ok(hit);
    const fresh = await verifyEndorsementChain(der);
    if (fresh.ok) this.#certs.set("", fresh.value);
    return fresh;
  }

  async #crl(der: Uint8Array, roots: ProductRoots): Promise<Result<VerifiedCrl, SnpFailure>> {
    const hit = this.#crls.get(roots.product, der);
    if (hit) return ok(hit);
    const fresh = await verifyAmdCrl(der, roots);
    if (fresh.ok) this.#crls.set(roots.product, fresh.value);
    return fresh;
  }
}

const shared = new SnpVerifier();

/** Verifies SNP evidence with a process-wide `SnpVerifier` (its cache is shared by all callers). */
export function verifySnpEvidence(input: SnpVerifyInput): Promise<Result<SnpClaims, SnpFailure>> {
  return shared.verify(input);
}
