/**
 * SPIFFE trust bundle and OIDC JWKS documents (SPIFFE Trust Domain and Bundle §4; X509-SVID §6;
 * JWT-SVID §6; SPIRE bundleutil/marshal.go and the OIDC discovery provider's /keys).
 */
import { toBase64 } from "../encoding";

/** Public key parameters only: kty plus crv/x/y (EC, coordinates full length) or n/e (RSA). */
export interface PublicJwk {
  readonly kty: "EC" | "RSA";
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

export interface X509AuthorityEntry {
  readonly certificate: Uint8Array;
  readonly publicJwk: PublicJwk;
}

export type JwtAlgorithm = "ES256" | "ES384" | "RS256";

export interface JwtAuthorityEntry {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  readonly publicJwk: PublicJwk;
}

export interface BundleKey extends PublicJwk {
  readonly use: "x509-svid" | "jwt-svid";
  readonly kid?: string;
  readonly x5c?: readonly string[];
}

export interface SpiffeBundleDocument {
  readonly keys: readonly BundleKey[];
  readonly spiffe_sequence: number;
  readonly spiffe_refresh_hint: number;
}

export interface JwksKey extends PublicJwk {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  readonly use: "sig";
}

/** Copies only the public parameters, in a fixed order (private members can never slip through). */
export function publicParams(jwk: PublicJwk): PublicJwk {
  return jwk.kty === "EC"
    ? { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y }
    : { kty: "RSA", n: jwk.n, e: jwk.e };
}

/**
 * Bundle keys: one `x509-svid` entry per CA certificate with exactly one `x5c` (standard base64 DER)
 * and no `kid`; one `jwt-svid` entry per JWT key with its `kid`.
 */
export function bundleKeys(x509: readonly X509AuthorityEntry[], jwt: readonly JwtAuthorityEntry[]): BundleKey[] {
  return [
    ...x509.map((a): BundleKey => ({ ...publicParams(a.publicJwk), use: "x509-svid", x5c: [toBase64(a.certificate)] })),
    ...jwt.map((a): BundleKey => ({ ...publicParams(a.publicJwk), use: "jwt-svid", kid: a.kid })),
  ];
}

export function spiffeBundleDocument(keys: readonly BundleKey[], sequence: number, refreshHintSeconds: number): SpiffeBundleDocument {
  return { keys, spiffe_sequence: sequence, spiffe_refresh_hint: refreshHintSeconds };
}

/** JWKS for OIDC relying parties: JWT keys only, each with `kid`, `alg` and `use: "sig"`. */
export function oidcJwks(jwt: readonly JwtAuthorityEntry[]): { keys: JwksKey[] } {
  return { keys: jwt.map((a) => ({ ...publicParams(a.publicJwk), kid: a.kid, alg: a.alg, use: "sig" })) };
}
