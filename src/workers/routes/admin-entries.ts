/**
 * /admin/v1/entries and /admin/v1/join-tokens: registration entries (in batches, as SPIRE's entry
 * API) and join tokens. Authenticated by adminAuth.
 *
 * - `POST   /entries`          `{"entries":[…]}`  → `{"results":[{"status":"created","entry"} | failure]}`
 * - `PATCH  /entries`          `{"entries":[{"id","revision_number",…changes}]}` → `{"results":[{"status":"updated","entry"} | failure]}`
 *   (also `POST /entries/update`, for clients that only send GET and POST)
 * - `POST   /entries/delete`   `{"ids":[…]}` → `{"results":[{"id","status":"deleted"} | failure]}`
 * - `GET    /entries/:id`      → the entry, or a 404 problem `entry_not_found`
 * - `GET    /entries?spiffe_id=&parent_id=&selector=type:value&match=&federates_with=&hint=&downstream=&page_size=&page_token=`
 *   → `{"entries":[…],"next_page_token":string|null}`
 * - `POST   /join-tokens`      `{"ttl":600,"token"?}` → `{"token","expires_at","agent_id"}`
 *
 * A malformed request is one problem+json answer and nothing is written. In a well-formed batch each
 * item has its own result (the batch answers 200), and a failure reads as a problem's fields:
 * `{"status": <error code>, "http_status", "title", "detail"}`, plus `existing_id` for
 * `entry_exists` and `current_revision` for `revision_conflict`.
 */
import { Hono, type Context } from "hono";
import { registryFor } from "../../durable/addresses";
import type { EntryFailure, JoinTokenFailure } from "../../durable/registry";
import { joinTokenAgentId } from "../../lib/registry/ids";
import { parseSelector, type Selector } from "../../lib/registry/selectors";
import type { Result } from "../../lib/result";
import type { AppEnv } from "../context";
import { AppError, ERROR_CATALOG, type ErrorCode } from "../errors";
import { readJson } from "../middleware/json-body";
import {
  CreateEntriesBody,
  CreateJoinTokenBody,
  DeleteEntriesBody,
  ListEntriesQuery,
  toEntryFilters,
  toEntryInput,
  toEntryUpdate,
  toWireEntry,
  UpdateEntriesBody,
} from "../schemas/admin-entries";

export const adminEntries = new Hono<AppEnv>();

/** SPIRE's `token generate` default. */
const DEFAULT_JOIN_TOKEN_TTL = 600;
const NO_STORE = { "Cache-Control": "no-store" };

function codeOf(f: EntryFailure | JoinTokenFailure): ErrorCode {
  return f.reason === "registry_misconfigured" ? "service_misconfigured" : f.reason === "join_token_not_found" || f.reason === "join_token_expired" ? "invalid_join_token" : f.reason;
}

function toAppError(f: EntryFailure | JoinTokenFailure): AppError {
  if (f.reason === "registry_misconfigured") return new AppError("service_misconfigured", "The registry is not configured; see its logs.", { internal: f.detail });
  return new AppError(codeOf(f), f.detail);
}

function wireFailure(f: EntryFailure): Record<string, unknown> {
  if (f.reason === "registry_misconfigured") throw toAppError(f);
  const code = codeOf(f);
  const out: Record<string, unknown> = { status: code, http_status: ERROR_CATALOG[code].status, title: ERROR_CATALOG[code].title, detail: f.detail };
  if (f.existingId !== undefined) out.existing_id = f.existingId;
  if (f.currentRevision !== undefined) out.current_revision = f.currentRevision;
  return out;
}

function unwrap<T>(r: Result<T, EntryFailure | JoinTokenFailure>): T {
  if (!r.ok) throw toAppError(r.error);
  return r.value;
}

const registry = (c: Context<AppEnv>) => registryFor(c.env, c.get("config").trustDomain);

adminEntries.post("/entries", async (c) => {
  const body = await readJson(c, CreateEntriesBody);
  const done = unwrap(await registry(c).createEntries({ entries: body.entries.map(toEntryInput), now: Date.now() }));
  const results = done.results.map((r) => (r.ok ? { status: "created", entry: toWireEntry(r.value) } : wireFailure(r.error)));
  return c.json({ results }, 200, NO_STORE);
});

const update = async (c: Context<AppEnv>) => {
  const body = await readJson(c, UpdateEntriesBody);
  const done = unwrap(await registry(c).updateEntries({ updates: body.entries.map(toEntryUpdate), now: Date.now() }));
  const results = done.results.map((r) => (r.ok ? { status: "updated", entry: toWireEntry(r.value) } : wireFailure(r.error)));
  return c.json({ results }, 200, NO_STORE);
};
adminEntries.patch("/entries", update);
adminEntries.post("/entries/update", update);

adminEntries.post("/entries/delete", async (c) => {
  const body = await readJson(c, DeleteEntriesBody);
  const done = unwrap(await registry(c).deleteEntries({ ids: body.ids }));
  const results = done.results.map((r, i) => (r.ok ? { id: r.value.id, status: "deleted" } : { id: body.ids[i], ...wireFailure(r.error) }));
  return c.json({ results }, 200, NO_STORE);
});

adminEntries.get("/entries/:id", async (c) => {
  const entry = unwrap(await registry(c).getEntry({ id: c.req.param("id") }));
  return c.json(toWireEntry(entry), 200, NO_STORE);
});

const REPEATABLE = new Set(["selector", "federates_with"]);

adminEntries.get("/entries", async (c) => {
  const params = new URL(c.req.url).searchParams;
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    if (REPEATABLE.has(name)) query[name] = values;
    else if (values.length > 1) throw new AppError("invalid_request", `${name.slice(0, 40)}: given more than once`);
    else query[name] = values[0]!;
  }
  const q = ListEntriesQuery.safeParse(query);
  if (!q.success) {
    const issue = q.error.issues[0];
    if (issue?.code === "unrecognized_keys") throw new AppError("unknown_field", `Unknown query parameter(s) ${issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(", ")}.`);
    throw new AppError("invalid_request", `${issue?.path.join(".") || "query"}: ${issue?.message ?? "invalid"}`);
  }
  let selectors: Selector[] | undefined;
  if (q.data.selector !== undefined) {
    selectors = [];
    for (const [i, text] of q.data.selector.entries()) {
      const s = parseSelector(text, i);
      if (!s.ok) throw new AppError("invalid_selector", `selector: ${s.error.detail}`);
      selectors.push(s.value);
    }
  } else if (q.data.match !== undefined) {
    throw new AppError("invalid_request", "match: needs at least one selector");
  }
  const page = unwrap(await registry(c).listEntries({ filters: toEntryFilters(q.data, selectors), pageSize: q.data.page_size, pageToken: q.data.page_token }));
  return c.json({ entries: page.entries.map(toWireEntry), next_page_token: page.nextPageToken ?? null }, 200, NO_STORE);
});

adminEntries.post("/join-tokens", async (c) => {
  const body = await readJson(c, CreateJoinTokenBody);
  const created = unwrap(await registry(c).createJoinToken({ ttlSeconds: body.ttl ?? DEFAULT_JOIN_TOKEN_TTL, now: Date.now(), token: body.token }));
  const agentId = joinTokenAgentId(c.get("config").trustDomain, created.token);
  return c.json({ token: created.token, expires_at: created.expiresAt, agent_id: agentId }, 200, NO_STORE);
});
