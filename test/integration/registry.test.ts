/**
 * The Registry's registration entries and join tokens on real Durable Object storage (migrations on a
 * fresh object, batches, duplicates, loops, compare-and-set, pagination and filters, single-use
 * tokens), then the /admin/v1 routes over them.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Entry, EntryInput } from "../../src/lib/registry/entry";
import type { EntryResult, Registry } from "../../src/durable/registry";
import registryMigrations from "../../migrations/registry/migrations.js";
import { ADMIN_TOKEN, adminPost, call, problemOf } from "../support/worker-client";

const NOW = Date.now();
const TD = "spiffe://example.org";
const SERVER = `${TD}/signet/server`;
const AGENT = `${TD}/signet/agent/join_token/0123456789abcdef`;

let objects = 0;
function freshRegistry(): DurableObjectStub<Registry> {
  const ns = env.REGISTRY as DurableObjectNamespace<Registry>;
  return ns.get(ns.idFromName(`registry-entries-test-${objects++}`));
}

const workload = (path: string, over: Partial<EntryInput> = {}): EntryInput => ({ spiffeId: `${TD}${path}`, parentId: AGENT, selectors: [{ type: "unix", value: "uid:1000" }], ...over });

function created(r: EntryResult | undefined): Entry {
  if (!r?.ok) throw new Error(`expected created, got ${JSON.stringify(r)}`);
  return r.value;
}
function failed<E extends { reason: string }>(r: { ok: true } | { ok: false; error: E } | undefined): E {
  if (!r || r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
  return r.error;
}

async function create(stub: DurableObjectStub<Registry>, ...list: EntryInput[]): Promise<EntryResult[]> {
  const r = await stub.createEntries({ entries: list, now: NOW });
  if (!r.ok) throw new Error(r.error.detail);
  return r.value.results as EntryResult[];
}

async function rowCounts(stub: DurableObjectStub<Registry>): Promise<{ entries: number; selectors: number; tokens: number }> {
  return runInDurableObject(stub as DurableObjectStub, (_i, state) => {
    const n = (t: string) => Number(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM ${t}`).one().n);
    return { entries: n("entries"), selectors: n("entry_selectors"), tokens: n("join_tokens") };
  });
}

describe("Registry entries", () => {
  it("a fresh object applies every migration, 0001 included, beside the key broker tables", async () => {
    const stub = freshRegistry();
    const t = await runInDurableObject(stub as DurableObjectStub, (_i, state) => ({
      names: state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((r) => r.name),
      applied: Number(state.storage.sql.exec("SELECT COUNT(*) AS n FROM __drizzle_migrations").one().n),
    }));
    expect(t.names).toEqual(expect.arrayContaining(["entries", "entry_selectors", "join_tokens", "kbs_resources", "kbs_policies", "reference_values"]));
    expect(registryMigrations.journal.entries.length).toBeGreaterThanOrEqual(2);
    expect(t.applied).toBe(registryMigrations.journal.entries.length);
  });

  it("creates, shows, updates and deletes; each result on its own", async () => {
    const stub = freshRegistry();
    const [a, bad] = await create(stub, workload("/a", { dnsNames: ["A.example.org"], x509SvidTtl: 600, hint: "h" }), workload("/signet/x"));
    const entry = created(a);
    expect(entry).toMatchObject({ spiffeId: `${TD}/a`, parentId: AGENT, revisionNumber: 0, dnsNames: ["a.example.org"], x509SvidTtl: 600, createdAt: Math.floor(NOW / 1000) });
    expect(entry.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(failed(bad).reason).toBe("invalid_spiffe_id");
    expect(await stub.getEntry({ id: entry.id })).toEqual({ ok: true, value: entry });

    const up = await stub.updateEntries({ updates: [{ id: entry.id, revisionNumber: 0, hint: "changed", selectors: [{ type: "unix", value: "uid:0" }] }], now: NOW });
    if (!up.ok) throw new Error(up.error.detail);
    const updated = created(up.value.results[0] as EntryResult);
    expect(updated).toMatchObject({ ...entry, hint: "changed", selectors: [{ type: "unix", value: "uid:0" }], revisionNumber: 1 });
    expect(await stub.getEntry({ id: entry.id })).toEqual({ ok: true, value: updated });

    const del = await stub.deleteEntries({ ids: [entry.id, entry.id, "nope"] });
    expect(del.ok && del.value.results.map((r) => (r.ok ? "deleted" : r.error.reason))).toEqual(["deleted", "entry_not_found", "entry_not_found"]);
    expect(failed(await stub.getEntry({ id: entry.id })).reason).toBe("entry_not_found");
    expect(await rowCounts(stub)).toEqual({ entries: 0, selectors: 0, tokens: 0 });
  });

  it("a caller-chosen id is kept; a taken one is entry_exists", async () => {
    const stub = freshRegistry();
    const [a, b] = await create(stub, workload("/a", { id: "my-entry" }), workload("/b", { id: "my-entry" }));
    expect(created(a).id).toBe("my-entry");
    expect(failed(b)).toMatchObject({ reason: "entry_exists", existingId: "my-entry" });
  });

  it("duplicates (same spiffe_id, parent_id and selectors in any order) are entry_exists with the existing id; nothing written", async () => {
    const stub = freshRegistry();
    const sel = [{ type: "unix", value: "uid:1" }, { type: "k8s", value: "ns:a" }];
    const [first] = await create(stub, workload("/d", { selectors: sel }));
    const before = await rowCounts(stub);
    const results = await create(
      stub,
      workload("/d", { selectors: [...sel].reverse(), hint: "other fields do not matter" }),
      workload("/d", { selectors: [...sel, sel[0]!] }),
    );
    for (const r of results) expect(failed(r)).toMatchObject({ reason: "entry_exists", existingId: created(first).id });
    expect(await rowCounts(stub)).toEqual(before);
    // A different selector set, or another parent, is another entry.
    const others = await create(stub, workload("/d", { selectors: [sel[0]!] }), workload("/d", { selectors: sel, parentId: SERVER }));
    expect(others.every((r) => r.ok)).toBe(true);
    // An update into an existing identity is refused too.
    const other = created(others[0]);
    const up = await stub.updateEntries({ updates: [{ id: other.id, revisionNumber: 0, selectors: sel }], now: NOW });
    expect(up.ok && failed(up.value.results[0] as EntryResult).reason).toBe("entry_exists");
  });

  it("refuses loops (self, two, three long) on create and update; nothing written", async () => {
    const stub = freshRegistry();
    const [a, b] = await create(stub, workload("/a", { parentId: `${TD}/c` }), workload("/b", { parentId: `${TD}/a` }));
    created(a);
    created(b);
    const before = await rowCounts(stub);
    const [self, three] = await create(stub, workload("/s", { parentId: `${TD}/s` }), workload("/c", { parentId: `${TD}/b` }));
    expect(failed(self).reason).toBe("entry_loop");
    expect(failed(three).reason).toBe("entry_loop");
    expect(await rowCounts(stub)).toEqual(before);
    // Re-parenting a under b: a → b → a.
    const up = await stub.updateEntries({ updates: [{ id: created(a).id, revisionNumber: 0, parentId: `${TD}/b` }], now: NOW });
    expect(up.ok && failed(up.value.results[0] as EntryResult).reason).toBe("entry_loop");
    expect(await stub.getEntry({ id: created(a).id })).toMatchObject({ ok: true, value: { parentId: `${TD}/c`, revisionNumber: 0 } });
    // A loop inside one batch: the second closes what the first opened.
    const batch = await create(stub, workload("/x", { parentId: `${TD}/y` }), workload("/y", { parentId: `${TD}/x` }));
    expect(batch[0]!.ok).toBe(true);
    expect(failed(batch[1]).reason).toBe("entry_loop");
    // Moving an entry elsewhere in its own chain is not a loop when nothing points back.
    const fine = await stub.updateEntries({ updates: [{ id: created(b).id, revisionNumber: 0, parentId: AGENT }], now: NOW });
    expect(fine.ok && fine.value.results[0]!.ok).toBe(true);
  });

  it("20 concurrent updates with the same expected revision: exactly one wins, the others are revision_conflict", async () => {
    const stub = freshRegistry();
    const [a] = await create(stub, workload("/cas"));
    const id = created(a).id;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => stub.updateEntries({ updates: [{ id, revisionNumber: 0, hint: `writer ${i}` }], now: NOW })),
    );
    const items = results.map((r) => (r.ok ? (r.value.results[0] as EntryResult) : undefined));
    const won = items.filter((r) => r?.ok);
    expect(won).toHaveLength(1);
    const lost = items.filter((r) => r && !r.ok).map((r) => failed(r));
    expect(lost).toHaveLength(19);
    for (const l of lost) expect(l).toMatchObject({ reason: "revision_conflict", currentRevision: 1 });
    const stored = await stub.getEntry({ id });
    expect(stored).toMatchObject({ ok: true, value: { revisionNumber: 1, hint: (won[0] as { value: Entry }).value.hint } });
    // The next writer reads revision 1 and wins.
    const next = await stub.updateEntries({ updates: [{ id, revisionNumber: 1, hint: "after" }], now: NOW });
    expect(next.ok && next.value.results[0]).toMatchObject({ ok: true, value: { revisionNumber: 2, hint: "after" } });
  });

  it("refuses each bad input with its reason, nothing written", async () => {
    const stub = freshRegistry();
    const cases: [EntryInput, string][] = [
      [workload("/a", { spiffeId: "spiffe://other.org/a" }), "foreign_trust_domain"],
      [workload("/a", { parentId: "spiffe://other.org/signet/server" }), "foreign_trust_domain"],
      [workload("/a", { spiffeId: "not an id" }), "invalid_spiffe_id"],
      [workload("/a", { spiffeId: SERVER }), "invalid_spiffe_id"],
      [workload("/a", { selectors: [] }), "invalid_selector"],
      [workload("/a", { selectors: [{ type: "a:b", value: "c" }] }), "invalid_selector"],
      [workload("/a", { x509SvidTtl: -1 }), "invalid_ttl"],
      [workload("/a", { dnsNames: ["-bad.example.org"] }), "invalid_dns_name"],
      [workload("/a", { federatesWith: ["example.org"] }), "invalid_entry"],
      [workload("/a", { hint: "x".repeat(1025) }), "invalid_entry"],
      [workload("/a", { expiresAt: Math.floor(NOW / 1000) - 1 }), "invalid_entry"],
      [workload("/a", { id: "bad id" }), "invalid_entry_id"],
    ];
    const results = await create(stub, ...cases.map(([e]) => e));
    expect(results.map((r) => failed(r).reason)).toEqual(cases.map(([, reason]) => reason));
    expect(await rowCounts(stub)).toEqual({ entries: 0, selectors: 0, tokens: 0 });
    const tooMany = await stub.createEntries({ entries: Array.from({ length: 501 }, (_, i) => workload(`/n${i}`)), now: NOW });
    expect(failed(tooMany).reason).toBe("batch_too_large");
    expect(await rowCounts(stub)).toEqual({ entries: 0, selectors: 0, tokens: 0 });
    const upd = await stub.updateEntries({ updates: [{ id: "missing", revisionNumber: 0, hint: "x" }], now: NOW });
    expect(upd.ok && failed(upd.value.results[0] as EntryResult).reason).toBe("entry_not_found");
  });

  it("an update that leaves expires_at alone keeps it even once past; one that sets it must be in the future", async () => {
    const stub = freshRegistry();
    const soon = Math.floor(NOW / 1000) + 10;
    const [a] = await create(stub, workload("/exp", { expiresAt: soon }));
    const later = NOW + 60_000;
    const keep = await stub.updateEntries({ updates: [{ id: created(a).id, revisionNumber: 0, hint: "x" }], now: later });
    expect(keep.ok && keep.value.results[0]).toMatchObject({ ok: true, value: { expiresAt: soon } });
    const past = await stub.updateEntries({ updates: [{ id: created(a).id, revisionNumber: 1, expiresAt: soon }], now: later });
    expect(past.ok && failed(past.value.results[0] as EntryResult).reason).toBe("invalid_entry");
  });
});

describe("Registry listEntries", () => {
  const sel = (...pairs: string[]) => pairs.map((p) => ({ type: p.split(":")[0]!, value: p.slice(p.indexOf(":") + 1) }));

  it("pages through 250 entries in id order without repeats or gaps", async () => {
    const stub = freshRegistry();
    const all = await create(stub, ...Array.from({ length: 250 }, (_, i) => workload(`/p/${i}`)));
    const want = all.map((r) => created(r).id).sort();
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await stub.listEntries({ pageSize: 100, pageToken: token });
      if (!page.ok) throw new Error(page.error.detail);
      seen.push(...page.value.entries.map((e) => e.id));
      token = page.value.nextPageToken;
      pages++;
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(want);
    expect(failed(await stub.listEntries({ pageSize: 0 })).reason).toBe("invalid_request");
    expect(failed(await stub.listEntries({ pageSize: 1001 })).reason).toBe("invalid_request");
    expect(failed(await stub.listEntries({ pageToken: "not a token" })).reason).toBe("invalid_page_token");
  });

  it("filters: spiffe_id, parent_id, hint, downstream, federates_with, and each selector match mode", async () => {
    const stub = freshRegistry();
    const [e1, e2, e3, e4] = (
      await create(
        stub,
        workload("/f/1", { selectors: sel("unix:uid:1", "unix:gid:1"), hint: "web", federatesWith: ["a.org", "b.org"] }),
        workload("/f/2", { selectors: sel("unix:uid:1"), downstream: true, federatesWith: ["a.org"] }),
        workload("/f/3", { selectors: sel("unix:uid:1", "unix:gid:1", "k8s:ns:x"), parentId: SERVER }),
        workload("/f/4", { selectors: sel("k8s:ns:x") }),
      )
    ).map(created);
    const list = async (filters: Parameters<Registry["listEntries"]>[0]["filters"]) => {
      const r = await stub.listEntries({ filters });
      if (!r.ok) throw new Error(r.error.detail);
      return r.value.entries.map((e) => e.spiffeId).sort();
    };
    const ids = (...es: Entry[]) => es.map((e) => e.spiffeId).sort();
    expect(await list({ spiffeId: `${TD}/f/2` })).toEqual(ids(e2!));
    expect(await list({ parentId: SERVER })).toEqual(ids(e3!));
    expect(await list({ hint: "web" })).toEqual(ids(e1!));
    expect(await list({ downstream: true })).toEqual(ids(e2!));
    expect(await list({ downstream: false })).toEqual(ids(e1!, e3!, e4!));
    expect(await list({ federatesWith: ["a.org"] })).toEqual(ids(e1!, e2!));
    expect(await list({ federatesWith: ["a.org", "spiffe://b.org"] })).toEqual(ids(e1!));
    const two = sel("unix:gid:1", "unix:uid:1");
    expect(await list({ selectors: two, match: "exact" })).toEqual(ids(e1!));
    expect(await list({ selectors: two, match: "subset" })).toEqual(ids(e1!, e2!));
    expect(await list({ selectors: two, match: "superset" })).toEqual(ids(e1!, e3!));
    expect(await list({ selectors: two })).toEqual(ids(e1!, e3!));
    expect(await list({ selectors: sel("k8s:ns:x", "unix:uid:1"), match: "any" })).toEqual(ids(e1!, e2!, e3!, e4!));
    expect(await list({ selectors: sel("k8s:ns:x"), match: "any", parentId: AGENT })).toEqual(ids(e4!));
    expect(await list({ selectors: sel("nothing:here"), match: "any" })).toEqual([]);
    expect(failed(await stub.listEntries({ filters: { selectors: [] } })).reason).toBe("invalid_selector");
    expect(failed(await stub.listEntries({ filters: { federatesWith: ["Bad"] } })).reason).toBe("invalid_request");
  });
});

describe("Registry join tokens", () => {
  it("a token is used once; the registry stores only its hash", async () => {
    const stub = freshRegistry();
    const t = await stub.createJoinToken({ ttlSeconds: 600, now: NOW });
    if (!t.ok) throw new Error(t.error.detail);
    expect(t.value.token).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.value.expiresAt).toBe(Math.floor(NOW / 1000) + 600);
    const stored = await runInDurableObject(stub as DurableObjectStub, (_i, state) => state.storage.sql.exec<{ token_hash: string }>("SELECT token_hash FROM join_tokens").toArray());
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(t.value.token);
    const uses = await Promise.all(Array.from({ length: 10 }, () => stub.consumeJoinToken({ token: t.value.token, now: NOW + 1000 })));
    expect(uses.filter((u) => u.ok)).toHaveLength(1);
    expect(uses.filter((u) => !u.ok && u.error.reason === "join_token_not_found")).toHaveLength(9);
  });

  it("an expired token is refused, and used up by the attempt (fetched and deleted, then checked)", async () => {
    const stub = freshRegistry();
    const t = await stub.createJoinToken({ ttlSeconds: 60, now: NOW, token: "caller-chosen-token-1" });
    expect(t).toEqual({ ok: true, value: { token: "caller-chosen-token-1", expiresAt: Math.floor(NOW / 1000) + 60 } });
    expect(failed(await stub.consumeJoinToken({ token: "caller-chosen-token-1", now: NOW + 60_000 })).reason).toBe("join_token_expired");
    expect(failed(await stub.consumeJoinToken({ token: "caller-chosen-token-1", now: NOW })).reason).toBe("join_token_not_found");
  });

  it("refuses bad TTLs, bad or taken tokens; creating removes expired ones", async () => {
    const stub = freshRegistry();
    for (const ttlSeconds of [0, -1, 1.5, 30 * 86400 + 1]) expect(failed(await stub.createJoinToken({ ttlSeconds, now: NOW })).reason).toBe("invalid_ttl");
    for (const token of ["short", "has space in it!!", ".starts-with-a-dot"]) expect(failed(await stub.createJoinToken({ ttlSeconds: 60, now: NOW, token })).reason).toBe("invalid_join_token");
    expect((await stub.createJoinToken({ ttlSeconds: 60, now: NOW, token: "taken-token-000000" })).ok).toBe(true);
    expect(failed(await stub.createJoinToken({ ttlSeconds: 60, now: NOW, token: "taken-token-000000" })).reason).toBe("join_token_exists");
    expect((await rowCounts(stub)).tokens).toBe(1);
    expect((await stub.createJoinToken({ ttlSeconds: 60, now: NOW + 61_000 })).ok).toBe(true);
    expect((await rowCounts(stub)).tokens).toBe(1);
    expect(failed(await stub.consumeJoinToken({ token: "not a token at all", now: NOW })).reason).toBe("join_token_not_found");
  });
});

describe("/admin/v1 entries and join tokens over HTTP", () => {
  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const send = (method: string, path: string, body?: unknown) =>
    call(path, { method, headers: { ...auth, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const get = (path: string) => call(path, { headers: auth });
  let n = 0;
  const unique = () => `/http/${Date.now().toString(36)}/${n++}`;
  const wire = (path: string, over: Record<string, unknown> = {}) => ({ spiffe_id: `${TD}${path}`, parent_id: AGENT, selectors: [{ type: "unix", value: "uid:1000" }], ...over });
  const countBySpiffeId = async (path: string) => ((await (await get(`/admin/v1/entries?spiffe_id=${encodeURIComponent(`${TD}${path}`)}`)).json()) as { entries: unknown[] }).entries.length;

  it("needs the admin token: 401 problem without it, nothing written", async () => {
    const path = unique();
    for (const [method, url] of [["POST", "/admin/v1/entries"], ["PATCH", "/admin/v1/entries"], ["POST", "/admin/v1/entries/delete"], ["GET", "/admin/v1/entries"], ["GET", "/admin/v1/entries/x"], ["POST", "/admin/v1/join-tokens"]] as const) {
      const res = await call(url, { method, headers: { "Content-Type": "application/json" }, body: method === "GET" ? undefined : JSON.stringify({ entries: [wire(path)], ids: ["x"], ttl: 60 }) });
      expect(res.status).toBe(401);
      expect((await problemOf(res)).code).toBe("unauthorized");
      const wrong = await call(url, { method, headers: { Authorization: "Bearer wrong-token", "Content-Type": "application/json" }, body: method === "GET" ? undefined : "{}" });
      expect(wrong.status).toBe(401);
    }
    expect(await countBySpiffeId(path)).toBe(0);
  });

  it("create, show, list, update (CAS), delete", async () => {
    const path = unique();
    const res = await adminPost("/admin/v1/entries", { entries: [wire(path, { dns_names: ["a.example.org"], x509_svid_ttl: 600, hint: "web" }), wire(path)] });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const { results } = (await res.json()) as { results: { status: string; entry?: Record<string, unknown>; existing_id?: string; http_status?: number }[] };
    expect(results[0]).toMatchObject({ status: "created", entry: { spiffe_id: `${TD}${path}`, parent_id: AGENT, selectors: [{ type: "unix", value: "uid:1000" }], dns_names: ["a.example.org"], x509_svid_ttl: 600, jwt_svid_ttl: 0, hint: "web", admin: false, downstream: false, federates_with: [], expires_at: 0, revision_number: 0 } });
    const entry = results[0]!.entry!;
    expect(results[1]).toMatchObject({ status: "entry_exists", http_status: 409, existing_id: entry.id });

    expect(await (await get(`/admin/v1/entries/${String(entry.id)}`)).json()).toEqual(entry);
    const listed = (await (await get(`/admin/v1/entries?spiffe_id=${encodeURIComponent(`${TD}${path}`)}&selector=unix:uid:1000&match=exact`)).json()) as { entries: unknown[]; next_page_token: unknown };
    expect(listed).toEqual({ entries: [entry], next_page_token: null });

    const up = await send("PATCH", "/admin/v1/entries", { entries: [{ id: entry.id, revision_number: 0, hint: "api" }, { id: entry.id, revision_number: 0, hint: "lost" }] });
    expect(up.status).toBe(200);
    const upd = (await up.json()) as { results: Record<string, unknown>[] };
    expect(upd.results[0]).toMatchObject({ status: "updated", entry: { hint: "api", revision_number: 1 } });
    expect(upd.results[1]).toMatchObject({ status: "revision_conflict", http_status: 409, current_revision: 1 });
    const viaPost = await adminPost("/admin/v1/entries/update", { entries: [{ id: entry.id, revision_number: 1, admin: true }] });
    expect(((await viaPost.json()) as { results: Record<string, unknown>[] }).results[0]).toMatchObject({ status: "updated", entry: { admin: true, hint: "api", revision_number: 2 } });

    const del = await adminPost("/admin/v1/entries/delete", { ids: [entry.id, "missing-id"] });
    expect(((await del.json()) as { results: unknown[] }).results).toEqual([
      { id: entry.id, status: "deleted" },
      { id: "missing-id", status: "entry_not_found", http_status: 404, title: "No such registration entry", detail: "no entry with id missing-id" },
    ]);
    const gone = await get(`/admin/v1/entries/${String(entry.id)}`);
    expect(gone.status).toBe(404);
    expect((await problemOf(gone)).code).toBe("entry_not_found");
  });

  it("each bad entry gets its own specific 4xx, and nothing is written", async () => {
    const path = unique();
    const bad: [Record<string, unknown>, string, number][] = [
      [wire(path, { spiffe_id: "spiffe://other.org/x" }), "foreign_trust_domain", 400],
      [wire(path, { parent_id: "spiffe://other.org/signet/server" }), "foreign_trust_domain", 400],
      [wire(path, { spiffe_id: "spiffe://example.org/a//b" }), "invalid_spiffe_id", 400],
      [wire(path, { selectors: [{ type: "", value: "x" }] }), "invalid_selector", 400],
      [wire(path, { selectors: [] }), "invalid_selector", 400],
      [wire(path, { jwt_svid_ttl: -1 }), "invalid_ttl", 400],
      [wire(path, { dns_names: ["bad..example.org"] }), "invalid_dns_name", 400],
      [wire(path, { parent_id: `${TD}${path}` }), "entry_loop", 400],
      [wire(path, { federates_with: ["example.org"] }), "invalid_entry", 400],
      [wire(path, { id: "no spaces" }), "invalid_entry_id", 400],
    ];
    const res = await adminPost("/admin/v1/entries", { entries: bad.map(([e]) => e) });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: { status: string; http_status: number }[] };
    expect(results.map((r) => [r.status, r.http_status])).toEqual(bad.map(([, code, status]) => [code, status]));
    expect(await countBySpiffeId(path)).toBe(0);
  });

  it.each<[string, string, unknown, string, number]>([
    ["not JSON", "/admin/v1/entries", "{", "malformed_json", 400],
    ["an unknown field", "/admin/v1/entries", { entries: [{ spiffe_id: `${TD}/x`, parent_id: AGENT, selectors: [], colour: "red" }] }, "unknown_field", 400],
    ["a missing selectors list", "/admin/v1/entries", { entries: [{ spiffe_id: `${TD}/x`, parent_id: AGENT }] }, "invalid_request", 400],
    ["a selector as a string", "/admin/v1/entries", { entries: [{ spiffe_id: `${TD}/x`, parent_id: AGENT, selectors: ["unix:uid:0"] }] }, "invalid_request", 400],
    ["an empty batch", "/admin/v1/entries", { entries: [] }, "invalid_request", 400],
    ["a TTL that is not whole", "/admin/v1/entries", { entries: [{ spiffe_id: `${TD}/x`, parent_id: AGENT, selectors: [{ type: "a", value: "b" }], x509_svid_ttl: 1.5 }] }, "invalid_request", 400],
    ["an update without revision_number", "/admin/v1/entries/update", { entries: [{ id: "x", hint: "h" }] }, "invalid_request", 400],
    ["an empty delete", "/admin/v1/entries/delete", { ids: [] }, "invalid_request", 400],
    ["a join token ttl of 0", "/admin/v1/join-tokens", { ttl: 0 }, "invalid_ttl", 400],
    ["a short caller-chosen join token", "/admin/v1/join-tokens", { token: "short" }, "invalid_join_token", 400],
  ])("%s is one problem for the whole request", async (_name, path, body, code, status) => {
    const res = await adminPost(path, body);
    expect(res.status).toBe(status);
    expect((await problemOf(res)).code).toBe(code);
  });

  it("a batch over 500 is batch_too_large (as long as it fits the admin body limit)", async () => {
    const tiny = { spiffe_id: `${TD}/b`, parent_id: `${TD}/p`, selectors: [{ type: "a", value: "b" }] };
    const res = await adminPost("/admin/v1/entries", { entries: Array.from({ length: 501 }, () => tiny) });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).code).toBe("batch_too_large");
  });

  it.each<[string, string, number]>([
    ["match=sometimes", "invalid_request", 400],
    ["selector=nocolon", "invalid_selector", 400],
    ["match=exact", "invalid_request", 400],
    ["page_size=0", "invalid_request", 400],
    ["page_size=5000", "invalid_request", 400],
    ["page_token=bad%20token", "invalid_page_token", 400],
    ["hint=a&hint=b", "invalid_request", 400],
    ["colour=red", "unknown_field", 400],
    ["downstream=yes", "invalid_request", 400],
    ["federates_with=Bad", "invalid_request", 400],
  ])("GET /admin/v1/entries?%s is a %s problem", async (query, code, status) => {
    const res = await get(`/admin/v1/entries?${query}`);
    expect(res.status).toBe(status);
    expect((await problemOf(res)).code).toBe(code);
  });

  it("lists with repeated selector filters and pages", async () => {
    const path = unique();
    const entries = Array.from({ length: 5 }, (_, i) => wire(`${path}/${i}`, { selectors: [{ type: "unix", value: "uid:1" }, { type: "k8s", value: `ns:${i % 2}` }] }));
    const res = await adminPost("/admin/v1/entries", { entries });
    expect(((await res.json()) as { results: { status: string }[] }).results.every((r) => r.status === "created")).toBe(true);
    const ids: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const q = `selector=unix:uid:1&selector=k8s:ns:0&match=superset&page_size=2${token ? `&page_token=${encodeURIComponent(token)}` : ""}`;
      const page = (await (await get(`/admin/v1/entries?${q}`)).json()) as { entries: { spiffe_id: string }[]; next_page_token: string | null };
      ids.push(...page.entries.map((e) => e.spiffe_id));
      token = page.next_page_token;
      pages++;
    } while (token !== null);
    expect(ids.filter((id) => id.startsWith(`${TD}${path}/`)).sort()).toEqual([0, 2, 4].map((i) => `${TD}${path}/${i}`));
    expect(pages).toBeGreaterThanOrEqual(2);
  });

  it("POST /admin/v1/join-tokens: a UUID (or the caller's token), its expiry, and the agent ID it attests as", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await adminPost("/admin/v1/join-tokens", { ttl: 600 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; expires_at: number; agent_id: string };
    expect(body.token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.expires_at).toBeGreaterThanOrEqual(before + 600);
    expect(body.expires_at).toBeLessThanOrEqual(before + 601);
    expect(body.agent_id).toBe(`${TD}/signet/agent/join_token/${body.token}`);
    const defaulted = (await (await adminPost("/admin/v1/join-tokens", {})).json()) as { expires_at: number };
    expect(defaulted.expires_at).toBeGreaterThanOrEqual(before + 600);
    const chosen = `chosen-${Date.now()}-token`;
    const mine = (await (await adminPost("/admin/v1/join-tokens", { ttl: 60, token: chosen })).json()) as { token: string };
    expect(mine.token).toBe(chosen);
    const again = await adminPost("/admin/v1/join-tokens", { ttl: 60, token: chosen });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).code).toBe("join_token_exists");
  });
});
