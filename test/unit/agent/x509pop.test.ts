/**
 * The agent's side of x509pop against the server's verifier (lib/node-attestation/x509pop.ts): ECDSA
 * (P-256, P-384) and RSA-PSS with the largest salt, the test fixture's bootstrap credential, and the
 * refusals (key kind mismatch, a key that is not the certificate's, SEC1 keys).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { answerX509PopChallenge, loadX509PopCredential } from "../../../src/agent/x509pop";
import { toBase64, toPem } from "../../../src/lib/encoding";
import { verifyX509PopChain, verifyX509PopResponse, x509PopChallenge } from "../../../src/lib/node-attestation/x509pop";
import { x509 } from "../../support/x509";

const NOW = Date.now();
const DAY = 86_400_000;

const KINDS = {
  "ec-p256": { gen: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  "ec-p384": { gen: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } },
  "rsa-2048": { gen: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, sign: { name: "RSASSA-PKCS1-v1_5" } },
  "rsa-3072": { gen: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]) }, sign: { name: "RSASSA-PKCS1-v1_5" } },
} as const;
type Kind = keyof typeof KINDS;

async function pki(kind: Kind) {
  const caKeys = (await crypto.subtle.generateKey(KINDS["ec-p256"].gen, true, ["sign", "verify"])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01", name: "CN=pop CA", notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + DAY), keys: caKeys, signingAlgorithm: KINDS["ec-p256"].sign,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const keys = (await crypto.subtle.generateKey(KINDS[kind].gen, true, ["sign", "verify"])) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "02", subject: "CN=node", issuer: ca.subject, notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + DAY), publicKey: keys.publicKey, signingKey: caKeys.privateKey, signingAlgorithm: KINDS["ec-p256"].sign,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", keys.privateKey)) as ArrayBuffer);
  return { ca: new Uint8Array(ca.rawData), certPem: toPem("CERTIFICATE", new Uint8Array(leaf.rawData)), keyPem: toPem("PRIVATE KEY", pkcs8) };
}

describe("x509pop, agent side", () => {
  it.each(Object.keys(KINDS) as Kind[])("%s: the answer verifies with the server's verifyX509PopResponse; a tampered one does not", async (kind) => {
    const p = await pki(kind);
    const cred = await loadX509PopCredential(p.certPem, p.keyPem);
    if (!cred.ok) throw new Error(cred.error);
    const chain = await verifyX509PopChain({ certificates: cred.value.certificates }, [p.ca], NOW);
    if (!chain.ok) throw new Error(chain.error.detail);
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const challenge = x509PopChallenge(chain.value.key, nonce) as { rsa_signature: { nonce: string } | null; ecdsa_signature: { nonce: string } | null };
    const response = await answerX509PopChallenge(cred.value.key, challenge);
    if (!response.ok) throw new Error(response.error);
    expect(await verifyX509PopResponse(chain.value, nonce, response.value)).toEqual({ ok: true, value: undefined });
    const other = crypto.getRandomValues(new Uint8Array(32));
    expect((await verifyX509PopResponse(chain.value, other, response.value)).ok).toBe(false);
    const ecdsa = (response.value as { ecdsa_signature?: { r: string; s: string } }).ecdsa_signature;
    if (ecdsa) expect(ecdsa.r.length).toBeGreaterThan(0);
  });

  it("the minimal r and s stay valid when they have leading zero bytes (many runs)", async () => {
    const p = await pki("ec-p256");
    const cred = await loadX509PopCredential(p.certPem, p.keyPem);
    if (!cred.ok) throw new Error(cred.error);
    const chain = await verifyX509PopChain({ certificates: cred.value.certificates }, [p.ca], NOW);
    if (!chain.ok) throw new Error("chain");
    let short = 0;
    let runs = 0;
    // About 1 in 128 signatures has an r or s with a leading zero byte: run until two have (≤ 5,000 runs).
    while (short < 2 && runs < 5000) {
      const nonce = crypto.getRandomValues(new Uint8Array(32));
      const r = await answerX509PopChallenge(cred.value.key, { ecdsa_signature: { nonce: toBase64(nonce) } });
      if (!r.ok) throw new Error(r.error);
      const sig = (r.value as { ecdsa_signature: { r: string; s: string } }).ecdsa_signature;
      if (atob(sig.r).length < 32 || atob(sig.s).length < 32) short++;
      expect((await verifyX509PopResponse(chain.value, nonce, r.value)).ok).toBe(true);
      runs++;
    }
    expect(runs).toBeGreaterThan(0);
    expect(short).toBe(2);
  });

  it("the test fixture's bootstrap credential loads; a key of another certificate, a SEC1 key and a challenge for the other key kind are refused", async () => {
    const cert = readFileSync("test/fixtures/x509pop/agent.pem", "utf8");
    const key = readFileSync("test/fixtures/x509pop/agent.key", "utf8");
    const cred = await loadX509PopCredential(cert, key);
    expect(cred.ok).toBe(true);
    const other = await pki("ec-p256");
    expect(await loadX509PopCredential(cert, other.keyPem)).toEqual({ ok: false, error: "the key is not the certificate's key" });
    expect((await loadX509PopCredential(cert, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")).ok).toBe(false);
    expect((await loadX509PopCredential("not a pem", key)).ok).toBe(false);
    if (!cred.ok) return;
    const wrongKind = await answerX509PopChallenge(cred.value.key, { rsa_signature: { nonce: toBase64(new Uint8Array(32)) }, ecdsa_signature: null });
    expect(wrongKind).toEqual({ ok: false, error: "the server's challenge is not for an ECDSA key" });
    expect((await answerX509PopChallenge(cred.value.key, { ecdsa_signature: { nonce: toBase64(new Uint8Array(16)) } })).ok).toBe(false);
  });
});
