/**
 * JWT-SVID minting (SPIFFE JWT-SVID spec; SPIRE pkg/server/ca/ca.go signJWTSVID): compact JWS,
 * header {alg, kid, typ:"JWT"} and nothing else, claims sub/aud/exp/iat (+iss), integer times
 * (AWS rejects scientific notation). One `crypto.subtle.sign` per token, nothing else costly.
 */
import { toBase64Url, utf8 } from "../encoding";
import type { JwtAlgorithm } from "./bundle";
import type { SpiffeId } from "./id";

export interface JwtSvidClaimsInput {
  readonly spiffeId: SpiffeId;
  readonly audience: readonly string[];
  /** Seconds since the epoch (integers). */
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly issuer?: string;
}

const SIGN_PARAMS: Record<JwtAlgorithm, { name: string; hash?: string }> = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  ES384: { name: "ECDSA", hash: "SHA-384" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
};

export async function signJwtSvid(key: CryptoKey, alg: JwtAlgorithm, kid: string, input: JwtSvidClaimsInput): Promise<string> {
  if (!Number.isSafeInteger(input.issuedAt) || !Number.isSafeInteger(input.expiresAt)) {
    throw new TypeError("JWT-SVID times must be integer seconds");
  }
  const header = { alg, kid, typ: "JWT" };
  const claims: Record<string, unknown> = {
    sub: input.spiffeId,
    aud: [...input.audience],
    exp: input.expiresAt,
    iat: input.issuedAt,
  };
  if (input.issuer !== undefined) claims.iss = input.issuer;
  const signingInput = `${toBase64Url(utf8(JSON.stringify(header)))}.${toBase64Url(utf8(JSON.stringify(claims)))}`;
  const signature = new Uint8Array(await crypto.subtle.sign(SIGN_PARAMS[alg], key, utf8(signingInput)));
  return `${signingInput}.${toBase64Url(signature)}`;
}
