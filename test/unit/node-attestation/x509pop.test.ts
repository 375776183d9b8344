/**
 * x509pop node attestation on SPIRE's wire format: chains to configured anchors, the challenge, the
 * agent's answer signed as SPIRE's agent signs it (RSA-PSS with the largest salt, ECDSA r/s), and the
 * agent ID and selectors SPIRE derives.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { toBase64, toHex } from "../../../src/lib/encoding";
import { sha1 } from "../../../src/lib/crypto/sha1";
import { verifyX509PopChain, verifyX509PopResponse, x509PopChallenge, x509PopIdentity, type VerifiedX509PopChain } from "../../../src/lib/node-attestation/x509pop";
import { x509 } from "../../support/x509";

const NOW = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } as const;

interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function issue(subject: string, issuer: Issued | undefined, opts: { ca: boolean; alg?: "ec" | "rsa"; usages?: number; notAfter?: number; uris?: string[] }): Promise<Issued> {
  const algorithm = opts.alg === "rsa" ? RSA : EC;
  const keys = (await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(opts.ca, undefined, true), new x509.KeyUsagesExtension(opts.usages ?? (opts.ca ? x509.KeyUsageFlags.keyCertSign : x509.KeyUsageFlags.digitalSignature), true)];
  if (opts.uris) extensions.push(new x509.SubjectAlternativeNameExtension(opts.uris.map((value) => ({ type: "url" as const, value }))));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "0a1b",
    subject,
    issuer: issuer ? issuer.cert.subject : subject,
    notBefore: new Date(NOW - DAY),
    notAfter: new Date(opts.notAfter ?? NOW + DAY),
    publicKey: keys.publicKey,
    signingKey: issuer ? issuer.keys.privateKey : keys.privateKey,
    signingAlgorithm: issuer ? (issuer.keys.privateKey.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" }) : opts.alg === "rsa" ? { name: "RSASSA-PKCS1-v1_5" } : { name: "ECDSA", hash: "SHA-256" },
    extensions,
  });
  return { cert, keys };
}

const der = (i: Issued) => new Uint8Array(i.cert.rawData);
const payload = (...chain: Issued[]) => ({ certificates: chain.map((c) => toBase64(der(c))) });

/** The agent's answer, exactly as SPIRE's x509pop agent plugin makes it. */
async function answer(leaf: Issued, challenge: Record<string, { nonce: string } | null>): Promise<Record<string, unknown>> {
  const ours = crypto.getRandomValues(new Uint8Array(32));
  const theirs = Uint8Array.from(atob((challenge.rsa_signature ?? challenge.ecdsa_signature)!.nonce), (c) => c.charCodeAt(0));
  const data = new Uint8Array([...theirs, ...ours]);
  if (challenge.rsa_signature) {
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", leaf.keys.privateKey);
    const pss = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]);
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "RSA-PSS", saltLength: 256 - 32 - 2 }, pss, data));
    return { rsa_signature: { nonce: toBase64(ours), signature: toBase64(signature) } };
  }
  const p1363 = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, leaf.keys.privateKey, data));
  const minimal = (b: Uint8Array) => b.subarray(b.findIndex((x) => x !== 0));
  return { ecdsa_signature: { nonce: toBase64(ours), r: toBase64(minimal(p1363.subarray(0, 32))), s: toBase64(minimal(p1363.subarray(32))) } };
}

let root: Issued;
let intermediate: Issued;

beforeAll(async () => {
  root = await issue("CN=Bootstrap Root", undefined, { ca: true });
  intermediate = await issue("CN=Bootstrap Issuing CA", root, { ca: true });
});

