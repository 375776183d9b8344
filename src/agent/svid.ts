/**
 * What the agent checks of an X.509-SVID the server sends before it keeps it: DER that parses, the
 * one URI SAN is the SPIFFE ID it asked for, the key is the key it made, and it is valid now. Which
 * authority of the bundle signed it is found once (one signature check per authority at most) and
 * kept as that authority's SPKI, so later bundle changes cost a set lookup per SVID.
 */
import { fromBase64, toBase64 } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import { parseCertificate, type ParsedCertificate } from "../lib/x509/cert-reader";
import { bytesEqual } from "../lib/x509/der-reader";
import { uriSans } from "../lib/x509/extensions";
import { verifySignedData } from "../lib/x509/signed-data";

export interface IssuedSvid {
  /** DER certificates, leaf first. */
  readonly chain: readonly Uint8Array[];
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly leaf: ParsedCertificate;
}

/** Reads `svid` (standard base64 DER, leaf first) and checks it is for `spiffeId` and `spki` at `now`. */
export function readIssuedSvid(svid: readonly string[], spiffeId: string, spki: Uint8Array, now: number): Result<IssuedSvid, string> {
  const chain: Uint8Array[] = [];
  for (const c of svid) {
    const der = fromBase64(c);
    if (!der) return err("the SVID is not base64");
    chain.push(der);
  }
  const leaf = parseCertificate(chain[0]!);
  if (!leaf.ok) return err(`the SVID does not parse (${leaf.error.reason})`);
  const sans = uriSans(leaf.value);
  if (!sans.ok || sans.value.length !== 1 || sans.value[0] !== spiffeId) return err(`the SVID is not for ${spiffeId}`);
  if (!bytesEqual(leaf.value.spki, spki)) return err("the SVID does not certify the key the agent sent");
  if (now >= leaf.value.notAfter) return err("the SVID has already expired");
  return ok({ chain, notBefore: leaf.value.notBefore, notAfter: leaf.value.notAfter, leaf: leaf.value });
}

/** A stable key for an authority: its SPKI, base64. */
export function authorityKey(cert: ParsedCertificate): string {
  return toBase64(cert.spki);
}

/**
 * The authority among `authorities` (parsed CA certificates) that signed `cert` directly, by
 * signature; undefined when none did. Intermediates in the SVID's own chain are followed to the top.
 */
export async function issuingAuthority(chain: readonly Uint8Array[], authorities: readonly ParsedCertificate[]): Promise<string | undefined> {
  const top = parseCertificate(chain[chain.length - 1]!);
  if (!top.ok) return undefined;
  for (const a of authorities) {
    if (!bytesEqual(top.value.issuerRaw, a.subjectRaw)) continue;
    const verified = await verifySignedData(top.value.signatureAlgorithm, top.value.tbs, top.value.signature, a.spki);
    if (verified.ok) return authorityKey(a);
  }
  return undefined;
}
