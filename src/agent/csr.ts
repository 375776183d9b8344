/**
 * Keys and PKCS#10 requests the agent makes, in memory only, with a minimal CSR (empty subject, no
 * attributes) the server uses only for its public key, after checking its signature.
 *
 * - The agent's own key: WebCrypto, not extractable (it signs every agent-API proof).
 * - Workload keys: node:crypto, synchronously on the main thread. The Workload API hands them out as
 *   PKCS#8, so the cache keeps only those bytes. WebCrypto would run each generate/sign/export on
 *   libuv's thread pool, whose threads each get a malloc arena of their own: signing 1,000 SVIDs
 *   that way left ~10 MB more resident (measured: 1,000 keys + signatures, 63 MB RSS with
 *   WebCrypto, 53 MB synchronously). A batch is made in slices that yield to the event loop.
 */
import { generateKeyPairSync, sign } from "node:crypto";
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

function certificationRequestInfo(spki: Uint8Array): Uint8Array {
  return encodeSequence(encodeSmallInteger(0), encodeSequence(), spki, encodeExplicit(0));
}

function certificationRequest(info: Uint8Array, derSignature: Uint8Array): Uint8Array {
  return encodeSequence(info, signatureAlgorithmIdentifier("ec-p256"), encodeBitString(derSignature));
}

/** A DER PKCS#10 request for `key` (version 0, empty subject, no attributes), signed ecdsa-with-SHA256. */
export async function createCsr(key: SvidKey): Promise<Uint8Array> {
  const info = certificationRequestInfo(key.spki);
  const p1363 = new Uint8Array(await crypto.subtle.sign(SIGN_P256, key.privateKey, info as Uint8Array<ArrayBuffer>));
  return certificationRequest(info, ecdsaP1363ToDer(p1363));
}

/** A workload's key: its SubjectPublicKeyInfo and PKCS#8 DER, and the CSR for it (base64 DER). */
export interface WorkloadKey {
  readonly spki: Uint8Array;
  readonly pkcs8: Uint8Array;
  readonly csr: string;
}

/** A fresh ECDSA P-256 workload key and its CSR, made synchronously (see the header). */
export function workloadKeyAndCsr(): WorkloadKey {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const pkcs8 = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  const info = certificationRequestInfo(spki);
  const signature = new Uint8Array(sign("sha256", info, { key: privateKey, dsaEncoding: "der" }));
  return { spki, pkcs8, csr: toBase64(certificationRequest(info, signature)) };
}

/** Keys made per turn of the event loop: a slice blocks it for a few milliseconds at most. */
const KEYS_PER_SLICE = 32;

/** `n` workload keys, in slices that let the Workload API answer in between. */
export async function workloadKeysAndCsrs(n: number): Promise<WorkloadKey[]> {
  const keys: WorkloadKey[] = [];
  while (keys.length < n) {
    if (keys.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    for (let i = 0; i < KEYS_PER_SLICE && keys.length < n; i++) keys.push(workloadKeyAndCsr());
  }
  return keys;
}

/** The CSR as the agent API takes it (standard base64 DER). */
export async function csrText(key: SvidKey): Promise<string> {
  return toBase64(await createCsr(key));
}
