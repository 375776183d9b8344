/**
 * The rest of node attestation and the agent API (issue 9): x509pop against the configured test CA
 * (SPIRE's challenge/response, single use, bound to one chain), JWT-SVIDs for authorized entries
 * only, and the bundles an agent serves.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CertificateAuthority } from "../../src/durable/ca";
import { spiffeBundleDocument } from "../../src/lib/spiffe/bundle";
import { importJWK, jwtVerify } from "jose";
import { concatBytes, fromBase64, fromPemAll, toBase64, toHex } from "../../src/lib/encoding";
import { sha1 } from "../../src/lib/crypto/sha1";
import { agentCall, agentKeys, attest, createEntry, joinedAgent, type Attested } from "../support/agent-api";
import { fixtureText } from "../support/fixtures-workers";
import { adminPost, call, ORIGIN, problemOf } from "../support/worker-client";
import { x509 } from "../support/x509";

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const leafPem = fixtureText("x509pop/agent.pem");
const leafDer = fromPemAll(leafPem, "CERTIFICATE")![0]!;

async function pkcs8Key(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", fromPemAll(pem, "PRIVATE KEY")![0]!, EC, false, ["sign"]);
}

/** The agent's answer: ECDSA over SHA-256(challenge nonce ‖ own nonce), r and s as base64. */
async function answer(key: CryptoKey, challenge: { ecdsa_signature: { nonce: string } }): Promise<Record<string, unknown>> {
  const own = crypto.getRandomValues(new Uint8Array(32));
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, concatBytes(fromBase64(challenge.ecdsa_signature.nonce)!, own)));
  return { ecdsa_signature: { nonce: toBase64(own), r: toBase64(sig.subarray(0, 32)), s: toBase64(sig.subarray(32)) } };
}

interface Challenged {
  readonly challenge_id: string;
  readonly challenge: { ecdsa_signature: { nonce: string }; rsa_signature: null };
}

async function challenge(certificates: string[]): Promise<Challenged> {
  const res = await attest({ type: "x509pop", certificates });
  expect(res.status).toBe(200);
  return (await res.json()) as Challenged;
}