describe("x509pop", () => {
  it.each(["ec", "rsa"] as const)("a %s leaf through an intermediate to the anchor: challenge, answer, agent ID and selectors", async (alg) => {
    const leaf = await issue("CN=node-7", intermediate, { ca: false, alg, uris: ["x509pop://example.org/datacenter/us-east-1"] });
    const chain = await verifyX509PopChain(payload(leaf, intermediate), [der(root)], NOW);
    if (!chain.ok) throw new Error(chain.error.detail);
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const challenge = x509PopChallenge(chain.value.key, nonce) as Record<string, { nonce: string } | null>;
    expect(Object.keys(challenge).sort()).toEqual(["ecdsa_signature", "rsa_signature"]);
    expect(await verifyX509PopResponse(chain.value, nonce, await answer(leaf, challenge))).toEqual({ ok: true, value: undefined });
    const id = x509PopIdentity(chain.value, "example.org");
    expect(id.agentPath).toBe(`/signet/agent/x509pop/${toHex(sha1(der(leaf)))}`);
    expect(id.selectors).toEqual([
      "x509pop:subject:cn:node-7",
      `x509pop:ca:fingerprint:${toHex(sha1(der(intermediate)))}`,
      `x509pop:ca:fingerprint:${toHex(sha1(der(root)))}`,
      "x509pop:serialnumber:0a1b",
      "x509pop:san:datacenter:us-east-1",
    ]);
  });

  it("refuses what SPIRE refuses", async () => {
    const leaf = await issue("CN=node", intermediate, { ca: false });
    const other = await issue("CN=Other Root", undefined, { ca: true });
    const stranger = await issue("CN=node", other, { ca: false });
    const expired = await issue("CN=old", intermediate, { ca: false, notAfter: NOW - 1000 });
    const noSign = await issue("CN=enc", intermediate, { ca: false, usages: x509.KeyUsageFlags.keyEncipherment });
    const leafAsIssuer = await issue("CN=child", leaf, { ca: false });
    const cases: [string, unknown, string][] = [
      ["a chain to another root", payload(stranger), "x509pop_untrusted"],
      ["the intermediate left out", payload(leaf), "x509pop_untrusted"],
      ["an expired leaf", payload(expired, intermediate), "x509pop_expired"],
      ["no digitalSignature", payload(noSign, intermediate), "x509pop_key_usage"],
      ["a non-CA as issuer", payload(leafAsIssuer, leaf, intermediate), "x509pop_untrusted"],
      ["five intermediates", payload(leaf, intermediate, intermediate, intermediate, intermediate, intermediate), "x509pop_malformed"],
      ["no certificates", { certificates: [] }, "x509pop_malformed"],
      ["not base64", { certificates: ["***"] }, "x509pop_malformed"],
      ["not an object", "x", "x509pop_malformed"],
    ];
    let checked = 0;
    for (const [name, p, reason] of cases) {
      expect(await verifyX509PopChain(p, [der(root)], NOW), name).toMatchObject({ ok: false, error: { reason } });
      checked++;
    }
    expect(checked).toBe(cases.length);

    const chain = (await verifyX509PopChain(payload(leaf, intermediate), [der(root)], NOW)) as { ok: true; value: VerifiedX509PopChain };
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const challenge = x509PopChallenge(chain.value.key, nonce) as Record<string, { nonce: string } | null>;
    const good = (await answer(leaf, challenge)) as { ecdsa_signature: { nonce: string; r: string; s: string } };
    const forOther = await answer(stranger, challenge);
    const responses: [string, unknown, string][] = [
      ["another key's answer", forOther, "x509pop_bad_signature"],
      ["another challenge", good, "x509pop_bad_signature"],
      ["the RSA form for an EC key", { rsa_signature: { nonce: good.ecdsa_signature.nonce, signature: "AA==" } }, "x509pop_malformed"],
      ["a short nonce", { ecdsa_signature: { ...good.ecdsa_signature, nonce: toBase64(new Uint8Array(16)) } }, "x509pop_malformed"],
      ["an oversized r", { ecdsa_signature: { ...good.ecdsa_signature, r: toBase64(new Uint8Array(33).fill(1)) } }, "x509pop_malformed"],
    ];
    for (const [name, r, reason] of responses) {
      const n = name === "another challenge" ? crypto.getRandomValues(new Uint8Array(32)) : nonce;
      expect(await verifyX509PopResponse(chain.value, n, r), name).toMatchObject({ ok: false, error: { reason } });
      checked++;
    }
    expect(checked).toBe(cases.length + responses.length);
  });

  it("the anchor itself may end the presented chain", async () => {
    const leaf = await issue("CN=node", intermediate, { ca: false });
    expect((await verifyX509PopChain(payload(leaf, intermediate, root), [der(root)], NOW)).ok).toBe(true);
    expect((await verifyX509PopChain(payload(leaf, intermediate), [der(intermediate)], NOW)).ok).toBe(true);
  });
});
