/**
 * The admin API through the real CLI (`node bin/signet.mjs`) against `npm run dev` (issue 9): entries
 * (a node entry and workload entries parented to it: create, compare-and-set update, list with
 * filters, show, delete; a duplicate and an invalid selector refused), a join token, an agent that
 * attests with it over HTTP, and `agent list|show|ban|evict` seeing it; once banned, its agent proof
 * is refused with agent_banned; once evicted, it is gone. The admin token comes from .dev.vars, as a
 * developer's does. IDs are unique per run, since the dev server's state is shared by the e2e files.
 */
import { describe, expect, inject, it } from "vitest";
import { fromBase64 } from "../../src/lib/encoding";
import { createAgentProof } from "../../src/lib/spiffe/agent-proof";
import { signet, signetOk } from "../support/e2e-process";
import { x509 } from "../support/x509";

const url = inject("signetUrl");
const TD = "spiffe://example.org";
const RUN = crypto.randomUUID().slice(0, 8);
const NODE = `${TD}/e2e-admin/${RUN}/node`;
const WEB = `${TD}/e2e-admin/${RUN}/web`;
const DB = `${TD}/e2e-admin/${RUN}/db`;

type Entry = { id: string; spiffe_id: string; parent_id: string; revision_number: number; hint: string; selectors: { type: string; value: string }[] };
type Agent = { spiffe_id: string; attestation_type: string; banned: boolean; selectors: unknown[]; x509_svid_serial_number: string };

const json = async <T>(args: string[]): Promise<T> => JSON.parse(await signetOk(url, [...args, "--output", "json"])) as T;
const created = async (args: string[]): Promise<Entry> => (await json<{ status: string; entry: Entry }>(["entry", "create", ...args])).entry;
const listed = async (args: string[]): Promise<string[]> => (await json<{ entries: Entry[] }>(["entry", "list", ...args])).entries.map((e) => e.spiffe_id).sort();

describe("signet entry and token against npm run dev", () => {
  let node: Entry;
  let web: Entry;
  let db: Entry;

  it("creates a node entry (parented to the server, tee:type:sample) and two workload entries parented to it", async () => {
    node = await created(["--spiffe-id", NODE, "--node", "--selector", "tee:type:sample"]);
    expect(node).toMatchObject({ spiffe_id: NODE, parent_id: `${TD}/signet/server`, selectors: [{ type: "tee", value: "type:sample" }], revision_number: 0 });
    web = await created(["--spiffe-id", WEB, "--parent-id", NODE, "--selector", "unix:uid:1000", "--x509-svid-ttl", "1h", "--dns", "web.example.org"]);
    db = await created(["--spiffe-id", DB, "--parent-id", NODE, "--selector", "unix:uid:1000", "--selector", "unix:gid:50"]);
    expect([web.parent_id, db.parent_id]).toEqual([NODE, NODE]);
    // The text form, as spire-server prints an entry.
    const text = await signetOk(url, ["entry", "show", "--entry-id", web.id]);
    expect(text).toContain(`Entry ID        : ${web.id}\nSPIFFE ID       : ${WEB}\nParent ID       : ${NODE}\nRevision        : 0\nX509-SVID TTL   : 3600s\n`);
    expect(text).toContain("Selector        : unix:uid:1000\nDNS name        : web.example.org\n");
  });

  it("refuses a duplicate (exit 1, entry_exists with the existing id) and an invalid selector (exit 2, refused by the CLI before any request)", async () => {
    const dup = await signet(url, ["entry", "create", "--spiffe-id", WEB, "--parent-id", NODE, "--selector", "unix:uid:1000"]);
    expect(dup.code, dup.stderr).toBe(1);
    expect(dup.stdout).toBe("");
    expect(dup.stderr).toMatch(new RegExp(`^signet: A similar registration entry exists: .*; existing entry ${web.id} \\(code entry_exists, HTTP 409\\)\\n$`));
    const bad = await signet(url, ["entry", "create", "--spiffe-id", `${WEB}-2`, "--parent-id", NODE, "--selector", "unix"]);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("signet: --selector 'unix':");
  });

  it("updates compare-and-set: the revision read goes from 0 to 1, a stale revision is refused (exit 1, revision_conflict)", async () => {
    const updated = (await json<{ entry: Entry }>(["entry", "update", "--entry-id", web.id, "--hint", "web", "--revision", "0"])).entry;
    expect(updated).toMatchObject({ id: web.id, hint: "web", revision_number: 1 });
    const stale = await signet(url, ["entry", "update", "--entry-id", web.id, "--hint", "other", "--revision", "0"]);
    expect(stale.code, stale.stderr).toBe(1);
    expect(stale.stderr).toContain("the entry is at revision 1 (code revision_conflict, HTTP 409)");
    // Without --revision the CLI reads the current one first.
    expect((await json<{ entry: Entry }>(["entry", "update", "--entry-id", web.id, "--hint", "web2"])).entry).toMatchObject({ hint: "web2", revision_number: 2 });
  });

  it("lists with filters: by parent (pages of one), by SPIFFE ID, by selector (superset, exact) with a hint", async () => {
    const text = await signetOk(url, ["entry", "list", "--parent-id", NODE, "--page-size", "1"]);
    expect(text).toMatch(/^Found 2 entries\n/);
    expect([...text.matchAll(/^SPIFFE ID {7}: (\S+)$/gm)].map((m) => m[1]).sort()).toEqual([DB, WEB]);
    expect(await listed(["--spiffe-id", NODE])).toEqual([NODE]);
    expect(await listed(["--parent-id", NODE, "--selector", "unix:gid:50"])).toEqual([DB]);
    expect(await listed(["--parent-id", NODE, "--selector", "unix:uid:1000", "--match", "exact", "--hint", "web2"])).toEqual([WEB]);
  });

  it("deletes: the entry is gone and showing it is refused (exit 1)", async () => {
    expect(await signetOk(url, ["entry", "delete", "--entry-id", db.id])).toBe(`Deleted entry ID ${db.id}\n`);
    const gone = await signet(url, ["entry", "show", "--entry-id", db.id]);
    expect(gone.code, gone.stderr).toBe(1);
    expect(gone.stderr).toContain("code entry_not_found, HTTP 404");
    const again = await signet(url, ["entry", "delete", "--entry-id", db.id]);
    expect(again.code).toBe(1);
  });
});

