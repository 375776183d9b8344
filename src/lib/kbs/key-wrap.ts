/**
 * The key management of the KBS's JWE (RFC 7518 §4.6 and §4.3) on WebCrypto: ECDH-ES on the TEE
 * key's curve, the Concat KDF of NIST SP 800-56A with SHA-256 (one round for a 256-bit key), and
 * AES-256 Key Wrap of the content key; or RSA-OAEP with SHA-256 and MGF1-SHA-256. Concat KDF is the
 * one piece WebCrypto lacks, and it is one hash here. The CEK is imported as an AES-GCM key.
 */
import { concatBytes, utf8, type Bytes } from "../encoding";
import { decodeBase64UrlStrict, ECDH_ES_A256KW, TEE_CURVES, type EcTeePubKey, type RsaTeePubKey, type TeeCurve } from "./tee-pubkey";

const KEK_BITS = 256;

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/**
 * Concat KDF for `ECDH-ES+A256KW` with empty apu/apv:
 * SHA-256(00000001 ‖ Z ‖ len32(alg) ‖ alg ‖ 00000000 ‖ 00000000 ‖ 00000100).
 */
export async function concatKdf(z: Uint8Array): Promise<Bytes> {
  const alg = utf8(ECDH_ES_A256KW);
  const info = concatBytes(u32(1), z, u32(alg.length), alg, u32(0), u32(0), u32(KEK_BITS));
  return new Uint8Array(await crypto.subtle.digest("SHA-256", info));
}

export function ecdhParams(crv: TeeCurve): { readonly name: "ECDH"; readonly namedCurve: TeeCurve } {
  return { name: "ECDH", namedCurve: crv };
}

/** An ECDH public key from base64url coordinates, or undefined (WebCrypto checks the point too). */
export async function importEcPublicKey(crv: TeeCurve, x: string, y: string): Promise<CryptoKey | undefined> {
  const size = TEE_CURVES[crv].size;
  const chars = Math.ceil((size * 4) / 3);
  const xb = decodeBase64UrlStrict(x, chars);
  const yb = decodeBase64UrlStrict(y, chars);
  if (!xb || !yb || xb.length !== size || yb.length !== size) return undefined;
  try {
    return await crypto.subtle.importKey("raw", concatBytes(new Uint8Array([4]), xb, yb), ecdhParams(crv), false, []);
  } catch {
    return undefined;
  }
}

/** The AES-KW key-encryption key agreed between `privateKey` and `publicKey` on `crv`. */
export async function agreeKek(crv: TeeCurve, privateKey: CryptoKey, publicKey: CryptoKey, usage: "wrapKey" | "unwrapKey"): Promise<CryptoKey> {
  // WebCrypto names the peer key `public`; workerd's generated types spell the member `$public`.
  const ecdh = { name: "ECDH", public: publicKey } as unknown as Parameters<SubtleCrypto["deriveBits"]>[0];
  const z = new Uint8Array(await crypto.subtle.deriveBits(ecdh, privateKey, TEE_CURVES[crv].size * 8));
  return crypto.subtle.importKey("raw", await concatKdf(z), { name: "AES-KW" }, false, [usage]);
}

export async function importCek(cek: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", cek as Bytes, { name: "AES-GCM" }, true, [usage]);
}

export const RSA_OAEP_SHA256 = { name: "RSA-OAEP", hash: "SHA-256" } as const;

export async function importRsaPublicKey(key: RsaTeePubKey): Promise<CryptoKey> {
  return crypto.subtle.importKey("jwk", { kty: "RSA", n: key.n, e: key.e, ext: true }, RSA_OAEP_SHA256, false, ["encrypt"]);
}

/** The recipient's EC key as a WebCrypto key; the key was validated when parsed, so failure is misuse. */
export async function importTeeEcKey(key: EcTeePubKey): Promise<CryptoKey> {
  const k = await importEcPublicKey(key.crv, key.x, key.y);
  if (!k) throw new TypeError("the TEE key is not a valid EC public key (parse it with parseTeePubKey)");
  return k;
}
