/**
 * Revocation: AMD's KDS publishes one CRL per product and key kind (`/vcek/v1/<P>/crl`,
 * `/vlek/v1/<P>/crl`), issued and signed by the product's ARK (RSASSA-PSS). It lists revoked ASKs
 * and ASVKs. VCEKs and VLEKs are not looked up: they are issued by the ASK/ASVK, not by the ARK, and
 * AMD retires them by TCB rather than by revocation (go-sev-guest does the same).
 *
 * `verifyAmdCrl` (signature, issuer) is time-independent and cacheable; `checkCrlFreshness` and
 * `checkNotRevoked` run on every verification.
 */
import { ok, type Result } from "../../result";
import { commonName } from "../../x509/cert-reader";
import { parseCrl, type ParsedCrl } from "../../x509/crl-reader";
import { bytesEqual } from "../../x509/der-reader";
import { verifySignedData } from "../../x509/signed-data";
import { isoTime, snpFail, type SnpFailure } from "./errors";
import { isAmdSignatureAlgorithm, type ProductRoots } from "./roots";

export interface VerifiedCrl {
  readonly der: Uint8Array;
  /** `ARK-<Product>`. */
  readonly issuer: string;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly revokedSerials: ReadonlySet<string>;
}

/** Parses a DER CRL and checks that the product's pinned ARK issued and signed it. Never throws. */
export async function verifyAmdCrl(der: Uint8Array, roots: ProductRoots): Promise<Result<VerifiedCrl, SnpFailure>> {
  const parsed = parseCrl(der.slice());
  if (!parsed.ok) return snpFail("malformed_crl", `the CRL does not parse: ${parsed.error.detail ?? parsed.error.reason}`);
  const crl: ParsedCrl = parsed.value;
  const ark = commonName(roots.ark.subject) ?? "ARK";
  if (!bytesEqual(crl.issuerRaw, roots.ark.subjectRaw)) {
    return snpFail("crl_issuer_mismatch", `the CRL is issued by '${commonName(crl.issuer) ?? ""}', not ${ark}`);
  }
  if (!isAmdSignatureAlgorithm(crl.signatureAlgorithm)) return snpFail("crl_signature_invalid", "the CRL is not signed with RSASSA-PSS SHA-384 (salt 48)");
  const sig = await verifySignedData(crl.signatureAlgorithm, crl.tbs, crl.signature, roots.ark.spki);
  if (!sig.ok) return snpFail("crl_signature_invalid", `the CRL's signature does not verify under ${ark}`);
  if (crl.nextUpdate === undefined) return snpFail("malformed_crl", "the CRL has no nextUpdate");
  return ok({ der: crl.der, issuer: ark, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, revokedSerials: crl.revokedSerials });
}

/** The CRL must be current: thisUpdate ≤ now ≤ nextUpdate. A stale CRL is not evidence of non-revocation. */
export function checkCrlFreshness(crl: Pick<VerifiedCrl, "issuer" | "thisUpdate" | "nextUpdate">, now: number): Result<void, SnpFailure> {
  if (now < crl.thisUpdate) return snpFail("crl_not_yet_valid", `the ${crl.issuer} CRL's thisUpdate ${isoTime(crl.thisUpdate)} is after the verification time ${isoTime(now)}`);
  if (now > crl.nextUpdate) return snpFail("crl_expired", `the ${crl.issuer} CRL was due for replacement at ${isoTime(crl.nextUpdate)} (verification time ${isoTime(now)})`);
  return ok(undefined);
}

/** `serialHex` (lowercase, no leading zero bytes, as the readers produce) must not be listed. */
export function checkNotRevoked(crl: Pick<VerifiedCrl, "revokedSerials">, serialHex: string, what: string): Result<void, SnpFailure> {
  return crl.revokedSerials.has(serialHex) ? snpFail("cert_revoked", `${what} (serial 0x${serialHex}) is revoked by AMD's CRL`) : ok(undefined);
}
