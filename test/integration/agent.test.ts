/**
 * Node attestation and agent authentication through the Worker (issue 9): join tokens (single use),
 * the `tee` path with the key broker's attestation token (sample TEE; the SVID key is the key the
 * evidence bound), the agent proof on every call (replay, wrong request, wrong key), renewal and
 * banning.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { registryFor } from "../../src/durable/addresses";
import { fromBase64, toBase64 } from "../../src/lib/encoding";
import { parseTeePubKey, type TeeKeyPair } from "../../src/lib/kbs";
import { createAgentProof } from "../../src/lib/spiffe/agent-proof";
import { parseTrustDomain, type TrustDomain } from "../../src/lib/spiffe/id";
import { verifyX509Svid } from "../../src/lib/spiffe/x509-svid";
import { attestRequest, authRequest, cookieOf, sampleAttestation } from "../support/kbs-guest";
import { ADMIN_TOKEN, call, problemOf } from "../support/worker-client";
import { x509 } from "../support/x509";

const td = (parseTrustDomain("example.org") as { value: TrustDomain }).value;
const EC = { name: "ECDSA", namedCurve: "P-256" } as const;

interface AgentKeys {
  readonly pair: CryptoKeyPair;
  readonly csr: string;
}

async function agentKeys(): Promise<AgentKeys> {
  const pair = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=agent", keys: pair, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
  return { pair, csr: csr.toString("pem") };
}

async function attest(body: unknown): Promise<Response> {
  return call("/agent/v1/attest", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

async function joinToken(): Promise<string> {
  const res = await call("/admin/v1/join-tokens", { method: "POST", headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify({ ttl: 600 }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

interface Attested {
  readonly spiffe_id: string;
  readonly svid: string[];
  readonly bundle: string[];
  readonly expires_at: number;
  readonly reattestable: boolean;
}

async function agentCall(keys: AgentKeys, svidB64: string, method: string, path: string, body = "", over: { proof?: string; now?: number } = {}): Promise<Response> {
  const bytes = new TextEncoder().encode(body);
  const proof = over.proof ?? (await createAgentProof(keys.pair.privateKey, "ES256", fromBase64(svidB64)!, { method, path, body: bytes, now: over.now ?? Date.now() }));
  return call(path, { method, headers: { "Signet-Agent-Proof": proof, ...(body ? { "Content-Type": "application/json" } : {}) }, ...(body ? { body } : {}) });
}

async function createEntry(spiffeId: string, parentId: string, selectors: [string, string][]): Promise<{ id: string; revision_number: number }> {
  const res = await call("/admin/v1/entries", {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ entries: [{ spiffe_id: spiffeId, parent_id: parentId, selectors: selectors.map(([type, value]) => ({ type, value })), dns_names: ["web.example.org"] }] }),
  });
  const body = (await res.json()) as { results: { status: string; entry: { id: string; revision_number: number } }[] };
  expect(body.results[0]!.status).toBe("created");
  return body.results[0]!.entry;
}

describe("join_token attestation", () => {
  it("a token gives one agent SVID (spiffe://<td>/signet/agent/join_token/<token>) that verifies against the bundle; the token is spent", async () => {
    const token = await joinToken();
    const keys = await agentKeys();
    const res = await attest({ type: "join_token", token, csr: keys.csr });
    expect(res.status).toBe(200);
    const a = (await res.json()) as Attested;
    expect(a.spiffe_id).toBe(`spiffe://example.org/signet/agent/join_token/${token}`);
    expect(a.reattestable).toBe(false);
    const verified = await verifyX509Svid({ chain: [fromBase64(a.svid[0]!)!], authorities: a.bundle.map((b) => fromBase64(b)!), trustDomain: td, now: Date.now() });
    expect(verified).toMatchObject({ ok: true, value: { spiffeId: a.spiffe_id } });

    const again = await attest({ type: "join_token", token, csr: keys.csr });
    expect(again.status).toBe(401);
    expect(await problemOf(again)).toMatchObject({ code: "attestation_failed", detail: "Node attestation failed." });
    expect((await attest({ type: "join_token", token: "0".repeat(36), csr: keys.csr })).status).toBe(401);
  });

  it("a CSR whose signature does not verify is refused before the token is spent", async () => {
    const token = await joinToken();
    const keys = await agentKeys();
    const der = new Uint8Array(new x509.Pkcs10CertificateRequest(keys.csr).rawData);
    der[der.length - 3]! ^= 1;
    const bad = await attest({ type: "join_token", token, csr: toBase64(der) });
    expect(bad.status).toBe(400);
    expect((await attest({ type: "join_token", token, csr: keys.csr })).status).toBe(200);
  });
});

describe("the agent proof on every call", () => {
  it("whoami with a good proof; a replay, another path, another body, another key, no proof: 401", async () => {
    const keys = await agentKeys();
    const a = (await (await attest({ type: "join_token", token: await joinToken(), csr: keys.csr })).json()) as Attested;
    const ok = await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ spiffe_id: a.spiffe_id, selectors: [] });

    const proof = await createAgentProof(keys.pair.privateKey, "ES256", fromBase64(a.svid[0]!)!, { method: "GET", path: "/agent/v1/whoami", body: new Uint8Array(), now: Date.now() });
    expect((await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami", "", { proof })).status).toBe(200);
    const replay = await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami", "", { proof });
    expect(replay.status).toBe(401);
    expect(await problemOf(replay)).toMatchObject({ code: "agent_unauthorized" });

    const forRenew = await createAgentProof(keys.pair.privateKey, "ES256", fromBase64(a.svid[0]!)!, { method: "POST", path: "/agent/v1/renew", body: new Uint8Array(), now: Date.now() });
    expect((await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami", "", { proof: forRenew })).status).toBe(401);
    const stranger = await agentKeys();
    expect((await agentCall(stranger, a.svid[0]!, "GET", "/agent/v1/whoami")).status).toBe(401);
    expect((await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami", "", { now: Date.now() - 120_000 })).status).toBe(401);
    expect((await call("/agent/v1/whoami")).status).toBe(401);
  });

  it("renewal replaces the agent SVID: the old one stops authenticating, the new one works; a banned agent is refused everywhere", async () => {
    const keys = await agentKeys();
    const a = (await (await attest({ type: "join_token", token: await joinToken(), csr: keys.csr })).json()) as Attested;
    const next = await agentKeys();
    const body = JSON.stringify({ csr: next.csr });
    const renewed = await agentCall(keys, a.svid[0]!, "POST", "/agent/v1/renew", body);
    expect(renewed.status).toBe(200);
    const r = (await renewed.json()) as Attested;
    expect(r.spiffe_id).toBe(a.spiffe_id);
    expect((await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami")).status).toBe(401);
    expect((await agentCall(next, r.svid[0]!, "GET", "/agent/v1/whoami")).status).toBe(200);

    await registryFor(env, td).banAgent({ spiffeId: a.spiffe_id, now: Date.now() });
    const banned = await agentCall(next, r.svid[0]!, "GET", "/agent/v1/whoami");
    expect(banned.status).toBe(403);
    expect(await problemOf(banned)).toMatchObject({ code: "agent_banned" });
    expect((await agentCall(next, r.svid[0]!, "POST", "/agent/v1/renew", JSON.stringify({ csr: (await agentKeys()).csr }))).status).toBe(403);
  });
});

describe("POST /agent/v1/svids/x509: the admission runs beside the CSR checks, and still decides", () => {
  it("a replayed proof, an SVID renewed away, a banned agent, no proof: refused, nothing signed; a bad body is 400 only once admitted", async () => {
    const keys = await agentKeys();
    const a = (await (await attest({ type: "join_token", token: await joinToken(), csr: keys.csr })).json()) as Attested;
    const mine = await createEntry("spiffe://example.org/x509-admission", a.spiffe_id, [["unix", "uid:1003"]]);
    const path = "/agent/v1/svids/x509";
    const body = JSON.stringify({ requests: [{ entry_id: mine.id, csr: (await agentKeys()).csr }] });
    const statuses = async (res: Response) => ((await res.json()) as { results: { status: string }[] }).results.map((r) => r.status);

    const proof = await createAgentProof(keys.pair.privateKey, "ES256", fromBase64(a.svid[0]!)!, { method: "POST", path, body: new TextEncoder().encode(body), now: Date.now() });
    const first = await agentCall(keys, a.svid[0]!, "POST", path, body, { proof });
    expect(first.status).toBe(200);
    expect(await statuses(first)).toEqual(["ok"]);
    const replay = await agentCall(keys, a.svid[0]!, "POST", path, body, { proof });
    expect(replay.status).toBe(401);
    expect(await problemOf(replay)).toMatchObject({ code: "agent_unauthorized" });
    expect((await call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body })).status).toBe(401);
    expect((await agentCall(await agentKeys(), a.svid[0]!, "POST", path, body)).status).toBe(401);

    // Not JSON: 400 for an admitted call, 401 for a replayed one (the admission answers first).
    const garbage = "{not json";
    const garbageProof = await createAgentProof(keys.pair.privateKey, "ES256", fromBase64(a.svid[0]!)!, { method: "POST", path, body: new TextEncoder().encode(garbage), now: Date.now() });
    const bad = await agentCall(keys, a.svid[0]!, "POST", path, garbage, { proof: garbageProof });
    expect(bad.status).toBe(400);
    expect(await problemOf(bad)).toMatchObject({ code: "malformed_json" });
    expect((await agentCall(keys, a.svid[0]!, "POST", path, garbage, { proof: garbageProof })).status).toBe(401);

    const next = await agentKeys();
    const renewed = (await (await agentCall(keys, a.svid[0]!, "POST", "/agent/v1/renew", JSON.stringify({ csr: next.csr }))).json()) as Attested;
    expect((await agentCall(keys, a.svid[0]!, "POST", path, body)).status).toBe(401);
    const again = await agentCall(next, renewed.svid[0]!, "POST", path, body);
    expect(await statuses(again)).toEqual(["ok"]);

    await registryFor(env, td).banAgent({ spiffeId: a.spiffe_id, now: Date.now() });
    const banned = await agentCall(next, renewed.svid[0]!, "POST", path, body);
    expect(banned.status).toBe(403);
    expect(await problemOf(banned)).toMatchObject({ code: "agent_banned" });
  });
});

describe("tee attestation (the native path)", () => {
  /** The agent runs the key broker handshake with its SVID public key as tee-pubkey. */
  async function attestationToken(keys: AgentKeys): Promise<string> {
    const { x, y } = (await crypto.subtle.exportKey("jwk", keys.pair.publicKey)) as JsonWebKey;
    const teePubKey = parseTeePubKey({ kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", x, y });
    if (!teePubKey.ok) throw new Error(teePubKey.error.detail);
    const auth = await authRequest();
    const { nonce } = (await auth.json()) as { nonce: string };
    const res = await attestRequest(cookieOf(auth), await sampleAttestation(nonce, { keyPair: keys.pair, teePubKey: teePubKey.value } as TeeKeyPair));
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  }

  it("a sample TEE token and a CSR of the bound key: an agent SVID with node selectors from the verified claims, the same ID on re-attestation", async () => {
    const keys = await agentKeys();
    const token = await attestationToken(keys);
    const res = await attest({ type: "tee", attestation_token: token, csr: keys.csr });
    expect(res.status).toBe(200);
    const a = (await res.json()) as Attested;
    expect(a.spiffe_id).toMatch(/^spiffe:\/\/example\.org\/signet\/agent\/tee\/[0-9a-f]{32}$/);
    expect(a.reattestable).toBe(true);
    const who = (await (await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami")).json()) as { selectors: string[] };
    expect(who.selectors).toEqual(expect.arrayContaining(["tee:type:sample", "sample:launch_digest:abcde"]));

    const again = await agentKeys();
    const second = (await (await attest({ type: "tee", attestation_token: await attestationToken(again), csr: again.csr })).json()) as Attested;
    expect(second.spiffe_id).toBe(a.spiffe_id);
  });

  it("a CSR of another key than the one the evidence bound, or a forged token: 401", async () => {
    const keys = await agentKeys();
    const token = await attestationToken(keys);
    const other = await agentKeys();
    expect((await attest({ type: "tee", attestation_token: token, csr: other.csr })).status).toBe(401);
    const [h, p] = token.split(".");
    expect((await attest({ type: "tee", attestation_token: `${h}.${p}.AAAA`, csr: keys.csr })).status).toBe(401);
    expect((await attest({ type: "tee", attestation_token: "x.y.z", csr: keys.csr })).status).toBe(401);
  });
});

describe("authorized entries and X.509-SVIDs for an agent", () => {


  it("sync gives what is parented to the agent, then only what changed, and what is gone; SVIDs only for authorized entries", async () => {
    const keys = await agentKeys();
    const a = (await (await attest({ type: "join_token", token: await joinToken(), csr: keys.csr })).json()) as Attested;
    const mine = await createEntry("spiffe://example.org/web", a.spiffe_id, [["unix", "uid:1000"]]);
    const foreign = await createEntry("spiffe://example.org/db", "spiffe://example.org/signet/agent/join_token/someone-else-0000", [["unix", "uid:1001"]]);

    type Page = { full: boolean; entries: { id: string; spiffe_id: string; revision_number: number }[]; removed: string[]; cursor: string | null; next_page_token: string | null };
    const sync = async (body: Record<string, unknown>) => {
      const res = await agentCall(keys, a.svid[0]!, "POST", "/agent/v1/entries/sync", JSON.stringify(body));
      expect(res.status).toBe(200);
      return (await res.json()) as Page;
    };
    const first = await sync({});
    expect(first).toMatchObject({ full: true, entries: [{ id: mine.id }], removed: [], next_page_token: null });
    expect(first.cursor).toEqual(expect.any(String));
    expect(await sync({ cursor: first.cursor })).toMatchObject({ full: false, entries: [], removed: [] });

    const mine2 = await createEntry("spiffe://example.org/web2", a.spiffe_id, [["unix", "uid:1002"]]);
    const delta = await sync({ cursor: first.cursor });
    expect(delta).toMatchObject({ full: false, entries: [{ id: mine2.id }], removed: [] });
    const del = await call("/admin/v1/entries/delete", { method: "POST", headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify({ ids: [mine2.id] }) });
    expect(del.status).toBe(200);
    expect(await sync({ cursor: delta.cursor })).toMatchObject({ full: false, entries: [], removed: [mine2.id] });
    expect((await sync({ cursor: "not-a-cursor" })).full).toBe(true);
    const badToken = await agentCall(keys, a.svid[0]!, "POST", "/agent/v1/entries/sync", JSON.stringify({ page_token: "AAAA" }));
    expect(badToken.status).toBe(400);
    expect(await problemOf(badToken)).toMatchObject({ code: "invalid_page_token" });

    const csr = (await agentKeys()).csr;
    const signed = await agentCall(keys, a.svid[0]!, "POST", "/agent/v1/svids/x509", JSON.stringify({ requests: [{ entry_id: mine.id, csr }, { entry_id: foreign.id, csr }] }));
    expect(signed.status).toBe(200);
    const { results } = (await signed.json()) as { results: { entry_id: string; status: string; svid?: string[] }[] };
    expect(results.map((r) => r.status)).toEqual(["ok", "entry_not_authorized"]);
    const cert = new x509.X509Certificate(fromBase64(results[0]!.svid![0]!)!);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.map((n) => n.value)).toEqual(expect.arrayContaining(["spiffe://example.org/web", "web.example.org"]));
  });

  it("a tee agent is authorized through a node entry whose selectors its node selectors include", async () => {
    const keys = await agentKeys();
    const { x, y } = (await crypto.subtle.exportKey("jwk", keys.pair.publicKey)) as JsonWebKey;
    const teePubKey = parseTeePubKey({ kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", x, y });
    if (!teePubKey.ok) throw new Error("key");
    const auth = await authRequest();
    const { nonce } = (await auth.json()) as { nonce: string };
    const token = ((await (await attestRequest(cookieOf(auth), await sampleAttestation(nonce, { keyPair: keys.pair, teePubKey: teePubKey.value } as TeeKeyPair))).json()) as { token: string }).token;
    const a = (await (await attest({ type: "tee", attestation_token: token, csr: keys.csr })).json()) as Attested;
    const node = await createEntry("spiffe://example.org/nodes/sample-guests", "spiffe://example.org/signet/server", [["tee", "type:sample"]]);
    const workload = await createEntry("spiffe://example.org/guest-app", node.id ? "spiffe://example.org/nodes/sample-guests" : "", [["unix", "uid:0"]]);
    const unmatched = await createEntry("spiffe://example.org/nodes/snp-guests", "spiffe://example.org/signet/server", [["tee", "type:snp"]]);
    const hidden = await createEntry("spiffe://example.org/snp-app", "spiffe://example.org/nodes/snp-guests", [["unix", "uid:0"]]);
    const res = await agentCall(keys, a.svid[0]!, "POST", "/agent/v1/entries/sync", JSON.stringify({}));
    const ids = ((await res.json()) as { entries: { id: string }[] }).entries.map((e) => e.id);
    expect(ids).toContain(workload.id);
    expect(ids).not.toContain(hidden.id);
    expect(ids).not.toContain(unmatched.id);
  });
});

describe("admin: attested agents", () => {
  const admin = (path: string, init: RequestInit = {}) => call(path, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers as Record<string, string> | undefined) } });

  it("list, show, ban (refused everywhere), evict; the admin token is required", async () => {
    const keys = await agentKeys();
    const a = (await (await attest({ type: "join_token", token: await joinToken(), csr: keys.csr })).json()) as Attested;
    const path = `/admin/v1/agents/${encodeURIComponent(a.spiffe_id)}`;
    const shown = await admin(path);
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({ spiffe_id: a.spiffe_id, attestation_type: "join_token", banned: false, can_reattest: false });
    const list = (await (await admin("/admin/v1/agents?attestation_type=join_token&page_size=1000")).json()) as { agents: { spiffe_id: string }[] };
    expect(list.agents.map((x) => x.spiffe_id)).toContain(a.spiffe_id);

    expect((await call(path)).status).toBe(401);
    expect((await admin(`${path}/ban`, { method: "POST" })).status).toBe(200);
    expect((await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami")).status).toBe(403);
    const banned = (await (await admin("/admin/v1/agents?banned=true&page_size=1000")).json()) as { agents: { spiffe_id: string }[] };
    expect(banned.agents.map((x) => x.spiffe_id)).toContain(a.spiffe_id);

    expect((await admin(path, { method: "DELETE" })).status).toBe(204);
    expect((await admin(path)).status).toBe(404);
    expect((await admin(path, { method: "DELETE" })).status).toBe(404);
    expect((await agentCall(keys, a.svid[0]!, "GET", "/agent/v1/whoami")).status).toBe(401);
    expect((await admin("/admin/v1/agents?page_size=x")).status).toBe(400);
    expect((await admin("/admin/v1/agents/not-an-id")).status).toBe(400);
  });
});
