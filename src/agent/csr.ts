/**
 * Keys and PKCS#10 requests the agent makes: ECDSA P-256 keys generated with WebCrypto, in memory
 * only, and a minimal CSR (empty subject, no attributes) the server uses only for its public key,
 * after checking its signature. Workload keys are extractable (the Workload API hands them out as
 * PKCS#8); the agent's own key is not.
 */
import { toBase64 } from "../lib/encoding";
import { ecdsaP1363ToDer, signatureAlgorithmIdentifier } from "../lib/x509/algorithms";
import { encodeBitString, encodeExplicit, encodeSequence, encodeSmallInteger } from "../lib/x509/der-writer";

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN_P256 = { name: "ECDSA", hash: "SHA-256" } as const;

export interface SvidKey {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
}

/** A fresh ECDSA P-256 key pair. */
export async function generateSvidKey(extractable: boolean): Promise<SvidKey> {
  const pair = (await crypto.subtle.generateKey(EC_P256, extractable, ["sign", "verify"])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, spki };
}

/** PKCS#8 DER of an extractable private key. */
export async function exportPkcs8(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array((await crypto.subtle.exportKey("pkcs8", key)) as ArrayBuffer);
}

/** A DER PKCS#10 request for `key` (version 0, empty subject, no attributes), signed ecdsa-with-SHA256. */
export async function createCsr(key: SvidKey): Promise<Uint8Array> {
  const info = encodeSequence(encodeSmallInteger(0), encodeSequence(), key.spki, encodeExplicit(0));
  const p1363 = new Uint8Array(await crypto.subtle.sign(SIGN_P256, key.privateKey, info as Uint8Array<ArrayBuffer>));
  return encodeSequence(info, signatureAlgorithmIdentifier("ec-p256"), encodeBitString(ecdsaP1363ToDer(p1363)));
}

/** The CSR as the agent API takes it (standard base64 DER). */
export async function csrText(key: SvidKey): Promise<string> {
  return toBase64(await createCsr(key));
}
