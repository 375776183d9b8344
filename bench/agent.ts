/**
 * The agent half of the registry benchmarks for scripts/bench.mjs, run in Node (esbuild bundles it):
 * an agent attested with a join token that syncs its authorized entries through /agent/v1 (a full
 * sync in pages, then a delta after one change) and asks for X.509-SVIDs 500 CSRs per call, every
 * call with its agent proof, exactly as signet-agent does.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { fromBase64 } from "../src/lib/encoding";
import { createAgentProof } from "../src/lib/spiffe/agent-proof";

x509.cryptoProvider.set(crypto);

export type Send = (path: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<Response>;

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;

async function csrOf(pair: CryptoKeyPair): Promise<string> {
  // As signet-agent sends them (src/agent/csr.ts): standard base64 DER.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=bench", keys: pair, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
  return csr.toString("base64");
}

async function expectOk(res: Response, step: string): Promise<Response> {
  if (res.status !== 200 && res.status !== 201) throw new Error(`${step}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

export interface BenchAgent {
  readonly spiffeId: string;
  call(method: string, path: string, body?: unknown): Promise<unknown>;
}

/** A new agent, attested with a fresh join token. */
export async function joinAgent(send: Send, adminToken: string): Promise<BenchAgent> {
  const admin = { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" };
  const token = ((await (await expectOk(await send("/admin/v1/join-tokens", { method: "POST", headers: admin, body: JSON.stringify({ ttl: 3600 }) }), "join token")).json()) as { token: string }).token;
  const pair = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const attested = (await (await expectOk(await send("/agent/v1/attest", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ type: "join_token", token, csr: await csrOf(pair) }) }), "attest")).json()) as { spiffe_id: string; svid: string[] };
  const svid = fromBase64(attested.svid[0]!)!;
  return {
    spiffeId: attested.spiffe_id,
    async call(method, path, body) {
      const text = body === undefined ? "" : JSON.stringify(body);
      const proof = await createAgentProof(pair.privateKey, "ES256", svid, { method, path, body: new TextEncoder().encode(text), now: Date.now() });
      const res = await send(path, { method, headers: { "Signet-Agent-Proof": proof, ...(text ? { "Content-Type": "application/json" } : {}) }, ...(text ? { body: text } : {}) });
      return (await expectOk(res, path)).json();
    },
  };
}

/** Creates `count` workload entries parented to the agent, 500 per admin call; their ids. */
export async function populate(send: Send, adminToken: string, parentId: string, count: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < count; done += 500) {
    const entries = Array.from({ length: Math.min(500, count - done) }, (_, i) => ({ spiffe_id: `spiffe://example.org/${prefix}/w${done + i}`, parent_id: parentId, selectors: [{ type: "unix", value: `uid:${(done + i) % 60000}` }] }));
    const res = await expectOk(await send("/admin/v1/entries", { method: "POST", headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" }, body: JSON.stringify({ entries }) }), "create entries");
    const body = (await res.json()) as { results: { status: string; entry?: { id: string } }[] };
    for (const r of body.results) {
      if (r.status !== "created") throw new Error(`create entries: ${r.status}`);
      ids.push(r.entry!.id);
    }
  }
  return ids;
}

interface Page {
  readonly full: boolean;
  readonly entries: { id: string }[];
  readonly removed: string[];
  readonly next_page_token: string | null;
  readonly cursor: string | null;
}

/** One complete sync from `cursor` (none: full); the entries it delivered and the new cursor. */
export async function syncAll(agent: BenchAgent, cursor?: string): Promise<{ entries: number; removed: number; full: boolean; cursor: string; pages: number }> {
  let pageToken: string | undefined;
  let entries = 0;
  let removed = 0;
  for (let pages = 1; ; pages++) {
    const page = (await agent.call("POST", "/agent/v1/entries/sync", { ...(pageToken ? { page_token: pageToken } : cursor ? { cursor } : {}) })) as Page;
    entries += page.entries.length;
    removed += page.removed.length;
    if (page.next_page_token) {
      pageToken = page.next_page_token;
      continue;
    }
    return { entries, removed, full: page.full, cursor: page.cursor!, pages };
  }
}

/** `count` CSRs of distinct keys (made once, reused across rounds). */
export async function csrs(count: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, async () => csrOf((await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair)));
}

/** X.509-SVIDs for `entryIds`, 500 per call; how many came back ok. */
export async function signBatches(agent: BenchAgent, entryIds: readonly string[], csrPool: readonly string[], inFlight = 1): Promise<number> {
  let ok = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next; i < entryIds.length; i = next) {
      next += 500;
      const requests = entryIds.slice(i, i + 500).map((entry_id, j) => ({ entry_id, csr: csrPool[(i + j) % csrPool.length]! }));
      const r = (await agent.call("POST", "/agent/v1/svids/x509", { requests })) as { results: { status: string }[] };
      ok += r.results.filter((x) => x.status === "ok").length;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return ok;
}
