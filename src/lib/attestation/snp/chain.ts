/**
 * The endorsement chain: ARK (self-signed) → ASK → VCEK, or ARK → ASVK → VLEK, to the pinned roots.
 *
 * `verifyEndorsementChain` is time-independent (signatures, names, key type, AMD extensions), so
 * its result can be cached per certificate; `checkValidity` applies the verification time to every
 * certificate of the chain and runs on every verification. The issuing ASK/ASVK is found by its
 * exact subject DN among the pinned intermediates of all products; which one issued the
 * certificate fixes the product line and the key kind it may carry.
 */
import { ok, type Result } from "../../result";
import { commonName, parseCertificate } from "../../x509/cert-reader";
import { bytesEqual } from "../../x509/der-reader";
import { verifySignedData } from "../../x509/signed-data";
import { readEndorsementFacts, type EndorsementFacts } from "./endorsement-cert";
import { isoTime, snpFail, type SnpFailure } from "./errors";
import { isAmdName, isAmdSignatureAlgorithm, pinnedRoots, type ProductRoots } from "./roots";

export interface CertWindow {
  /** e.g. `VCEK`, `SEV-Milan`, `ARK-Milan`. */
  readonly name: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** A VCEK/VLEK whose chain to a pinned root has been verified (validity windows excepted). */
export interface VerifiedEndorsement extends EndorsementFacts {
  readonly der: Uint8Array;
  /** The ECDSA P-384 verification key. */
  readonly key: CryptoKey;
  readonly roots: ProductRoots;
  /** CN of the issuing ASK or ASVK (`SEV-Milan`, `SEV-VLEK-Milan`, …). */
  readonly issuerName: string;
  /** Serial (lowercase hex) of the issuing ASK or ASVK, for the ARK's CRL. */
  readonly issuerSerial: string;
  /** Endorsement certificate, intermediate, root: each must contain the verification time. */
  readonly windows: readonly CertWindow[];
}

/** Verifies a VCEK or VLEK (DER) to the pinned AMD roots. Never throws. */
export async function verifyEndorsementChain(der: Uint8Array): Promise<Result<VerifiedEndorsement, SnpFailure>> {
  if (der.length === 0) return snpFail("missing_endorsement_key", "no VCEK or VLEK certificate was given");
  const parsed = parseCertificate(der.slice());
  if (!parsed.ok) return snpFail("malformed_endorsement_cert", `the VCEK/VLEK does not parse: ${parsed.error.detail ?? parsed.error.reason}`);
  const cert = parsed.value;

  const all = await pinnedRoots();
  if (!all.ok) return all;
  let roots: ProductRoots | undefined;
  let viaAsvk = false;
  for (const r of all.value) {
    if (bytesEqual(cert.issuerRaw, r.ask.subjectRaw)) roots = r;
    else if (bytesEqual(cert.issuerRaw, r.asvk.subjectRaw)) [roots, viaAsvk] = [r, true];
    if (roots) break;
  }
  if (!roots) return snpFail("vcek_chain_invalid", `issuer '${commonName(cert.issuer) ?? ""}' is not a pinned AMD ASK or ASVK`);
  const issuer = viaAsvk ? roots.asvk : roots.ask;
  const issuerName = commonName(issuer.subject) ?? "";
  if (!isAmdSignatureAlgorithm(cert.signatureAlgorithm)) return snpFail("vcek_chain_invalid", "the certificate is not signed with RSASSA-PSS SHA-384 (salt 48)");
  const sig = await verifySignedData(cert.signatureAlgorithm, cert.tbs, cert.signature, issuer.spki);
  if (!sig.ok) return snpFail("vcek_chain_invalid", `the certificate's signature does not verify under ${issuerName} (${sig.error.reason})`);

  const facts = readEndorsementFacts(cert);
  if (!facts.ok) return facts;
  const f = facts.value;
  const label = f.kind.toUpperCase();
  if (f.kind !== (viaAsvk ? "vlek" : "vcek")) return snpFail("vcek_chain_invalid", `a ${label} issued by ${issuerName}`);
  if (!isAmdName(cert.subject, `SEV-${label}`)) return snpFail("malformed_endorsement_cert", `the ${label} subject is not an AMD name`);
  if (f.product !== roots.product) return snpFail("product_mismatch", `productName '${f.productName}' on a ${label} issued by ${issuerName}`);

  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("spki", cert.spki as Uint8Array<ArrayBuffer>, { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"]);
  } catch {
    return snpFail("malformed_endorsement_cert", `the ${label} public key is not a valid P-384 point`);
  }
  return ok({
    ...f,
    der: cert.der,
    key,
    roots,
    issuerName,
    issuerSerial: issuer.serialHex,
    windows: [
      { name: label, notBefore: cert.notBefore, notAfter: cert.notAfter },
      { name: issuerName, notBefore: issuer.notBefore, notAfter: issuer.notAfter },
      { name: commonName(roots.ark.subject) ?? "ARK", notBefore: roots.ark.notBefore, notAfter: roots.ark.notAfter },
    ],
  });
}

/**
 * Every certificate of the chain must contain `now` (RFC 5280: notBefore ≤ now ≤ notAfter). Both
 * directions are `cert_expired` (outside the validity window), as the SNP vector manifests
 * expect; the detail says which bound failed.
 */
export function checkValidity(windows: readonly CertWindow[], now: number): Result<void, SnpFailure> {
  for (const w of windows) {
    if (now < w.notBefore) return snpFail("cert_expired", `${w.name} is not yet valid at ${isoTime(now)} (notBefore ${isoTime(w.notBefore)})`);
    if (now > w.notAfter) return snpFail("cert_expired", `${w.name} expired at ${isoTime(w.notAfter)} (verification time ${isoTime(now)})`);
  }
  return ok(undefined);
}
