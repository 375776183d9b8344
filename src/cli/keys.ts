/**
 * The workload key pair for `x509 mint`, generated on this machine with WebCrypto. Only the public
 * half (SPKI) is sent to the server; the private half is exported once, as PKCS#8, into key.pem.
 */

export const KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = "ec-p256";

const GENERATE = {
  "ec-p256": { name: "ECDSA", namedCurve: "P-256" },
  "ec-p384": { name: "ECDSA", namedCurve: "P-384" },
  "rsa-2048": {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
} as const satisfies Record<KeyType, object>;

export function isKeyType(s: string): s is KeyType {
  return (KEY_TYPES as readonly string[]).includes(s);
}

export interface WorkloadKeyPair {
  /** SubjectPublicKeyInfo DER: what the server certifies. */
  readonly spki: Uint8Array;
  /** PKCS#8 DER: written to key.pem, nowhere else. */
  readonly pkcs8: Uint8Array;
}

export async function generateWorkloadKey(keyType: KeyType): Promise<WorkloadKeyPair> {
  const pair = (await crypto.subtle.generateKey(GENERATE[keyType], true, ["sign", "verify"])) as CryptoKeyPair;
  const [spki, pkcs8] = await Promise.all([
    crypto.subtle.exportKey("spki", pair.publicKey),
    crypto.subtle.exportKey("pkcs8", pair.privateKey),
  ]);
  return { spki: new Uint8Array(spki as ArrayBuffer), pkcs8: new Uint8Array(pkcs8 as ArrayBuffer) };
}

/**
 * Whether a DER certificate carries exactly this SubjectPublicKeyInfo. The SPKI is embedded in the
 * TBSCertificate byte for byte, so a substring search suffices and needs no ASN.1 parser; a false
 * match would need the whole SPKI (≥ 91 bytes of key material) to occur elsewhere in the certificate.
 */
export function certificateHasKey(certDer: Uint8Array, spki: Uint8Array): boolean {
  if (spki.length === 0) return false;
  const last = certDer.length - spki.length;
  outer: for (let i = 0; i <= last; i++) {
    for (let j = 0; j < spki.length; j++) if (certDer[i + j] !== spki[j]) continue outer;
    return true;
  }
  return false;
}
