/**
 * The agent's view of `GET /agent/v1/bundles`: per trust domain (name, no scheme) the X.509
 * authorities (DER, from each `x509-svid` key's single `x5c`) and the JWT keys as a JWKS (the
 * `jwt-svid` keys, public members only), plus what the sync loop needs to match SVIDs to authorities.
 */
import { fromBase64 } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import { parseCertificate, type ParsedCertificate } from "../lib/x509/cert-reader";
import type { BundleSet } from "./cache";
import type { TrustBundle } from "./state";
import { authorityKey } from "./svid";
import type { BundleDocument, BundlesAnswer } from "./wire";

const JWK_MEMBERS = ["kty", "kid", "use", "crv", "x", "y", "n", "e", "alg"] as const;

function trustBundle(trustDomain: string, doc: BundleDocument): Result<{ bundle: TrustBundle; parsed: ParsedCertificate[] }, string> {
  const x509Authorities: Uint8Array[] = [];
  const parsed: ParsedCertificate[] = [];
  const keys: Record<string, unknown>[] = [];
  for (const key of doc.keys) {
    if (key.use === "x509-svid") {
      const der = key.x5c?.length === 1 ? fromBase64(key.x5c[0]!) : undefined;
      const cert = der ? parseCertificate(der) : undefined;
      if (!der || !cert?.ok) return err(`the bundle of ${trustDomain} has an x509-svid key without one readable certificate`);
      x509Authorities.push(der);
      parsed.push(cert.value);
    } else if (key.use === "jwt-svid") {
      if (typeof key.kid !== "string" || key.kid === "") return err(`the bundle of ${trustDomain} has a jwt-svid key without kid`);
      const jwk: Record<string, unknown> = {};
      for (const m of JWK_MEMBERS) if (typeof key[m] === "string") jwk[m] = key[m];
      keys.push(jwk);
    }
  }
  return ok({ bundle: { trustDomain, x509Authorities, jwks: { keys } }, parsed });
}

/** The bundles answer as a BundleSet for `ownTrustDomain`; a value error when it is not usable. */
export function bundleSetFrom(answer: BundlesAnswer, ownTrustDomain: string): Result<BundleSet, string> {
  if (answer.trust_domain !== ownTrustDomain) return err(`the server's trust domain is ${answer.trust_domain}, not ${ownTrustDomain}`);
  const own = trustBundle(ownTrustDomain, answer.bundle);
  if (!own.ok) return own;
  if (own.value.parsed.length === 0) return err("the own bundle has no X.509 authority");
  const bundles = new Map<string, TrustBundle>([[ownTrustDomain, own.value.bundle]]);
  for (const [name, doc] of Object.entries(answer.federated).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const td = name.replace(/^spiffe:\/\//, "");
    if (td === ownTrustDomain) continue;
    const b = trustBundle(td, doc);
    if (!b.ok) return b;
    bundles.set(td, b.value.bundle);
  }
  const fingerprint = JSON.stringify([answer.bundle, Object.entries(answer.federated).sort(([a], [b]) => (a < b ? -1 : 1))]);
  return ok({ bundles, ownAuthorities: own.value.parsed, ownAuthorityKeys: new Set(own.value.parsed.map(authorityKey)), fingerprint });
}

/** The bundle the attest answer carries (DER CA certificates), until the first bundles call. */
export function bundleSetFromAuthorities(ownTrustDomain: string, authorities: readonly Uint8Array[]): BundleSet {
  const parsed = authorities.map((a) => parseCertificate(a)).flatMap((r) => (r.ok ? [r.value] : []));
  const bundle: TrustBundle = { trustDomain: ownTrustDomain, x509Authorities: parsed.map((p) => p.der), jwks: { keys: [] } };
  return { bundles: new Map([[ownTrustDomain, bundle]]), ownAuthorities: parsed, ownAuthorityKeys: new Set(parsed.map(authorityKey)), fingerprint: `attest:${parsed.map(authorityKey).join(",")}` };
}
