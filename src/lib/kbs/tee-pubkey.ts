/**
 * The guest's ephemeral `tee-pubkey` (a JWK subset; kbs-types `TeePubKey`, tagged by `kty`): what
 * Signet accepts, and its re-serialization. Trustee hashes the *typed, re-serialized* key into the
 * runtime data, so members other than kty/crv/alg/x/y (EC) or kty/alg/n/e (RSA) are dropped here,
 * exactly as serde drops them.
 *
 * Accepted: EC P-256 or P-521 with `ECDH-ES+A256KW`, RSA (2048 to 4096 bits) with `RSA-OAEP-256`,
 * the keys guest-components generates (`kbs_protocol/src/keypair.rs`). Refused, each with its own
 * reason: `RSA1_5` (RSAES-PKCS1-v1_5, deprecated and absent from WebCrypto), other algorithms,
 * other curves (P-384 included: Trustee cannot encrypt to it either), `AKP` (ML-KEM, experimental
 * upstream), coordinates that are not canonical unpadded base64url of the curve's size, and points
 * not on the curve. Trustee's JWE code applies the same rules when it encrypts; Signet applies
 * them before it binds the key, so a key it attests is a key it can encrypt to. Pure; never throws.
 */
import { fromBase64, toBase64Url, toHex, type Bytes } from "../encoding";
import { ok, type Result } from "../result";
import { kbsFail, type KbsFailure } from "./errors";

export const ECDH_ES_A256KW = "ECDH-ES+A256KW";
export const RSA_OAEP_256 = "RSA-OAEP-256";
export const RSA1_5 = "RSA1_5";

export type TeeCurve = "P-256" | "P-521";

export interface EcTeePubKey {
  readonly kty: "EC";
  readonly crv: TeeCurve;
  readonly alg: typeof ECDH_ES_A256KW;
  /** Unpadded base64url, big-endian, exactly the curve's field size (32 or 66 bytes). */
  readonly x: string;
  readonly y: string;
}

export interface RsaTeePubKey {
  readonly kty: "RSA";
  readonly alg: typeof RSA_OAEP_256;
  /** Unpadded base64url, big-endian, no leading zero byte. */
  readonly n: string;
  readonly e: string;
}

/** A validated TEE key. Plain data: it survives structured clone and JSON. */
export type TeePubKey = EcTeePubKey | RsaTeePubKey;

/** The JSON object Trustee serializes for a TeePubKey (serde tag first, then declaration order). */
export type TeePubKeyJwk = TeePubKey;

interface CurveParams {
  readonly size: number;
  readonly p: bigint;
  readonly b: bigint;
}

