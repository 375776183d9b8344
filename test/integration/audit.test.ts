/**
 * The AuditLog over its real SQLite storage (migrations, record, list, filters, cursors, bounds)
 * and GET /admin/v1/audit.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { auditLog } from "../../src/durable/addresses";
import { AUDIT_FIELDS, selectPage, type AuditLog, type AuditRecord, type AuditRecordInput } from "../../src/durable/audit";
import { openDb } from "../../src/durable/db";
import * as schema from "../../src/durable/tables/audit";
import migrations from "../../migrations/audit/migrations.js";
import { ADMIN_TOKEN, call, problemOf } from "../support/worker-client";

function stubFor(name: string): DurableObjectStub<AuditLog> {
  const ns = env.AUDIT as DurableObjectNamespace<AuditLog>;
  return ns.get(ns.idFromName(name));
}

const T0 = Date.parse("2026-05-01T00:00:00Z");
const DIGEST = "ab".repeat(32);
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A full attestation record; `over` replaces fields. */
const attestation = (over: Partial<AuditRecordInput> = {}): AuditRecordInput => ({
  kind: "attestation",
  outcome: "accepted",
  at: T0,
  sessionId: "sess-1",
  tee: "snp",
  evidenceDigest: DIGEST,
  measurement: "cd".repeat(48),
  platformId: "ef".repeat(64),
  initDataDigest: "01".repeat(32),
  policyId: "default",
  tokenId: "tok-1",
  client: "203.0.113.7",
  ...over,
});

/** Records through the object's own method, inside it (no RPC per record: the bulk tests stay fast). */
async function recordAll(stub: DurableObjectStub<AuditLog>, inputs: readonly AuditRecordInput[]): Promise<string[]> {
  return runInDurableObject(stub, async (log) => {
    const ids: string[] = [];
    for (const input of inputs) {
      const r = await log.record(input);
      if (!r.ok) throw new Error(`record refused: ${r.error.detail}`);
      ids.push(r.value.id);
    }
    return ids;
  });
}

async function count(stub: DurableObjectStub<AuditLog>): Promise<number> {
  return runInDurableObject(stub, (_i, state) => Number(state.storage.sql.exec("SELECT COUNT(*) AS n FROM audit_records").one().n));
}

/** Newest first: by at, then id, as the log orders. */
const newestFirst = (a: AuditRecord, b: AuditRecord) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

describe("migrations", () => {
  it("a fresh object applies every migration", async () => {
    const stub = stubFor("fresh");
    const names = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name").toArray().map((r) => r.name),
    );
    expect(names).toEqual(expect.arrayContaining(["audit_records", "__drizzle_migrations", "audit_at_id", "audit_kind_at", "audit_outcome_at", "audit_tee_at", "audit_session_at", "audit_resource_at"]));
    const applied = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM __drizzle_migrations").one().n);
    expect(applied).toBe(migrations.journal.entries.length);
    expect(await stub.list({})).toEqual({ ok: true, value: { records: [] } });
  });
});

describe("record and list", () => {
  it("stores every field and lists it back with its id", async () => {
    const stub = stubFor("roundtrip");
    const input = attestation({ outcome: "denied", reason: "policy_denied:measurement" });
    const r = await stub.record(input);
    expect(r.ok && r.value.id).toMatch(ULID);
    const release: AuditRecordInput = { kind: "release", outcome: "released", at: T0 + 1, sessionId: "sess-1", resourcePath: "default/key/1", tokenId: "tok-1", client: "2001:db8::1" };
    const [releaseId] = await recordAll(stub, [release]);
    expect(await stub.list({})).toEqual({ ok: true, value: { records: [{ ...release, id: releaseId }, { ...input, id: r.ok ? r.value.id : "" }] } });
  });

  it("ids are unique and grow with each record, also within one millisecond", async () => {
    const stub = stubFor("ids");
    const ids = await recordAll(stub, Array.from({ length: 50 }, () => attestation()));
    expect(ids).toHaveLength(50);
    for (const id of ids) expect(id).toMatch(ULID);
    expect(new Set(ids).size).toBe(50);
    expect([...ids].sort()).toEqual(ids);
    // The first 10 characters are the recording time in ms.
    const ms = [...ids[0]!.slice(0, 10)].reduce((acc, ch) => acc * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(ch), 0);
    expect(Math.abs(ms - Date.now())).toBeLessThan(60_000);
  });

  it("orders by the event time, not by the order of recording", async () => {
    const stub = stubFor("order");
    const ats = [T0 + 5, T0 + 1, T0 + 9, T0 + 1, T0 + 3];
    await recordAll(stub, ats.map((at) => attestation({ at })));
    const page = await stub.list({});
    expect(page.ok && page.value.records.map((r) => r.at)).toEqual([T0 + 9, T0 + 5, T0 + 3, T0 + 1, T0 + 1]);
  });
});

