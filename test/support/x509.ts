/** Test-side X.509 through @peculiar/x509: the independent, general parser that checks our DER. */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

export { x509 };

export function b64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToB64(bytes: Uint8Array | ArrayBuffer): string {
  const u = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const b of u) s += String.fromCharCode(b);
  return btoa(s);
}

export async function newKeyPair(kind: "ec-p256" | "ec-p384" | "rsa-2048" = "ec-p256"): Promise<CryptoKeyPair> {
  const alg =
    kind === "rsa-2048"
      ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
      : { name: "ECDSA", namedCurve: kind === "ec-p256" ? "P-256" : "P-384" };
  return (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function spkiB64(pair: CryptoKeyPair): Promise<string> {
  return bytesToB64((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
}

export function sigAlgFor(kind: "ec-p256" | "ec-p384" | "rsa-2048"): { name: string; hash: string } {
  return kind === "rsa-2048"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    : { name: "ECDSA", hash: kind === "ec-p256" ? "SHA-256" : "SHA-384" };
}
