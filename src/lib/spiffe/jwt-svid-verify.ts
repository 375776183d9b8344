/**
 * JWT-SVID validation (SPIFFE JWT-SVID spec §3, §5; specs/spiffe.md §1.3): compact JWS only; the
 * algorithm is checked against the allow-list before anything else; only `alg`, `kid` and `typ`
 * (`JWT` or `JOSE`) may appear in the header and `kid` is required (as go-spiffe and SPIRE require);
 * `sub` is a SPIFFE ID of the bundle's trust domain; `aud` contains the validator's audience; `exp` is
 * required and `nbf`, when present, is honoured, each with a small leeway. Keys come from the JWT
 * authorities of `sub`'s trust domain. Never throws on hostile input.
 */
import { decodeJwsJsonPart } from "../jws-parts";
import { fromBase64, utf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import { parseSpiffeId, trustDomainOf, type SpiffeId, type TrustDomain } from "./id";

/** Seconds of clock skew tolerated on `exp` and `nbf`. */
export const JWT_SVID_LEEWAY_SECONDS = 30;
export const MAX_JWT_SVID_LENGTH = 16 * 1024;

export type JwtSvidErrorReason = "jwt_malformed" | "jwt_algorithm" | "jwt_header" | "jwt_unknown_key" | "jwt_signature" | "jwt_subject" | "jwt_audience" | "jwt_expired" | "jwt_not_yet_valid";

export interface JwtSvidError {
  readonly reason: JwtSvidErrorReason;
  readonly detail: string;
}

/** One JWT authority of a trust domain: a JWK with its `kid` (private parameters are ignored). */
export interface JwtAuthorityKey {
  readonly kid?: string;
  readonly kty?: string;
  readonly [k: string]: unknown;
}

export interface ValidateJwtSvidInput {
  readonly token: string;
  /** The audience this validator is known by. */
  readonly audience: string;
  /** JWT authorities by trust domain name. */
  readonly authorities: (trustDomain: TrustDomain) => readonly JwtAuthorityKey[] | undefined;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

export interface ValidatedJwtSvid {
  readonly spiffeId: SpiffeId;
  readonly claims: Readonly<Record<string, unknown>>;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

type Params = { readonly name: string; readonly [k: string]: unknown };
type Verify = { readonly verify: Params; readonly importParams: Params; readonly kty: "RSA" | "EC" };

const ALGORITHMS: Readonly<Record<string, Verify>> = {
  RS256: { verify: { name: "RSASSA-PKCS1-v1_5" }, importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, kty: "RSA" },
  RS384: { verify: { name: "RSASSA-PKCS1-v1_5" }, importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" }, kty: "RSA" },
  RS512: { verify: { name: "RSASSA-PKCS1-v1_5" }, importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }, kty: "RSA" },
  PS256: { verify: { name: "RSA-PSS", saltLength: 32 }, importParams: { name: "RSA-PSS", hash: "SHA-256" }, kty: "RSA" },
  PS384: { verify: { name: "RSA-PSS", saltLength: 48 }, importParams: { name: "RSA-PSS", hash: "SHA-384" }, kty: "RSA" },
  PS512: { verify: { name: "RSA-PSS", saltLength: 64 }, importParams: { name: "RSA-PSS", hash: "SHA-512" }, kty: "RSA" },
  ES256: { verify: { name: "ECDSA", hash: "SHA-256" }, importParams: { name: "ECDSA", namedCurve: "P-256" }, kty: "EC" },
  ES384: { verify: { name: "ECDSA", hash: "SHA-384" }, importParams: { name: "ECDSA", namedCurve: "P-384" }, kty: "EC" },
  ES512: { verify: { name: "ECDSA", hash: "SHA-512" }, importParams: { name: "ECDSA", namedCurve: "P-521" }, kty: "EC" },
};

const HEADER_NAMES = new Set(["alg", "kid", "typ"]);

function fail(reason: JwtSvidErrorReason, detail: string): { readonly ok: false; readonly error: JwtSvidError } {
  return err({ reason, detail });
}

function isTime(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

export async function validateJwtSvid(input: ValidateJwtSvidInput): Promise<Result<ValidatedJwtSvid, JwtSvidError>> {
  const { token } = input;
  if (typeof token !== "string" || token.length > MAX_JWT_SVID_LENGTH) return fail("jwt_malformed", "the token is not a compact JWS of acceptable size");
  const parts = token.split(".");
  if (parts.length !== 3) return fail("jwt_malformed", "the token is not a compact JWS (three parts)");
  const header = decodeJwsJsonPart(parts[0]!);
  const claims = decodeJwsJsonPart(parts[1]!);
  if (!header || !claims) return fail("jwt_malformed", "the header or the claims are not base64url JSON objects");
  const alg = typeof header.alg === "string" && Object.hasOwn(ALGORITHMS, header.alg) ? ALGORITHMS[header.alg]! : undefined;
  if (!alg) return fail("jwt_algorithm", "alg is not one of the JWT-SVID algorithms");
  for (const name of Object.keys(header)) if (!HEADER_NAMES.has(name)) return fail("jwt_header", `header parameter ${name.slice(0, 32)} is not allowed`);
  if (header.typ !== undefined && header.typ !== "JWT" && header.typ !== "JOSE") return fail("jwt_header", "typ must be JWT or JOSE");
  if (typeof header.kid !== "string" || header.kid === "") return fail("jwt_header", "kid is required");

  const sub = typeof claims.sub === "string" ? parseSpiffeId(claims.sub) : undefined;
  if (!sub?.ok) return fail("jwt_subject", "sub must be a SPIFFE ID");
  const keys = input.authorities(trustDomainOf(sub.value));
  if (!keys) return fail("jwt_unknown_key", "no bundle for the subject's trust domain");
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) return fail("jwt_unknown_key", "no JWT authority with this kid");
  if (jwk.kty !== alg.kty) return fail("jwt_algorithm", "alg does not match the key's type");

  const signature = /^[A-Za-z0-9_-]+$/.test(parts[2]!) ? fromBase64(parts[2]!) : undefined;
  if (!signature) return fail("jwt_malformed", "the signature is not base64url");
  let verified = false;
  try {
    const publicJwk = jwk.kty === "EC" ? { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: "RSA", n: jwk.n, e: jwk.e };
    const key = await crypto.subtle.importKey("jwk", publicJwk as JsonWebKey, alg.importParams, false, ["verify"]);
    verified = await crypto.subtle.verify(alg.verify, key, signature as Uint8Array<ArrayBuffer>, utf8(`${parts[0]}.${parts[1]}`));
  } catch {
    // An unusable key or signature is a failed signature.
  }
  if (!verified) return fail("jwt_signature", "the signature does not verify");

  const aud = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) && claims.aud.every((a) => typeof a === "string") ? (claims.aud as string[]) : undefined;
  if (!aud || aud.length === 0) return fail("jwt_audience", "aud must be a string or a non-empty array of strings");
  if (!aud.includes(input.audience)) return fail("jwt_audience", "the token is not for this audience");
  const nowSeconds = input.now / 1000;
  if (!isTime(claims.exp)) return fail("jwt_expired", "exp is required");
  if (nowSeconds > claims.exp + JWT_SVID_LEEWAY_SECONDS) return fail("jwt_expired", "the token has expired");
  if (claims.nbf !== undefined && (!isTime(claims.nbf) || nowSeconds + JWT_SVID_LEEWAY_SECONDS < claims.nbf)) return fail("jwt_not_yet_valid", "the token is not valid yet");
  return ok({ spiffeId: sub.value, claims, expiresAt: claims.exp });
}
