/**
 * Private keys at rest: generated extractable, exported once as PKCS#8, wrapped under the
 * key-encryption key (AES-256-GCM, additional data binding the blob to its authority), and
 * re-imported non-extractable for use. CryptoKeys cannot be stored, so this is the only way in.
 */
import { fromBase64, toBase64, utf8, concatBytes, type Bytes } from "../encoding";
import { err, ok, type Result } from "../result";
import { KEY_TYPES, type KeyType } from "../x509/algorithms";
import type { PublicJwk } from "../spiffe/bundle";

export interface GeneratedKey {
  /** PKCS#8 DER; wrap it at once and drop it. */
  readonly pkcs8: Uint8Array;
  readonly spki: Uint8Array;
  readonly publicJwk: PublicJwk;
  /** The private key, already re-imported non-extractable. */
  readonly privateKey: CryptoKey;
}

export async function importKek(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new TypeError("the key-encryption key must be 32 bytes");
  return crypto.subtle.importKey("raw", raw as Bytes, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

const IV_BYTES = 12;

/** Returns base64(iv ‖ AES-GCM(pkcs8)), bound to `context` (for example the authority id). */
export async function wrapPrivateKey(kek: CryptoKey, pkcs8: Uint8Array, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(context) }, kek, pkcs8 as Bytes));
  return toBase64(concatBytes(iv, sealed));
}

export interface UnwrapError {
  readonly reason: "key_unwrap_failed";
}

export async function unwrapPrivateKey(kek: CryptoKey, wrapped: string, context: string): Promise<Result<Uint8Array, UnwrapError>> {
  const blob = fromBase64(wrapped);
  if (!blob || blob.length <= IV_BYTES + 16) return err({ reason: "key_unwrap_failed" });
  try {
    const iv = blob.slice(0, IV_BYTES);
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: utf8(context) }, kek, blob.slice(IV_BYTES));
    return ok(new Uint8Array(plain));
  } catch {
    return err({ reason: "key_unwrap_failed" });
  }
}

/**
 * The same sealing for any secret bytes other than private keys (key broker resources): AES-256-GCM
 * under the KEK, bound to `context` (for example the resource path), so a sealed value moved to
 * another row does not open.
 */
export const sealSecret: (kek: CryptoKey, secret: Uint8Array, context: string) => Promise<string> = wrapPrivateKey;
export const openSecret: (kek: CryptoKey, sealed: string, context: string) => Promise<Result<Uint8Array, UnwrapError>> = unwrapPrivateKey;

export async function generateSigningKey(keyType: KeyType): Promise<GeneratedKey> {
  const params = KEY_TYPES[keyType];
  const pair = (await crypto.subtle.generateKey(params.generate, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  const privateKey = await importPrivateKey(keyType, pkcs8);
  return { pkcs8, spki, publicJwk: toPublicJwk(jwk), privateKey };
}

/** Imports PKCS#8 as a non-extractable signing key: it can sign, it can never be exported again. */
export async function importPrivateKey(keyType: KeyType, pkcs8: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", pkcs8 as Bytes, KEY_TYPES[keyType].import, false, ["sign"]);
}

function toPublicJwk(jwk: JsonWebKey): PublicJwk {
  if (jwk.kty === "EC") return { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y };
  if (jwk.kty === "RSA") return { kty: "RSA", n: jwk.n, e: jwk.e };
  throw new TypeError(`unexpected key type ${String(jwk.kty)}`);
}

const KID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 random characters from [A-Za-z0-9], as SPIRE makes its JWT key ids. */
export function randomKeyId(): string {
  let s = "";
  while (s.length < 32) {
    // 248 = 4 × 62: rejecting larger bytes keeps the distribution uniform.
    for (const b of crypto.getRandomValues(new Uint8Array(48))) {
      if (b < 248 && s.length < 32) s += KID_ALPHABET[b % 62];
    }
  }
  return s;
}
