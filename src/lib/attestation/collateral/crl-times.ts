/** The times of a CRL that collateral caching needs. */
import { err, ok, type Result } from "../../result";
import { parseCrl } from "../../x509/crl-reader";

/** Its nextUpdate (a CRL without one cannot be cached). */
export function crlExpiry(body: Uint8Array): Result<number, string> {
  const crl = parseCrl(body);
  if (!crl.ok) return err(crl.error.detail ?? crl.error.reason);
  if (crl.value.nextUpdate === undefined) return err("the CRL has no nextUpdate");
  return ok(crl.value.nextUpdate);
}

/** Its thisUpdate: a CRL issued earlier than the stored one never replaces it. */
export function crlIssuedAt(body: Uint8Array): number | undefined {
  const crl = parseCrl(body);
  return crl.ok ? crl.value.thisUpdate : undefined;
}
