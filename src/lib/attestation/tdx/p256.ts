/**
 * ECDSA P-256 / SHA-256 with raw r‖s signatures, the form Intel uses inside quotes and in signed
 * collateral JSON; WebCrypto takes them unchanged (IEEE P1363). The only place in this module that
 * imports keys or calls `crypto.subtle.verify`. Never throws.
 */

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

/** A P-256 verification key from a DER SubjectPublicKeyInfo, or undefined if it is not one. */
export async function importP256Spki(spki: Uint8Array): Promise<CryptoKey | undefined> {
  try {
    return await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, ECDSA_P256, false, ["verify"]);
  } catch {
    return undefined;
  }
}

/** A P-256 verification key from the 64-byte X‖Y point of a quote, or undefined if off the curve. */
export async function importP256Point(xy: Uint8Array): Promise<CryptoKey | undefined> {
  if (xy.length !== 64) return undefined;
  const point = new Uint8Array(65);
  point[0] = 0x04;
  point.set(xy, 1);
  try {
    return await crypto.subtle.importKey("raw", point, ECDSA_P256, false, ["verify"]);
  } catch {
    return undefined;
  }
}

/** Verifies a 64-byte r‖s signature over `data`. */
export async function verifyP256(key: CryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  if (signature.length !== 64) return false;
  try {
    return await crypto.subtle.verify(ECDSA_SHA256, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}
