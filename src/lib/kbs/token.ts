/**
 * The key broker's attestation token: an EAR JWT (specs/kbs-protocol.md §5.1), ES256, signed by the
 * certificate authority object's attestation key. Guests only decode its payload (for `exp`); the
 * key broker verifies Bearer tokens against its own keys only (never a key named in the header).
 *
 * Header: {"alg":"ES256","typ":"JWT","kid":…,"jwk":{…public key…}} — `jwk` as Trustee sends it, so
 * peers configured with `insecure_header_jwk` can read it; Signet itself looks up `kid` only.
 */
import { fromBase64, toBase64Url, utf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import type { JwksKey } from "../spiffe/bundle";
import { decodeJwsJsonPart } from "../jws-parts";

/** Lifetime of an attestation token (Trustee's default `duration_min`). */
export const ATTESTATION_TOKEN_SECONDS = 300;
/** Largest token accepted on the Bearer path. */
export const MAX_TOKEN_LENGTH = 64 * 1024;
/** Clock skew tolerated on `iat`. */
const SKEW_SECONDS = 60;

export type TokenErrorReason = "token_malformed" | "token_algorithm" | "token_unknown_key" | "token_signature" | "token_expired" | "token_issuer";

export interface TokenError {
  readonly reason: TokenErrorReason;
  readonly detail: string;
}

const ES256 = { name: "ECDSA", hash: "SHA-256" } as const;

type NativeToBase64 = (this: Uint8Array, options: { alphabet: "base64url"; omitPadding: true }) => string;
/** `Uint8Array.prototype.toBase64` (workerd has it; Node 20 does not). */
const nativeToBase64 = (Uint8Array.prototype as unknown as { toBase64?: NativeToBase64 }).toBase64;

/**
 * Unpadded base64url, natively where the runtime can: a token's payload (the verifier's claims) is
 * a few kilobytes, encoded on every attestation, and the JavaScript encoder costs about as much as
 * the signature. The same text either way.
 */
function base64Url(bytes: Uint8Array): string {
  return nativeToBase64 ? nativeToBase64.call(bytes, { alphabet: "base64url", omitPadding: true }) : toBase64Url(bytes);
}

/** Signs EAR claims with the attestation key (ES256, WebCrypto P1363 signature = JWS form). */
export async function signAttestationToken(key: CryptoKey, signer: { readonly kid: string; readonly publicJwk: JwksKey }, claims: Record<string, unknown>): Promise<string> {
  const { kty, crv, x, y } = signer.publicJwk;
  const header = { alg: "ES256", typ: "JWT", kid: signer.kid, jwk: { kty, crv, alg: "ES256", x, y } };
  const signingInput = `${base64Url(utf8(JSON.stringify(header)))}.${base64Url(utf8(JSON.stringify(claims)))}`;
  const signature = new Uint8Array(await crypto.subtle.sign(ES256, key, utf8(signingInput)));
  return `${signingInput}.${base64Url(signature)}`;
}

function fail(reason: TokenErrorReason, detail: string): { readonly ok: false; readonly error: TokenError } {
  return err({ reason, detail });
}


/** Imported verification keys, by their public parameters. */
const imported = new Map<string, Promise<CryptoKey>>();

function verificationKey(jwk: JwksKey): Promise<CryptoKey> {
  const id = `${jwk.x}.${jwk.y}`;
  let key = imported.get(id);
  if (!key) {
    key = crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    imported.set(id, key);
    if (imported.size > 64) imported.delete(imported.keys().next().value!);
  }
  return key;
}

export interface VerifyTokenInput {
  readonly token: string;
  /** Signet's own attestation keys. */
  readonly keys: readonly JwksKey[];
  readonly issuer: string;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** Verifies an attestation token issued by this key broker; returns its claims. Never throws. */
export async function verifyAttestationToken(input: VerifyTokenInput): Promise<Result<Record<string, unknown>, TokenError>> {
  const { token } = input;
  if (token.length > MAX_TOKEN_LENGTH) return fail("token_malformed", "the token is too long");
  const parts = token.split(".");
  if (parts.length !== 3) return fail("token_malformed", "not a compact JWS");
  const header = decodeJwsJsonPart(parts[0]!);
  const claims = decodeJwsJsonPart(parts[1]!);
  if (!header || !claims) return fail("token_malformed", "the header or payload is not a base64url JSON object");
  if (header.alg !== "ES256") return fail("token_algorithm", "only ES256 attestation tokens are issued here");
  const jwk = input.keys.find((k) => k.kid === header.kid && k.kty === "EC" && k.crv === "P-256");
  if (!jwk) return fail("token_unknown_key", "the token was not signed by a key of this key broker");
  const signature = /^[A-Za-z0-9_-]*$/.test(parts[2]!) ? fromBase64(parts[2]!) : undefined;
  if (!signature || signature.length !== 64) return fail("token_signature", "the signature is not a 64-byte ES256 signature");
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(ES256, await verificationKey(jwk), signature, utf8(`${parts[0]}.${parts[1]}`));
  } catch {
    valid = false;
  }
  if (!valid) return fail("token_signature", "the signature does not verify");
  const nowSeconds = input.now / 1000;
  const { exp, iat, iss } = claims;
  if (typeof exp !== "number" || typeof iat !== "number" || !Number.isSafeInteger(exp) || !Number.isSafeInteger(iat)) {
    return fail("token_malformed", "exp and iat must be integers");
  }
  if (nowSeconds >= exp) return fail("token_expired", "the token has expired");
  if (iat > nowSeconds + SKEW_SECONDS) return fail("token_malformed", "the token was issued in the future");
  if (iss !== input.issuer) return fail("token_issuer", "the token was issued by another service");
  return ok(claims);
}