describe("filters", () => {
  const inputs: AuditRecordInput[] = [];
  for (let i = 0; i < 48; i++) {
    const release = i % 2 === 1;
    inputs.push({
      kind: release ? "release" : "attestation",
      outcome: release ? (i % 3 === 0 ? "refused" : "released") : i % 3 === 0 ? "denied" : "accepted",
      at: T0 + i * 1000,
      sessionId: `s-${i % 4}`,
      tee: i % 5 === 0 ? "tdx" : "snp",
      ...(release ? { resourcePath: `repo/key/${i % 3}` } : { evidenceDigest: DIGEST }),
    });
  }
  const cases: [string, Record<string, unknown>, (r: AuditRecordInput) => boolean][] = [
    ["kind", { kind: "release" }, (r) => r.kind === "release"],
    ["outcome", { outcome: "denied" }, (r) => r.outcome === "denied"],
    ["tee", { tee: "tdx" }, (r) => r.tee === "tdx"],
    ["session", { sessionId: "s-2" }, (r) => r.sessionId === "s-2"],
    ["resource path", { resourcePath: "repo/key/1" }, (r) => r.resourcePath === "repo/key/1"],
    ["since (inclusive)", { since: T0 + 40_000 }, (r) => r.at >= T0 + 40_000],
    ["until (exclusive)", { until: T0 + 3000 }, (r) => r.at < T0 + 3000],
    ["since and until", { since: T0 + 10_000, until: T0 + 12_000 }, (r) => r.at >= T0 + 10_000 && r.at < T0 + 12_000],
    ["all together", { kind: "release", outcome: "refused", tee: "snp", sessionId: "s-3", since: T0 + 1, until: T0 + 48_000 }, (r) => r.outcome === "refused" && r.tee === "snp" && r.sessionId === "s-3"],
    ["nothing matches", { tee: "sev" }, () => false],
  ];

  it.each(cases)("%s", async (name, filter, keep) => {
    const stub = stubFor(`filters-${name}`);
    await recordAll(stub, inputs);
    const page = await stub.list(filter);
    expect(page.ok).toBe(true);
    if (!page.ok) return;
    const expected = inputs.filter(keep).sort((a, b) => b.at - a.at);
    expect(page.value.records.map(({ id: _id, ...rest }) => rest)).toEqual(expected);
    if (name !== "nothing matches") expect(expected.length).toBeGreaterThan(0);
  });

  it("each filter is served from an index, already in order (no table scan, no sort)", async () => {
    const stub = stubFor("plans");
    const filters = [{}, { kind: "release" }, { outcome: "denied" }, { tee: "tdx" }, { sessionId: "s" }, { resourcePath: "p" }, { since: 1, until: 2 }] as const;
    const plans = await runInDurableObject(stub, (_i, state) => {
      const db = openDb(state, schema, migrations);
      return filters.map((f) => {
        const { sql, params } = selectPage(db, { ...f, limit: 100, after: { at: T0, id: "0".repeat(26) } }).toSQL();
        return state.storage.sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ...params).toArray().map((r) => r.detail).join("; ");
      });
    });
    expect(plans).toHaveLength(filters.length);
    for (const plan of plans) {
      expect(plan).toMatch(/USING (COVERING )?INDEX audit_/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });
});

describe("pagination", () => {
  it("walks 250 records in pages of 100 with a cursor that holds while newer records arrive", async () => {
    const stub = stubFor("pages");
    // Three records per millisecond, so pages split ties and the id breaks them.
    const inputs = Array.from({ length: 250 }, (_, i) => attestation({ at: T0 + Math.floor(i / 3), sessionId: `p-${i}` }));
    const ids = await recordAll(stub, inputs);
    const all = inputs.map((r, i) => ({ ...r, id: ids[i]! })).sort(newestFirst);

    const first = await stub.list({ limit: 100 });
    if (!first.ok) throw new Error(first.error.detail);
    expect(first.value.records).toEqual(all.slice(0, 100));
    expect(first.value.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);

    // Newer records land between two page fetches: the pages already started are not disturbed.
    await recordAll(stub, Array.from({ length: 20 }, (_, i) => attestation({ at: T0 + 10_000 + i })));

    const seen = [...first.value.records];
    let cursor = first.value.nextCursor;
    let pages = 1;
    while (cursor !== undefined) {
      const page = await stub.list({ limit: 100, cursor });
      if (!page.ok) throw new Error(page.error.detail);
      seen.push(...page.value.records);
      cursor = page.value.nextCursor;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
    // A cursor is opaque but stable: asked again, the same page.
    const again = await stub.list({ limit: 100, cursor: first.value.nextCursor });
    expect(again.ok && again.value.records).toEqual(all.slice(100, 200));
    // The newest records are on a fresh first page.
    const fresh = await stub.list({ limit: 20 });
    expect(fresh.ok && fresh.value.records.map((r) => r.at)).toEqual(Array.from({ length: 20 }, (_, i) => T0 + 10_019 - i));
  });

  it("no cursor after an exactly full last page", async () => {
    const stub = stubFor("exact");
    await recordAll(stub, Array.from({ length: 4 }, (_, i) => attestation({ at: T0 + i })));
    const first = await stub.list({ limit: 2 });
    const second = first.ok ? await stub.list({ limit: 2, cursor: first.value.nextCursor }) : first;
    expect(second.ok && second.value.records).toHaveLength(2);
    expect(second.ok && second.value.nextCursor).toBeUndefined();
  });
});

describe("limits", () => {
  it("defaults to 100 and allows up to 1000", async () => {
    const stub = stubFor("limits");
    await recordAll(stub, Array.from({ length: 1001 }, (_, i) => attestation({ at: T0 + i })));
    const byDefault = await stub.list({});
    expect(byDefault.ok && byDefault.value.records).toHaveLength(100);
    const most = await stub.list({ limit: 1000 });
    expect(most.ok && most.value.records).toHaveLength(1000);
    expect(most.ok && most.value.nextCursor).toBeDefined();
    const one = await stub.list({ limit: 1 });
    expect(one.ok && one.value.records.map((r) => r.at)).toEqual([T0 + 1000]);
  });

  it.each([[0], [1001], [1.5], [-1], ["10"], [Number.NaN]])("refuses limit %j", async (limit) => {
    expect(await stubFor("limits-bad").list({ limit } as never)).toMatchObject({ ok: false, error: { reason: "invalid_query", detail: expect.stringContaining("limit") } });
  });
});

describe("bad input is refused and nothing is written", () => {
  const huge = "a".repeat(100_000);
  const cases: [string, unknown][] = [
    ["an unknown kind", attestation({ kind: "login" as never })],
    ["an outcome of the other kind", attestation({ outcome: "released" })],
    ["a release that was accepted", { kind: "release", outcome: "accepted", at: T0 }],
    ["no at", { kind: "attestation", outcome: "accepted" }],
    ["a negative at", attestation({ at: -1 })],
    ["a fractional at", attestation({ at: T0 + 0.5 })],
    ["an at past what Date holds", attestation({ at: 8.64e15 + 1 })],
    ["an at as a string", attestation({ at: String(T0) as never })],
    ["a field for secret bytes", { ...attestation(), secret: "c2VjcmV0" }],
    ["a resource body", { ...attestation(), resource: new Uint8Array(32) }],
    ["bytes instead of a digest", attestation({ evidenceDigest: new Uint8Array(32) as never })],
    ["an upper-case digest", attestation({ evidenceDigest: DIGEST.toUpperCase() })],
    ["a short digest", attestation({ evidenceDigest: DIGEST.slice(2) })],
    ["an init-data digest of odd length", attestation({ initDataDigest: "abc" })],
    ["a reason with spaces", attestation({ outcome: "denied", reason: "policy denied" })],
    ["a TEE name with upper case", attestation({ tee: "SNP" })],
    ["a null field", attestation({ policyId: null as never })],
    ["an empty session id", attestation({ sessionId: "" })],
    ["a control character", attestation({ client: "1.2.3.4\n" })],
    ["100 kB of measurement", attestation({ measurement: huge })],
    ["100 kB of resource path", { kind: "release", outcome: "refused", at: T0, resourcePath: huge }],
    ["not an object", "attestation"],
    ["an array", [attestation()]],
  ];

  it.each(cases)("%s", async (_name, input) => {
    const stub = stubFor("bad-input");
    expect(await stub.record(input as AuditRecordInput)).toMatchObject({ ok: false, error: { reason: "invalid_record" } });
    expect(await count(stub)).toBe(0);
  });

  it("every text field is bounded: its longest value is stored, one character more is refused", async () => {
    const stub = stubFor("bounds");
    const longest: Record<string, string> = {
      reason: "a".repeat(128),
      sessionId: "s".repeat(128),
      tee: "t".repeat(32),
      evidenceDigest: DIGEST,
      measurement: "m".repeat(512),
      platformId: "p".repeat(256),
      initDataDigest: "0f".repeat(64),
      policyId: "y".repeat(128),
      resourcePath: "r".repeat(512),
      tokenId: "k".repeat(128),
      client: "c".repeat(64),
    };
    expect(Object.keys(longest).sort()).toEqual(Object.keys(AUDIT_FIELDS).sort());
    const full = { kind: "attestation", outcome: "denied", at: T0, ...longest } as AuditRecordInput;
    expect((await stub.record(full)).ok).toBe(true);
    // The largest record the log can hold.
    expect(JSON.stringify(full).length).toBeLessThan(2500);
    for (const [field, value] of Object.entries(longest)) {
      const longer = field.endsWith("Digest") ? `${value}00` : `${value}a`;
      expect(await stub.record({ ...full, [field]: longer }), field).toMatchObject({ ok: false, error: { reason: "invalid_record", detail: expect.stringContaining(field) } });
    }
    expect(Object.keys(longest)).toHaveLength(11);
    expect(await count(stub)).toBe(1);
  });

  it.each([
    ["an unknown kind", { kind: "login" }],
    ["an unknown outcome", { outcome: "maybe" }],
    ["an unknown filter", { secret: "x" }],
    ["a bad TEE name", { tee: "S N P" }],
    ["since after until", { since: T0 + 1, until: T0 }],
    ["a negative since", { since: -5 }],
    ["a cursor that is not base64url", { cursor: "!!!" }],
    ["a cursor with a bad id", { cursor: btoa(`${T0}.not-an-id`) }],
    ["a padded cursor", { cursor: btoa(`${T0}.${"0".repeat(26)}`) }],
    ["a long cursor", { cursor: "A".repeat(200) }],
  ])("a list with %s", async (_name, input) => {
    expect(await stubFor("bad-query").list(input as never)).toMatchObject({ ok: false, error: { reason: "invalid_query" } });
  });
});

describe("GET /admin/v1/audit", () => {
  const get = (query: string, token: string | null = ADMIN_TOKEN) =>
    call(`/admin/v1/audit${query}`, { headers: token === null ? {} : { Authorization: `Bearer ${token}` } });

  it("needs the admin token", async () => {
    for (const token of [null, "wrong-token"]) {
      const res = await get("", token);
      expect(res.status).toBe(401);
      expect((await problemOf(res)).code).toBe("unauthorized");
    }
  });

  it("lists records with snake_case fields, filtered and paginated", async () => {
    const log = auditLog(env);
    const session = `http-${crypto.randomUUID()}`;
    await recordAll(log, [
      attestation({ sessionId: session, at: T0 }),
      { kind: "release", outcome: "refused", reason: "token_expired", at: T0 + 1, sessionId: session, resourcePath: "repo/key/a", tokenId: "tok-1", client: "203.0.113.7" },
      { kind: "release", outcome: "released", at: T0 + 2, sessionId: session, resourcePath: "repo/key/a", tokenId: "tok-1", client: "203.0.113.7" },
    ]);
    const res = await get(`?session=${session}&limit=2`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = (await res.json()) as { records: Record<string, unknown>[]; next_cursor: string | null };
    expect(body.records).toEqual([
      { id: expect.stringMatching(ULID), at: T0 + 2, kind: "release", outcome: "released", session_id: session, resource_path: "repo/key/a", token_id: "tok-1", client: "203.0.113.7" },
      { id: expect.stringMatching(ULID), at: T0 + 1, kind: "release", outcome: "refused", reason: "token_expired", session_id: session, resource_path: "repo/key/a", token_id: "tok-1", client: "203.0.113.7" },
    ]);
    expect(body.next_cursor).toEqual(expect.any(String));

    const rest = (await (await get(`?session=${session}&limit=2&cursor=${body.next_cursor}`)).json()) as typeof body;
    expect(rest.next_cursor).toBeNull();
    expect(rest.records).toEqual([
      {
        id: expect.stringMatching(ULID),
        at: T0,
        kind: "attestation",
        outcome: "accepted",
        session_id: session,
        tee: "snp",
        evidence_digest: DIGEST,
        measurement: "cd".repeat(48),
        platform_id: "ef".repeat(64),
        init_data_digest: "01".repeat(32),
        policy_id: "default",
        token_id: "tok-1",
        client: "203.0.113.7",
      },
    ]);

    for (const [query, n] of [
      [`&kind=release`, 2],
      [`&outcome=refused`, 1],
      [`&tee=snp`, 1],
      [`&path=repo/key/a`, 2],
      [`&since=${T0 + 1}`, 2],
      [`&until=${T0 + 1}`, 1],
      [`&since=${T0 + 1}&until=${T0 + 2}&kind=release&outcome=refused&path=repo%2Fkey%2Fa`, 1],
      [`&tee=tdx`, 0],
    ] as const) {
      const res = await get(`?session=${session}${query}`);
      expect(res.status, query).toBe(200);
      expect(((await res.json()) as typeof body).records, query).toHaveLength(n);
    }
  });

  it.each([
    ["kind=login", "kind"],
    ["outcome=", "outcome"],
    ["limit=0", "limit"],
    ["limit=1001", "limit"],
    ["limit=1e3", "limit"],
    ["limit=+5", "limit"],
    ["limit=%2010", "limit"],
    ["since=-1", "since"],
    ["since=1.5", "since"],
    ["since=0x10", "since"],
    ["since=2026-05-01T00:00:00Z", "since"],
    ["until=99999999999999999", "until"],
    ["since=20&until=10", "since"],
    ["session=a%20b", "session"],
    [`path=${"r".repeat(513)}`, "path"],
    ["cursor=nope", "cursor"],
    [`cursor=${"A".repeat(65)}`, "cursor"],
    ["bogus=1", "bogus"],
    ["kind=release&kind=attestation", "kind"],
  ])("?%s is a 400 invalid_request", async (query, mentions) => {
    const res = await get(`?${query}`);
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.code).toBe("invalid_request");
    expect(problem.detail).toContain(mentions);
  });
});
