/**
 * The agent proof (DPoP-style, lib/spiffe/agent-proof.ts) and the X509-SVID validation under it
 * (lib/spiffe/x509-svid.ts), with SVIDs issued by Signet's own CA code.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildCaCertificate, readCaCertificate } from "../../../src/lib/ca/ca-certificate";
import { issueX509Svids, type X509Issuer } from "../../../src/lib/ca/issue";
import { generateSigningKey } from "../../../src/lib/crypto/keys";
import { fromBase64, toBase64Url, utf8 } from "../../../src/lib/encoding";
import { createAgentProof, verifyAgentProof, type AgentProofAlgorithm } from "../../../src/lib/spiffe/agent-proof";
import { parseTrustDomain, type TrustDomain } from "../../../src/lib/spiffe/id";
import { verifyX509Svid } from "../../../src/lib/spiffe/x509-svid";
import type { KeyType } from "../../../src/lib/x509/algorithms";
import { prng } from "../../support/prng";
import { x509 } from "../../support/x509";

const NOW = Date.UTC(2026, 5, 1, 12);
const HOUR = 3600_000;
const td = (parseTrustDomain("example.org") as { value: TrustDomain }).value;
const other = (parseTrustDomain("other.org") as { value: TrustDomain }).value;
const AGENT = "spiffe://example.org/signet/agent/join_token/4f0c2c5e";
const BODY = utf8('{"entries":[]}');
const REQUEST = { method: "POST", path: "/agent/v1/entries/sync", body: BODY, now: NOW };

async function makeCa(domain: TrustDomain, keyType: KeyType = "ec-p256"): Promise<{ issuer: X509Issuer; der: Uint8Array }> {
  const key = await generateSigningKey(keyType);
  const der = await buildCaCertificate({ trustDomain: domain, keyType, spki: key.spki, privateKey: key.privateKey, notBefore: NOW - HOUR, notAfter: NOW + 24 * HOUR });
  const info = await readCaCertificate(der, keyType);
  if (!info.ok) throw new Error(info.error.reason);
  return { issuer: { key: key.privateKey, ca: info.value, notBefore: NOW - HOUR, notAfter: NOW + 24 * HOUR }, der };
}

interface Agent {
  readonly key: CryptoKey;
  readonly pkcs8: Uint8Array;
  readonly svid: Uint8Array;
}

async function makeAgent(ca: X509Issuer, spiffeId = AGENT, keyType: "ec-p256" | "ec-p384" | "rsa-2048" = "ec-p256", domain = td): Promise<Agent> {
  const key = await generateSigningKey(keyType);
  const [svid] = await issueX509Svids(ca, [{ spiffeId, publicKey: key.spki, ttlSeconds: 3600 }], { trustDomain: domain, maxTtlSeconds: 86400, now: NOW });
  if (!svid!.ok) throw new Error(svid!.error.detail);
  return { key: key.privateKey, pkcs8: key.pkcs8, svid: svid!.value.certChain[0]! };
}

let ca: { issuer: X509Issuer; der: Uint8Array };
let agent: Agent;

beforeAll(async () => {
  ca = await makeCa(td);
  agent = await makeAgent(ca.issuer);
});

const verify = (proof: string, over: Partial<typeof REQUEST> = {}, authorities = [ca.der]) =>
  verifyAgentProof({ proof, ...REQUEST, ...over, authorities, trustDomain: td });

describe("agent proofs", () => {
  it.each([
    ["ec-p256", "ES256"],
    ["ec-p384", "ES384"],
    ["rsa-2048", "RS256"],
    ["rsa-2048", "PS256"],
  ] as const)("a %s SVID key signing %s: verified, with the agent ID, jti and expiry", async (keyType, alg) => {
    const a = keyType === "ec-p256" ? agent : await makeAgent(ca.issuer, AGENT, keyType);
    // The same RSA key signs PKCS#1 v1.5 or PSS; WebCrypto binds a key to one scheme, so import it for PSS.
    const key = alg === "PS256" ? await crypto.subtle.importKey("pkcs8", a.pkcs8 as Uint8Array<ArrayBuffer>, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]) : a.key;
    const proof = await createAgentProof(key, alg as AgentProofAlgorithm, a.svid, { ...REQUEST, jti: "abcdefghijklmnop" });
    const r = await verify(proof);
    expect(r).toMatchObject({ ok: true, value: { agentId: AGENT, jti: "abcdefghijklmnop", expiresAt: NOW + 61_000 } });
  });

  it("refuses each way a proof can be wrong, with its reason", async () => {
    const good = await createAgentProof(agent.key, "ES256", agent.svid, REQUEST);
    const [h, p, s] = good.split(".") as [string, string, string];
    const enc = (o: unknown) => toBase64Url(utf8(JSON.stringify(o)));
    const header = JSON.parse(new TextDecoder().decode(fromBase64(h)!)) as Record<string, unknown>;
    const stranger = await makeAgent((await makeCa(td)).issuer);
    const workload = await makeAgent(ca.issuer, "spiffe://example.org/web");
    const otherCa = await makeCa(other);
    const foreign = await makeAgent(otherCa.issuer, "spiffe://other.org/signet/agent/x", "ec-p256", other);
    const cases: [string, Promise<Awaited<ReturnType<typeof verify>>>, string][] = [
      ["another method", verify(good, { method: "GET" }), "proof_mismatch"],
      ["another path", verify(good, { path: "/agent/v1/svids" }), "proof_mismatch"],
      ["another body", verify(good, { body: utf8("{}") }), "proof_mismatch"],
      ["61 s later", verify(good, { now: NOW + 61_001 }), "proof_stale"],
      ["made 61 s ahead of the server's clock", verify(await createAgentProof(agent.key, "ES256", agent.svid, { ...REQUEST, now: NOW + 61_001 })), "proof_stale"],
      ["an SVID past its expiry", verify(good, { now: NOW + 2 * HOUR }), "svid_expired"],
      ["signed by a key that is not the SVID's", verify(await createAgentProof(stranger.key, "ES256", agent.svid, REQUEST)), "proof_signature"],
      ["an SVID from another CA", verify(await createAgentProof(stranger.key, "ES256", stranger.svid, REQUEST)), "svid_untrusted"],
      ["a workload SVID", verify(await createAgentProof(workload.key, "ES256", workload.svid, REQUEST)), "proof_not_agent"],
      ["another trust domain", verify(await createAgentProof(foreign.key, "ES256", foreign.svid, REQUEST), {}, [ca.der, otherCa.der]), "svid_foreign_trust_domain"],
      ["the CA certificate as SVID", verify(await createAgentProof(agent.key, "ES256", ca.der, REQUEST)), "svid_not_leaf"],
      ["ES384 with a P-256 key", verify(`${enc({ ...header, alg: "ES384" })}.${p}.${s}`), "proof_algorithm"],
      ["alg none", verify(`${enc({ ...header, alg: "none" })}.${p}.`), "proof_algorithm"],
      ["another typ", verify(`${enc({ ...header, typ: "dpop+jwt" })}.${p}.${s}`), "proof_malformed"],
      ["no x5c", verify(`${enc({ typ: header.typ, alg: "ES256" })}.${p}.${s}`), "proof_malformed"],
      ["x5c not base64", verify(`${enc({ ...header, x5c: ["**"] })}.${p}.${s}`), "proof_malformed"],
      ["two certificates", verify(`${enc({ ...header, x5c: [...(header.x5c as string[]), ...(header.x5c as string[])] })}.${p}.${s}`), "svid_untrusted"],
      ["a changed claim", verify(`${h}.${enc({ ...JSON.parse(new TextDecoder().decode(fromBase64(p)!)), jti: "zzzzzzzzzzzzzzzzzzzz" })}.${s}`), "proof_signature"],
      ["two parts", verify(`${h}.${p}`), "proof_malformed"],
      ["oversized", verify("a".repeat(17_000)), "proof_malformed"],
    ];
    let checked = 0;
    for (const [name, pending, reason] of cases) {
      const r = await pending;
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error.reason, name).toBe(reason);
      checked++;
    }
    expect(checked).toBe(cases.length);
  });

  it("never throws on 2,000 mutated proofs, and accepts none that changed a signed byte", async () => {
    const good = await createAgentProof(agent.key, "ES256", agent.svid, REQUEST);
    const rand = prng(23);
    let accepted = 0;
    let runs = 0;
    for (let i = 0; i < 2000; i++) {
      const chars = [...good];
      const at = Math.floor(rand() * chars.length);
      chars[at] = "AQg_-.x"[Math.floor(rand() * 7)]!;
      const mutated = chars.join("");
      runs++;
      if (mutated !== good && (await verify(mutated)).ok) accepted++;
    }
    expect(runs).toBe(2000);
    // Only a change in the unused low bits of the last base64url character of a part can still verify.
    expect(accepted).toBeLessThan(10);
  });
});

describe("X509-SVID validation", () => {
  async function custom(opts: { uris?: string[]; keyUsage?: { usages: number; critical: boolean } | null }): Promise<Uint8Array> {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const caKeys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
    if (opts.keyUsage !== null) extensions.push(new x509.KeyUsagesExtension(opts.keyUsage?.usages ?? x509.KeyUsageFlags.digitalSignature, opts.keyUsage?.critical ?? true));
    if (opts.uris) extensions.push(new x509.SubjectAlternativeNameExtension(opts.uris.map((value) => ({ type: "url" as const, value }))));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: "01",
      subject: "CN=x",
      issuer: "CN=x",
      notBefore: new Date(NOW - HOUR),
      notAfter: new Date(NOW + HOUR),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions,
    });
    return new Uint8Array(cert.rawData);
  }

  it.each([
    ["two URI SANs", { uris: ["spiffe://example.org/a", "spiffe://example.org/b"] }, "svid_uri_san"],
    ["no URI SAN", { uris: [] }, "svid_uri_san"],
    ["a URI SAN that is not spiffe", { uris: ["https://example.org/a"] }, "svid_uri_san"],
    ["a SPIFFE ID without a path", { uris: ["spiffe://example.org"] }, "svid_uri_san"],
    ["no key usage", { uris: ["spiffe://example.org/a"], keyUsage: null }, "svid_key_usage"],
    ["a non-critical key usage", { uris: ["spiffe://example.org/a"], keyUsage: { usages: x509.KeyUsageFlags.digitalSignature, critical: false } }, "svid_key_usage"],
    ["keyCertSign", { uris: ["spiffe://example.org/a"], keyUsage: { usages: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, critical: true } }, "svid_not_leaf"],
    ["no digitalSignature", { uris: ["spiffe://example.org/a"], keyUsage: { usages: x509.KeyUsageFlags.keyEncipherment, critical: true } }, "svid_key_usage"],
    ["a well-formed SVID of an unknown CA", { uris: ["spiffe://example.org/a"] }, "svid_untrusted"],
  ] as const)("%s: %s", async (_name, opts, reason) => {
    const der = await custom(opts as unknown as Parameters<typeof custom>[0]);
    expect(await verifyX509Svid({ chain: [der], authorities: [ca.der], trustDomain: td, now: NOW })).toMatchObject({ ok: false, error: { reason } });
  });

  it("an SVID Signet's CA issued verifies; not before its notBefore", async () => {
    expect(await verifyX509Svid({ chain: [agent.svid], authorities: [ca.der], trustDomain: td, now: NOW })).toMatchObject({ ok: true, value: { spiffeId: AGENT } });
    expect(await verifyX509Svid({ chain: [agent.svid], authorities: [ca.der], trustDomain: td, now: NOW - HOUR })).toMatchObject({ ok: false, error: { reason: "svid_not_yet_valid" } });
    expect(await verifyX509Svid({ chain: [], authorities: [ca.der], trustDomain: td, now: NOW })).toMatchObject({ ok: false, error: { reason: "svid_malformed" } });
  });
});
