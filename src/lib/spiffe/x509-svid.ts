/**
 * X509-SVID validation (SPIFFE X509-SVID §5; go-spiffe `svid/x509svid/verify.go`): a leaf presented by
 * a peer of this trust domain, checked against the trust domain's own CA certificates.
 *
 * - the leaf is signed by one of `authorities` (issuer name byte-equal to the authority's subject, the
 *   signature verifying with its key), and both are valid at `now`;
 * - the leaf is not a CA (`cA` false or basicConstraints absent), its key usage is present and critical,
 *   includes digitalSignature and neither keyCertSign nor cRLSign;
 * - exactly one URI SAN, a SPIFFE ID with a path, in `trustDomain`.
 *
 * Signet's CA signs leaves directly, so intermediates are not followed: a chain longer than the leaf is
 * refused (`svid_untrusted`). Never throws on hostile input.
 */
import { err, ok, type Result } from "../result";
import { parseCertificate, type ParsedCertificate } from "../x509/cert-reader";
import { bytesEqual } from "../x509/der-reader";
import { isCa, keyUsage, uriSans } from "../x509/extensions";
import { verifySignedData } from "../x509/signed-data";
import { parseSpiffeId, trustDomainOf, type SpiffeId, type TrustDomain } from "./id";

export type X509SvidErrorReason =
  | "svid_malformed"
  | "svid_not_leaf"
  | "svid_key_usage"
  | "svid_uri_san"
  | "svid_foreign_trust_domain"
  | "svid_untrusted"
  | "svid_expired"
  | "svid_not_yet_valid";

export interface X509SvidError {
  readonly reason: X509SvidErrorReason;
  readonly detail: string;
}

export interface VerifiedX509Svid {
  readonly spiffeId: SpiffeId;
  readonly leaf: ParsedCertificate;
}

function fail(reason: X509SvidErrorReason, detail: string): { readonly ok: false; readonly error: X509SvidError } {
  return err({ reason, detail });
}

export interface VerifyX509SvidInput {
  /** DER certificates as presented, leaf first. */
  readonly chain: readonly Uint8Array[];
  /** DER CA certificates of the trust domain's bundle. */
  readonly authorities: readonly Uint8Array[];
  readonly trustDomain: TrustDomain;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

export async function verifyX509Svid(input: VerifyX509SvidInput): Promise<Result<VerifiedX509Svid, X509SvidError>> {
  if (input.chain.length === 0) return fail("svid_malformed", "no certificate");
  if (input.chain.length > 1) return fail("svid_untrusted", "intermediate certificates are not accepted: the trust domain's CA signs leaves directly");
  const leaf = parseCertificate(input.chain[0]!);
  if (!leaf.ok) return fail("svid_malformed", `the leaf does not parse (${leaf.error.reason})`);
  const cert = leaf.value;

  const ca = isCa(cert);
  if (!ca.ok) return fail("svid_malformed", ca.error);
  if (ca.value) return fail("svid_not_leaf", "the certificate is a CA");
  const ku = keyUsage(cert);
  if (!ku.ok) return fail("svid_malformed", ku.error);
  if (!ku.value || !ku.value.critical) return fail("svid_key_usage", "key usage must be present and critical");
  if (!ku.value.bits(0)) return fail("svid_key_usage", "key usage must include digitalSignature");
  if (ku.value.bits(5) || ku.value.bits(6)) return fail("svid_not_leaf", "key usage includes keyCertSign or cRLSign");

  const uris = uriSans(cert);
  if (!uris.ok) return fail("svid_malformed", uris.error);
  if (uris.value.length !== 1) return fail("svid_uri_san", `an X509-SVID has exactly one URI SAN (found ${uris.value.length})`);
  const id = parseSpiffeId(uris.value[0]!);
  if (!id.ok) return fail("svid_uri_san", `the URI SAN is not a SPIFFE ID (${id.error.reason})`);
  if (id.value === `spiffe://${trustDomainOf(id.value)}`) return fail("svid_uri_san", "the SPIFFE ID has no path");
  if (trustDomainOf(id.value) !== input.trustDomain) return fail("svid_foreign_trust_domain", "the SVID belongs to another trust domain");

  if (input.now < cert.notBefore) return fail("svid_not_yet_valid", "the SVID is not valid yet");
  if (input.now >= cert.notAfter) return fail("svid_expired", "the SVID has expired");

  for (const der of input.authorities) {
    const authority = parseCertificate(der);
    if (!authority.ok || !bytesEqual(authority.value.subjectRaw, cert.issuerRaw)) continue;
    if (input.now < authority.value.notBefore || input.now >= authority.value.notAfter) continue;
    const signed = await verifySignedData(cert.signatureAlgorithm, cert.tbs, cert.signature, authority.value.spki);
    if (signed.ok) return ok({ spiffeId: id.value, leaf: cert });
  }
  return fail("svid_untrusted", "no CA of the trust domain's bundle signed this SVID");
}
