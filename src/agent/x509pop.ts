/**
 * The agent's side of x509pop node attestation, on SPIRE's wire format (specs/spiffe.md §2.6;
 * the server side is lib/node-attestation/x509pop.ts): the bootstrap certificate chain is sent, and
 * the server's 32-byte challenge nonce answered with the leaf key's signature over
 * SHA-256(challenge nonce ‖ our own 32-byte nonce): ECDSA as big-endian r and s without leading
 * zeros, or RSASSA-PSS/SHA-256 with the largest salt (Go's PSSSaltLengthAuto, as SPIRE's agent signs).
 * The key is read once into a non-extractable CryptoKey and never leaves memory.
 */
import { concatBytes, fromBase64, fromPemAll, toBase64 } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import { parseCertificate } from "../lib/x509/cert-reader";
import { parseSpki, type SpkiInfo } from "../lib/x509/spki";
import type { X509PopChallengeAnswer } from "./wire";

export const X509POP_NONCE_BYTES = 32;

export interface X509PopKey {
  readonly privateKey: CryptoKey;
  readonly info: SpkiInfo;
}

export interface X509PopCredential {
  /** Standard base64 DER: the leaf first, then its intermediates. */
  readonly certificates: readonly string[];
  readonly key: X509PopKey;
}

/** The certificate chain (PEM, leaf first) and the leaf's PKCS#8 PEM key; checks that they belong together. */
export async function loadX509PopCredential(certPem: string, keyPem: string): Promise<Result<X509PopCredential, string>> {
  const certs = fromPemAll(certPem, "CERTIFICATE");
  if (!certs || certs.length === 0) return err("the certificate file holds no PEM CERTIFICATE");
  if (certs.length > 5) return err("the certificate file holds more than a leaf and 4 intermediates");
  const leaf = parseCertificate(certs[0]!);
  if (!leaf.ok) return err(`the first certificate does not parse (${leaf.error.reason})`);
  const info = parseSpki(leaf.value.spki);
  if (!info.ok) return err(`the certificate's key is not supported (${info.error.reason})`);
  if (/-----BEGIN (EC|RSA) PRIVATE KEY-----/.test(keyPem)) return err("the key must be PKCS#8 (BEGIN PRIVATE KEY); convert it with `openssl pkcs8 -topk8 -nocrypt`");
  const pkcs8 = fromPemAll(keyPem, "PRIVATE KEY");
  if (!pkcs8 || pkcs8.length !== 1) return err("the key file must hold one PEM PRIVATE KEY (PKCS#8, unencrypted)");
  let privateKey: CryptoKey;
  try {
    const params = info.value.kind === "ec" ? { name: "ECDSA", namedCurve: info.value.curve } : { name: "RSA-PSS", hash: "SHA-256" };
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8[0]!, params, false, ["sign"]);
  } catch {
    return err("the key does not import as the certificate's key type");
  }
  const key = { privateKey, info: info.value };
  if (!(await keyMatches(key, leaf.value.spki))) return err("the key is not the certificate's key");
  return ok({ certificates: certs.map((c) => toBase64(c)), key });
}

function signParams(info: SpkiInfo): { readonly name: string; readonly hash?: string; readonly saltLength?: number } {
  // Go's rsa.PSSSaltLengthAuto on sign is the largest salt: ceil((modBits − 1) / 8) − hLen − 2.
  return info.kind === "ec" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSA-PSS", saltLength: Math.ceil((info.modulusBits - 1) / 8) - 32 - 2 };
}

async function keyMatches(key: X509PopKey, spki: Uint8Array): Promise<boolean> {
  const probe = crypto.getRandomValues(new Uint8Array(32));
  try {
    const params = key.info.kind === "ec" ? { name: "ECDSA", namedCurve: key.info.curve } : { name: "RSA-PSS", hash: "SHA-256" };
    const pub = await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, params, false, ["verify"]);
    const sig = await crypto.subtle.sign(signParams(key.info), key.privateKey, probe);
    return await crypto.subtle.verify(signParams(key.info), pub, sig, probe);
  } catch {
    return false;
  }
}

/** A big-endian integer without its leading zero bytes (Go's big.Int.Bytes()). */
function minimal(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.slice(i);
}

/**
 * The response to one challenge. `ownNonce` is injectable for tests; by default 32 random bytes.
 * Fails (a value) when the challenge is for another key kind or its nonce is not 32 bytes.
 */
export async function answerX509PopChallenge(
  key: X509PopKey,
  challenge: X509PopChallengeAnswer["challenge"],
  ownNonce: Uint8Array = crypto.getRandomValues(new Uint8Array(X509POP_NONCE_BYTES)),
): Promise<Result<Record<string, unknown>, string>> {
  if (ownNonce.length !== X509POP_NONCE_BYTES) throw new TypeError("the agent's nonce is 32 bytes");
  const part = key.info.kind === "rsa" ? challenge.rsa_signature : challenge.ecdsa_signature;
  if (!part) return err(`the server's challenge is not for an ${key.info.kind === "rsa" ? "RSA" : "ECDSA"} key`);
  const theirs = fromBase64(part.nonce);
  if (!theirs || theirs.length !== X509POP_NONCE_BYTES) return err("the server's challenge nonce is not 32 bytes");
  const signed = concatBytes(theirs, ownNonce);
  const signature = new Uint8Array(await crypto.subtle.sign(signParams(key.info), key.privateKey, signed));
  if (key.info.kind === "rsa") return ok({ rsa_signature: { nonce: toBase64(ownNonce), signature: toBase64(signature) } });
  const half = signature.length / 2;
  return ok({ ecdsa_signature: { nonce: toBase64(ownNonce), r: toBase64(minimal(signature.subarray(0, half))), s: toBase64(minimal(signature.subarray(half))) } });
}