describe("signet agent against npm run dev", () => {
  const pairPromise = crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
  let agentId: string;
  let svid: string;

  async function whoami(): Promise<Response> {
    const pair = await pairPromise;
    const proof = await createAgentProof(pair.privateKey, "ES256", fromBase64(svid)!, { method: "GET", path: "/agent/v1/whoami", body: new Uint8Array(), now: Date.now() });
    return fetch(`${url}/agent/v1/whoami`, { headers: { "Signet-Agent-Proof": proof } });
  }

  it("token generate, then the agent attests with the token over HTTP and whoami answers", async () => {
    const text = await signetOk(url, ["token", "generate", "--ttl", "5m"]);
    const token = /^Token: (\S+)$/m.exec(text)![1]!;
    agentId = /^Agent ID: (\S+)$/m.exec(text)![1]!;
    expect(agentId).toBe(`${TD}/signet/agent/join_token/${token}`);

    const pair = await pairPromise;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=agent", keys: pair, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
    const res = await fetch(`${url}/agent/v1/attest`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ type: "join_token", token, csr: csr.toString("pem") }) });
    const attested = (await res.json()) as { spiffe_id: string; svid: string[] };
    expect(res.status, JSON.stringify(attested)).toBe(200);
    expect(attested.spiffe_id).toBe(agentId);
    svid = attested.svid[0]!;
    const me = await whoami();
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ spiffe_id: agentId, selectors: [] });
  });

  it("agent list and show see it", async () => {
    const all = await json<{ agents: Agent[] }>(["agent", "list", "--attestation-type", "join_token", "--banned", "false"]);
    expect(all.agents.map((a) => a.spiffe_id)).toContain(agentId);
    const shown = await json<Agent>(["agent", "show", "--spiffe-id", agentId]);
    expect(shown).toMatchObject({ spiffe_id: agentId, attestation_type: "join_token", banned: false, selectors: [] });
    const text = await signetOk(url, ["agent", "show", "--spiffe-id", agentId]);
    expect(text).toContain(`SPIFFE ID         : ${agentId}\nAttestation type  : join_token\n`);
    expect(text).toContain(`Serial number     : ${shown.x509_svid_serial_number}\nCan re-attest     : false\nBanned            : false\n`);
  });

  it("agent ban: the agent's proof is refused with agent_banned, and the banned filter finds it", async () => {
    expect(await signetOk(url, ["agent", "ban", "--spiffe-id", agentId])).toBe("Agent banned successfully\n");
    const me = await whoami();
    expect(me.status).toBe(403);
    expect(me.headers.get("Content-Type")).toBe("application/problem+json");
    expect(((await me.json()) as { code: string }).code).toBe("agent_banned");
    const banned = await json<{ agents: Agent[] }>(["agent", "list", "--banned", "true"]);
    expect(banned.agents.find((a) => a.spiffe_id === agentId)?.banned).toBe(true);
  });

  it("agent evict removes it: show and a second evict are refused (exit 1), its proof no longer authenticates", async () => {
    expect(await signetOk(url, ["agent", "evict", "--spiffe-id", agentId])).toBe("Agent evicted successfully\n");
    const shown = await signet(url, ["agent", "show", "--spiffe-id", agentId]);
    expect(shown.code, shown.stderr).toBe(1);
    expect(shown.stderr).toContain("code not_found, HTTP 404");
    expect((await signet(url, ["agent", "evict", "--spiffe-id", agentId])).code).toBe(1);
    const me = await whoami();
    expect(me.status).toBe(401);
    expect(((await me.json()) as { code: string }).code).toBe("agent_unauthorized");
  });

  it("an agent ID that is not a SPIFFE ID is a usage error (exit 2)", async () => {
    const r = await signet(url, ["agent", "show", "--spiffe-id", "not-an-id"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--spiffe-id 'not-an-id' is not a valid SPIFFE ID");
  });
});

it("GET /openapi.json from the dev server is the OpenAPI 3.1 document", async () => {
  const res = await fetch(`${url}/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
  expect(doc.openapi).toBe("3.1.0");
  expect(Object.keys(doc.paths)).toContain("/admin/v1/agents/{spiffe_id}");
});