describe("x509pop node attestation", () => {
  const certificates = [toBase64(leafDer)];

  it("the bootstrap certificate's key answers the challenge: an agent SVID with SPIRE's agent ID shape and selectors", async () => {
    const c = await challenge(certificates);
    expect(c.challenge.rsa_signature).toBeNull();
    expect(fromBase64(c.challenge.ecdsa_signature.nonce)).toHaveLength(32);
    const keys = await agentKeys();
    const res = await attest({ type: "x509pop_response", challenge_id: c.challenge_id, certificates, response: await answer(await pkcs8Key(fixtureText("x509pop/agent.key")), c.challenge), csr: keys.csr });
    expect(res.status).toBe(200);
    const a = (await res.json()) as Attested;
    expect(a.spiffe_id).toBe(`spiffe://example.org/signet/agent/x509pop/${toHex(sha1(leafDer))}`);
    expect(a.reattestable).toBe(true);
    const who = (await (await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami")).json()) as { selectors: string[] };
    const serial = new x509.X509Certificate(leafDer).serialNumber.toLowerCase().replace(/^0+/, "");
    expect(who.selectors).toEqual(expect.arrayContaining(["x509pop:subject:cn:node-1.example.org", "x509pop:san:datacenter:us-east-1"]));
    expect(who.selectors.some((s) => s.startsWith("x509pop:ca:fingerprint:"))).toBe(true);
    expect(who.selectors.some((s) => s.startsWith("x509pop:serialnumber:") && s.endsWith(serial))).toBe(true);
  });

  it("a challenge is answered once; another chain, another key or a forged signature is refused", async () => {
    const key = await pkcs8Key(fixtureText("x509pop/agent.key"));
    const keys = await agentKeys();
    const c = await challenge(certificates);
    const response = await answer(key, c.challenge);
    expect((await attest({ type: "x509pop_response", challenge_id: c.challenge_id, certificates, response, csr: keys.csr })).status).toBe(200);
    const replay = await attest({ type: "x509pop_response", challenge_id: c.challenge_id, certificates, response, csr: keys.csr });
    expect(replay.status).toBe(401);
    expect(await problemOf(replay)).toMatchObject({ code: "attestation_failed", detail: "Node attestation failed." });

    const other = (await crypto.subtle.generateKey(EC, false, ["sign"])) as CryptoKeyPair;
    const c2 = await challenge(certificates);
    expect((await attest({ type: "x509pop_response", challenge_id: c2.challenge_id, certificates, response: await answer(other.privateKey, c2.challenge), csr: keys.csr })).status).toBe(401);

    const c3 = await challenge(certificates);
    const forged = (await answer(key, c3.challenge)) as { ecdsa_signature: { r: string } };
    const r = fromBase64(forged.ecdsa_signature.r)!;
    r[0]! ^= 1;
    forged.ecdsa_signature.r = toBase64(r);
    expect((await attest({ type: "x509pop_response", challenge_id: c3.challenge_id, certificates, response: forged, csr: keys.csr })).status).toBe(401);
    expect((await attest({ type: "x509pop_response", challenge_id: "0".repeat(32), certificates, response: forged, csr: keys.csr })).status).toBe(401);
  });

  it("a chain to no configured anchor is refused at the first step; malformed payloads get 400", async () => {
    const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
    const selfSigned = await x509.X509CertificateGenerator.createSelfSigned({ name: "CN=stranger", keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" }, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3600_000), extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)] });
    const res = await attest({ type: "x509pop", certificates: [toBase64(new Uint8Array(selfSigned.rawData))] });
    expect(res.status).toBe(401);
    expect(await problemOf(res)).toMatchObject({ code: "attestation_failed" });
    expect((await attest({ type: "x509pop", certificates: [] })).status).toBe(400);
    expect((await attest({ type: "x509pop", certificates: ["!!"] })).status).toBe(401);
    expect((await attest({ type: "x509pop_response", challenge_id: "nope", certificates, response: {}, csr: "x" })).status).toBe(400);
  });
});

describe("JWT-SVIDs and bundles for an agent", () => {
  it("a JWT-SVID for an authorized entry verifies with the bundle's JWT keys; a foreign entry is refused with 403", async () => {
    const { keys, agent } = await joinedAgent();
    const mine = await createEntry("spiffe://example.org/jwt-web", agent.spiffe_id, [["unix", "uid:1000"]], { jwtSvidTtl: 120 });
    const foreign = await createEntry("spiffe://example.org/jwt-db", "spiffe://example.org/signet/agent/join_token/someone-else-1111", [["unix", "uid:1001"]]);

    const res = await agentCall(keys, agent.svid[0]!, "POST", "/agent/v1/svids/jwt", JSON.stringify({ entry_id: mine.id, audience: ["vault", "aws"] }));
    expect(res.status).toBe(200);
    const svid = (await res.json()) as { spiffe_id: string; token: string; expires_at: number };
    expect(svid.spiffe_id).toBe("spiffe://example.org/jwt-web");

    const bundles = await agentCall(keys, agent.svid[0]!, "GET", "/agent/v1/bundles");
    expect(bundles.status).toBe(200);
    const b = (await bundles.json()) as { trust_domain: string; bundle: { keys: { use: string; kid?: string }[]; spiffe_sequence: number }; federated: Record<string, unknown> };
    expect(b.trust_domain).toBe("example.org");
    expect(b.bundle.spiffe_sequence).toBeGreaterThan(0);
    const { header } = { header: JSON.parse(new TextDecoder().decode(fromBase64(svid.token.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/")))) as { kid: string } };
    const jwk = b.bundle.keys.find((k) => k.use === "jwt-svid" && k.kid === header.kid);
    expect(jwk).toBeDefined();
    const { payload } = await jwtVerify(svid.token, await importJWK({ ...(jwk as object), use: undefined } as never, "ES256"), { audience: "vault" });
    expect(payload.sub).toBe("spiffe://example.org/jwt-web");
    expect(payload.exp! - payload.iat!).toBe(120);

    const denied = await agentCall(keys, agent.svid[0]!, "POST", "/agent/v1/svids/jwt", JSON.stringify({ entry_id: foreign.id, audience: ["vault"] }));
    expect(denied.status).toBe(403);
    expect(await problemOf(denied)).toMatchObject({ code: "entry_not_authorized" });
    expect((await agentCall(keys, agent.svid[0]!, "POST", "/agent/v1/svids/jwt", JSON.stringify({ entry_id: mine.id, audience: [] }))).status).toBe(400);
    expect((await agentCall(keys, agent.svid[0]!, "GET", "/agent/v1/bundles", "", { now: Date.now() - 600_000 })).status).toBe(401);
  });
});

describe("admin credentials: a JWT-SVID of an admin entry", () => {
  it("a JWT-SVID for an entry with admin: true and audience = the issuer may call /admin/v1; others get 401", async () => {
    const { keys, agent } = await joinedAgent();
    const admin = await createEntry("spiffe://example.org/ops/admin-cli", agent.spiffe_id, [["unix", "uid:0"]], { admin: true });
    const plain = await createEntry("spiffe://example.org/ops/not-admin", agent.spiffe_id, [["unix", "uid:1"]]);
    const mint = async (entryId: string, audience: string) => {
      const res = await agentCall(keys, agent.svid[0]!, "POST", "/agent/v1/svids/jwt", JSON.stringify({ entry_id: entryId, audience: [audience] }));
      expect(res.status).toBe(200);
      return ((await res.json()) as { token: string }).token;
    };
    const list = (token: string) => call("/admin/v1/entries?page_size=1", { headers: { Authorization: `Bearer ${token}` } });

    expect((await list(await mint(admin.id, ORIGIN))).status).toBe(200);
    const notAdmin = await list(await mint(plain.id, ORIGIN));
    expect(notAdmin.status).toBe(401);
    expect(await problemOf(notAdmin)).toMatchObject({ code: "unauthorized" });
    expect((await list(await mint(admin.id, "vault"))).status).toBe(401);
    const t = await mint(admin.id, ORIGIN);
    expect((await list(`${t.slice(0, -4)}AAAA`)).status).toBe(401);
  });
});

describe("the server's clock for agents", () => {
  it("every answer carries a Date header (agents sign proofs in the server's time when their clock is off)", async () => {
    for (const res of [await call("/healthz"), await attest({ type: "join_token", token: "x", csr: "x" }), await call("/agent/v1/whoami")]) {
      const date = Date.parse(res.headers.get("Date") ?? "");
      expect(Math.abs(date - Date.now())).toBeLessThan(5_000);
    }
  });
});

describe("sync: long-poll, node entries, federated bundles", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  type Page = { full: boolean; entries: { id: string }[]; removed: string[]; cursor: string | null };

  it("an idle delta with wait_ms answers at the next change, with that change", async () => {
    const { keys, agent } = await joinedAgent();
    const sync = async (body: Record<string, unknown>) => (await (await agentCall(keys, agent.svid[0]!, "POST", "/agent/v1/entries/sync", JSON.stringify(body))).json()) as Page;
    const first = await sync({});
    const t0 = Date.now();
    const waiting = sync({ cursor: first.cursor, wait_ms: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    const created = await createEntry("spiffe://example.org/long-poll", agent.spiffe_id, [["unix", "uid:7"]]);
    const page = await waiting;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(page).toMatchObject({ full: false, entries: [{ id: created.id }] });
    // Nothing changes: the wait runs out and the answer is an empty delta.
    const idle = await sync({ cursor: page.cursor, wait_ms: 300 });
    expect(idle).toMatchObject({ full: false, entries: [], removed: [] });
  });

  it("a change to a node entry the agent matches makes the next sync a full one", async () => {
    const { keys, agent } = await joinedAgent();
    const sync = async (body: Record<string, unknown>) => (await (await agentCall(keys, agent.svid[0]!, "POST", "/agent/v1/entries/sync", JSON.stringify(body))).json()) as Page;
    const first = await sync({});
    await createEntry("spiffe://example.org/nodes/structural", "spiffe://example.org/signet/server", [["tee", "type:nothing-matches"]]);
    expect((await sync({ cursor: first.cursor })).full).toBe(true);
  });

  it("bundles: the federated bundles of the trust domains the agent's entries federate with", async () => {
    const ns = env.CA as DurableObjectNamespace<CertificateAuthority>;
    const peerCa = await ns.get(ns.idFromName("peer-ca:agent-bundles")).getTrustBundle();
    if (!peerCa.ok) throw new Error("peer CA");
    const peerDoc = spiffeBundleDocument(peerCa.value.keys, peerCa.value.sequence, 300);
    vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
      const url = input instanceof Request ? input.url : String(input);
      return url === "https://peer-bundles.test/bundle" ? new Response(JSON.stringify(peerDoc), { headers: { "Content-Type": "application/json" } }) : new Response("no", { status: 404 });
    });
    expect((await adminPost("/admin/v1/federation", { trust_domain: "peer-bundles.test", bundle_endpoint_url: "https://peer-bundles.test/bundle", bundle_endpoint_profile: "https_web" })).status).toBe(201);
    const { keys, agent } = await joinedAgent();
    const bundles = async () => (await (await agentCall(keys, agent.svid[0]!, "GET", "/agent/v1/bundles")).json()) as { federated: Record<string, { keys: { use: string; x5c?: string[] }[] }> };
    expect((await bundles()).federated).toEqual({});
    await createEntry("spiffe://example.org/federated-app", agent.spiffe_id, [["unix", "uid:8"]], { federatesWith: ["peer-bundles.test"] });
    const got = (await bundles()).federated["peer-bundles.test"];
    expect(got?.keys.filter((k) => k.use === "x509-svid").map((k) => k.x5c![0])).toEqual(peerDoc.keys.filter((k) => k.use === "x509-svid").map((k) => k.x5c![0]));
  });
});