/** y² = x³ − 3x + b over GF(p); both curves have cofactor 1 (SEC 2 v2 §2.4.2 and §2.6.1). */
export const TEE_CURVES: Readonly<Record<TeeCurve, CurveParams>> = {
  "P-256": {
    size: 32,
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  "P-521": {
    size: 66,
    p: (1n << 521n) - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
};

const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 4096;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Unpadded base64url in its one canonical spelling (no padding, no stray trailing bits), as the
 * Rust `base64` crate's URL_SAFE_NO_PAD engine decodes it; undefined otherwise or past `maxChars`.
 */
export function decodeBase64UrlStrict(s: string, maxChars: number): Bytes | undefined {
  if (s.length > maxChars || !BASE64URL.test(s)) return undefined;
  const bytes = fromBase64(s);
  if (!bytes || toBase64Url(bytes) !== s) return undefined;
  return bytes;
}

function isTeeCurve(v: string): v is TeeCurve {
  return v === "P-256" || v === "P-521";
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${toHex(bytes)}`);
}

/** True when (x, y) is an affine point of `curve` with both coordinates below p. */
export function isOnCurve(curve: TeeCurve, x: Uint8Array, y: Uint8Array): boolean {
  const { p, b, size } = TEE_CURVES[curve];
  if (x.length !== size || y.length !== size) return false;
  const [X, Y] = [toBigInt(x), toBigInt(y)];
  if (X >= p || Y >= p) return false;
  const rhs = (((X * X * X - 3n * X + b) % p) + p) % p;
  return (Y * Y) % p === rhs;
}

function members(v: Record<string, unknown>, names: readonly string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const name of names) {
    const m = Object.hasOwn(v, name) ? v[name] : undefined;
    if (typeof m !== "string") return name;
    out[name] = m;
  }
  return out;
}

function parseEc(v: Record<string, unknown>): Result<EcTeePubKey, KbsFailure> {
  const m = members(v, ["crv", "alg", "x", "y"]);
  if (typeof m === "string") return kbsFail("malformed_tee_pubkey", `EC tee-pubkey: "${m}" is missing or not a string`);
  const { crv, alg, x, y } = m as { crv: string; alg: string; x: string; y: string };
  if (alg !== ECDH_ES_A256KW) return kbsFail("unsupported_key_algorithm", `EC tee-pubkey: algorithm ${JSON.stringify(alg.slice(0, 64))} is not ${ECDH_ES_A256KW}`);
  if (!isTeeCurve(crv)) return kbsFail("unsupported_curve", `EC tee-pubkey: curve ${JSON.stringify(crv.slice(0, 64))} is not P-256 or P-521`);
  const size = TEE_CURVES[crv].size;
  const chars = Math.ceil((size * 4) / 3);
  const xb = decodeBase64UrlStrict(x, chars);
  const yb = decodeBase64UrlStrict(y, chars);
  if (!xb || !yb || xb.length !== size || yb.length !== size) {
    return kbsFail("bad_coordinate", `EC tee-pubkey: x and y must be ${size}-byte big-endian values in unpadded base64url (${chars} characters)`);
  }
  if (!isOnCurve(crv, xb, yb)) return kbsFail("point_not_on_curve", `EC tee-pubkey: (x, y) is not a point of ${crv}`);
  return ok({ kty: "EC", crv, alg: ECDH_ES_A256KW, x, y });
}

function parseRsa(v: Record<string, unknown>): Result<RsaTeePubKey, KbsFailure> {
  const m = members(v, ["alg", "n", "e"]);
  if (typeof m === "string") return kbsFail("malformed_tee_pubkey", `RSA tee-pubkey: "${m}" is missing or not a string`);
  const { alg, n, e } = m as { alg: string; n: string; e: string };
  if (alg === RSA1_5) return kbsFail("rsa1_5_refused", "RSA tee-pubkey: RSA1_5 (RSAES-PKCS1-v1_5) is refused; use RSA-OAEP-256");
  if (alg !== RSA_OAEP_256) return kbsFail("unsupported_key_algorithm", `RSA tee-pubkey: algorithm ${JSON.stringify(alg.slice(0, 64))} is not ${RSA_OAEP_256}`);
  const nb = decodeBase64UrlStrict(n, Math.ceil(RSA_MAX_BITS / 6));
  const eb = decodeBase64UrlStrict(e, 8);
  if (!nb || nb.length === 0 || nb[0] === 0 || !eb || eb.length === 0 || eb.length > 4 || eb[0] === 0) {
    return kbsFail("bad_rsa_key", "RSA tee-pubkey: n and e must be minimal big-endian unsigned integers in unpadded base64url (e at most 4 bytes)");
  }
  const bits = nb.length * 8 - Math.clz32(nb[0]!) + 24;
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) return kbsFail("bad_rsa_key", `RSA tee-pubkey: the modulus has ${bits} bits, not ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`);
  const exponent = toBigInt(eb);
  if ((nb[nb.length - 1]! & 1) === 0 || (eb[eb.length - 1]! & 1) === 0 || exponent < 3n) {
    return kbsFail("bad_rsa_key", "RSA tee-pubkey: the modulus and the exponent must be odd, the exponent at least 3");
  }
  return ok({ kty: "RSA", alg: RSA_OAEP_256, n, e });
}

/** Parses a `tee-pubkey` value (already JSON-decoded). Members other than those typed are ignored. */
export function parseTeePubKey(v: unknown): Result<TeePubKey, KbsFailure> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return kbsFail("malformed_tee_pubkey", "tee-pubkey is not a JSON object");
  const obj = v as Record<string, unknown>;
  const kty = Object.hasOwn(obj, "kty") ? obj.kty : undefined;
  if (typeof kty !== "string") return kbsFail("malformed_tee_pubkey", 'tee-pubkey: "kty" is missing or not a string');
  if (kty === "EC") return parseEc(obj);
  if (kty === "RSA") return parseRsa(obj);
  if (kty === "AKP") return kbsFail("unsupported_key_type", "tee-pubkey: kty AKP (ML-KEM) is experimental upstream and not served");
  return kbsFail("unsupported_key_type", `tee-pubkey: kty ${JSON.stringify(kty.slice(0, 64))} is not EC or RSA`);
}

/** The key as Trustee re-serializes it: only the typed members, `kty` first. */
export function teePubKeyJwk(key: TeePubKey): TeePubKeyJwk {
  return key.kty === "EC"
    ? { kty: "EC", crv: key.crv, alg: key.alg, x: key.x, y: key.y }
    : { kty: "RSA", alg: key.alg, n: key.n, e: key.e };
}
