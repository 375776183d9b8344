/**
 * Authorized-entries sync with a cursor (issue 9; spec §2.5). SPIRE ≥ 1.12 (SyncAuthorizedEntries)
 * sends every authorized entry's (id, revision) on each sync, so a sync costs O(authorized entries) on
 * the wire however little changed. Here the agent keeps an opaque cursor (the registry's change
 * sequence it has seen) and asks only for what changed since:
 *
 * - **full** (no cursor, or one that cannot be honoured): every authorized entry, in id order, in
 *   pages; the agent replaces what it holds with the union of the pages. The cursor handed out on the
 *   last page is the sequence at the first page, so whatever changed while paging comes again.
 * - **delta**: the entries changed after the cursor (those still authorized in `entries`, in pages;
 *   the others in `removed`, on the first page) and the entries deleted since (`removed`, first page).
 *
 * Every write stamps the entries it touches with a new sequence number (`changedSeq`) and a deletion
 * leaves a tombstone. A write that can change *which* entries an agent is authorized for without
 * touching them — a node entry, or an entry other entries are parented to — records
 * `structureSeq`; a cursor older than that (or than the oldest tombstone kept, or minted for other
 * node selectors than the agent has now, or from the future) gets a full sync. So from any cursor,
 * one complete sync leaves the agent with exactly its authorized entries. Expiry changes nothing's
 * sequence: agents drop expired entries themselves, and the server never hands them out.
 *
 * Pure: the caller keeps the index in step with storage and passes the counters and tombstones.
 */
import { fnv1a32 } from "../fnv";
import { fromBase64, fromUtf8, toBase64Url, utf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import type { SpiffeId } from "../spiffe/id";
import { authorizeWithIndex, type AuthorizableEntry } from "./authorized";
import { serverIdFor } from "./ids";
import { isSubsetOf, selectorSet, type Selector } from "./selectors";

export interface SyncableEntry extends AuthorizableEntry {
  /** Seconds since the epoch; 0 = never. */
  readonly expiresAt: number;
  /** The registry change sequence of the entry's last write. */
  readonly changedSeq: number;
}

/** The registry's sync counters (persisted beside the entries). */
export interface SyncCounters {
  /** The last change sequence handed out. */
  readonly seq: number;
  /** The sequence of the last write that may change which entries an agent is authorized for. */
  readonly structureSeq: number;
  /** Tombstones of every deletion after this sequence are kept. */
  readonly tombstoneFloor: number;
}

export const SYNC_PAGE_SIZE = 500;
/** A delta with more deletions than this is sent as a full sync instead. */
export const MAX_DELTA_TOMBSTONES = 5000;

/** Entries in memory, by id and by parent ID, kept in step with storage by the registry. */
export class EntryIndex<E extends SyncableEntry> {
  readonly #byId = new Map<string, E>();
  readonly #byParent = new Map<string, E[]>();
  readonly #bySpiffeId = new Map<string, E[]>();

  constructor(entries: Iterable<E> = []) {
    for (const e of entries) this.put(e);
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): E | undefined {
    return this.#byId.get(id);
  }

  put(entry: E): void {
    this.remove(entry.id);
    this.#byId.set(entry.id, entry);
    push(this.#byParent, entry.parentId, entry);
    push(this.#bySpiffeId, entry.spiffeId, entry);
  }

  remove(id: string): E | undefined {
    const old = this.#byId.get(id);
    if (!old) return undefined;
    this.#byId.delete(id);
    drop(this.#byParent, old.parentId, id);
    drop(this.#bySpiffeId, old.spiffeId, id);
    return old;
  }

  /** The entries whose SPIFFE ID is `spiffeId`. */
  withSpiffeId(spiffeId: string): readonly E[] {
    return this.#bySpiffeId.get(spiffeId) ?? [];
  }

  /** Whether some entry is parented to `spiffeId`. */
  isParent(spiffeId: string): boolean {
    return this.#byParent.has(spiffeId);
  }

  get byParent(): ReadonlyMap<string, readonly E[]> {
    return this.#byParent;
  }

  values(): IterableIterator<E> {
    return this.#byId.values();
  }
}

function push<E>(map: Map<string, E[]>, key: string, e: E): void {
  const list = map.get(key);
  if (list) list.push(e);
  else map.set(key, [e]);
}

function drop<E extends { readonly id: string }>(map: Map<string, E[]>, key: string, id: string): void {
  const list = map.get(key)!;
  const at = list.findIndex((e) => e.id === id);
  list[at] = list[list.length - 1]!;
  list.pop();
  if (list.length === 0) map.delete(key);
}

/**
 * Which of `ids` the agent is authorized for, each decided by walking up from the entry's parent
 * (cost: the entries' ancestry, not the agent's whole authorized set). The same rule as
 * authorizeWithIndex: a parent is the agent's ID, a node entry's SPIFFE ID whose selectors the
 * agent's include, or the SPIFFE ID of an entry authorized in turn. Expired entries are left out.
 */
export function authorizedAmong<E extends SyncableEntry>(index: EntryIndex<E>, agent: SyncAgent, ids: readonly string[], nowSeconds: number): E[] {
  const serverId = serverIdFor(agent.id);
  const have = selectorSet(agent.selectors);
  const memo = new Map<string, boolean>([[agent.id, true], [serverId, false]]);
  const parentOk = (parentId: string): boolean => {
    const known = memo.get(parentId);
    if (known !== undefined) return known;
    memo.set(parentId, false); // cycles authorize nothing
    let ok = false;
    for (const e of index.withSpiffeId(parentId)) {
      ok = e.parentId === serverId ? e.selectors.length > 0 && isSubsetOf(e.selectors, have) : parentOk(e.parentId);
      if (ok) break;
    }
    memo.set(parentId, ok);
    return ok;
  };
  const out: E[] = [];
  for (const id of new Set(ids)) {
    const e = index.get(id);
    if (e && (e.expiresAt === 0 || e.expiresAt > nowSeconds) && e.parentId !== serverId && parentOk(e.parentId)) out.push(e);
  }
  return out;
}

/**
 * Whether a write changing `before` into `after` (either absent for a create or a delete) may change
 * which entries some agent is authorized for beyond the entry itself.
 */
export function isStructural<E extends SyncableEntry>(index: EntryIndex<E>, before: E | undefined, after: E | undefined): boolean {
  for (const e of [before, after]) {
    if (!e) continue;
    if (e.parentId === serverIdFor(e.spiffeId as SpiffeId)) return true;
    if (index.isParent(e.spiffeId)) return true;
  }
  return false;
}

export interface SyncRequest {
  readonly cursor?: string | undefined;
  readonly pageToken?: string | undefined;
  readonly pageSize: number;
}

export interface SyncAgent {
  readonly id: SpiffeId;
  readonly selectors: readonly Selector[];
  /** A stable text of the agent's node selectors (their canonical key). */
  readonly selectorsKey: string;
}

export interface SyncPage<E> {
  readonly full: boolean;
  readonly entries: E[];
  readonly removed: string[];
  /** Present when more pages follow. */
  readonly nextPageToken?: string;
  /** Present on the last page: what the agent sends next time. */
  readonly cursor?: string;
}

/** The entries an agent is authorized for (expired ones included), sorted by id, and their ids. */
export interface AuthorizedView<E> {
  readonly sorted: readonly E[];
  readonly ids: ReadonlySet<string>;
}

export function authorizedView<E extends SyncableEntry>(index: EntryIndex<E>, agent: SyncAgent): AuthorizedView<E> {
  const sorted = authorizeWithIndex(agent.id, agent.selectors, index.byParent).entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { sorted, ids: new Set(sorted.map((e) => e.id)) };
}

/** The first position in `sorted` whose id is after `after`. */
function firstAfter<E extends SyncableEntry>(sorted: readonly E[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.id <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface SyncError {
  readonly reason: "invalid_page_token";
  readonly detail: string;
}

interface Token {
  readonly mode: "full" | "delta";
  readonly since: number;
  readonly snapshot: number;
  readonly after: string;
  readonly selectors: string;
}

/** Seeds a token's check of the agent's selectors (not secret: it only has to change when they do). */
function selectorsTag(key: string): string {
  return fnv1a32(key).toString(16).padStart(8, "0");
}

function encodeToken(t: Token): string {
  return toBase64Url(utf8(JSON.stringify([t.mode === "full" ? 0 : 1, t.since, t.snapshot, t.after, t.selectors])));
}

function decodeToken(s: string): Token | undefined {
  if (s.length > 512 || !/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  const text = fromUtf8(fromBase64(s) ?? new Uint8Array());
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 5) return undefined;
  const [mode, since, snapshot, after, selectors] = v as unknown[];
  const seq = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if ((mode !== 0 && mode !== 1) || !seq(since) || !seq(snapshot) || typeof after !== "string" || typeof selectors !== "string") return undefined;
  return { mode: mode === 0 ? "full" : "delta", since, snapshot, after, selectors };
}

/** The cursor is the page token format with nothing after: one parser for both. */
function encodeCursor(seq: number, selectors: string): string {
  return encodeToken({ mode: "delta", since: seq, snapshot: seq, after: "", selectors });
}

/**
 * One page of a sync. `tombstones(since, upTo)` lists the ids deleted with a sequence in
 * (since, upTo]; it is only called for a delta whose `since` is at or above the tombstone floor.
 * `view` gives `authorizedView(index, agent)` for the index as it is now (callers may cache it per
 * change sequence); only a full sync asks for it: a delta decides each changed entry on its own.
 */
export function syncPage<E extends SyncableEntry>(
  index: EntryIndex<E>,
  counters: SyncCounters,
  agent: SyncAgent,
  request: SyncRequest,
  tombstones: (since: number, upTo: number, limit: number) => string[],
  nowSeconds: number,
  view: () => AuthorizedView<E> = () => authorizedView(index, agent),
): Result<SyncPage<E>, SyncError> {
  const tag = selectorsTag(agent.selectorsKey);
  let token: Token;
  if (request.pageToken !== undefined) {
    const t = decodeToken(request.pageToken);
    if (!t || t.snapshot > counters.seq || t.since > t.snapshot || t.after === "" || t.selectors !== tag) {
      return err({ reason: "invalid_page_token", detail: "not a page token this server handed out for this agent" });
    }
    token = t;
  } else {
    const c = request.cursor === undefined ? undefined : decodeToken(request.cursor);
    const usable = c !== undefined && c.mode === "delta" && c.after === "" && c.selectors === tag && c.since <= counters.seq && c.since >= counters.structureSeq && c.since >= counters.tombstoneFloor;
    token = usable ? { mode: "delta", since: c.since, snapshot: counters.seq, after: "", selectors: tag } : { mode: "full", since: 0, snapshot: counters.seq, after: "", selectors: tag };
  }

  const live = (e: E) => e.expiresAt === 0 || e.expiresAt > nowSeconds;
  let removed: string[] = [];
  const page: E[] = [];
  let more = false;
  if (token.mode === "full") {
    const { sorted } = view();
    for (let i = firstAfter(sorted, token.after); i < sorted.length; i++) {
      const e = sorted[i]!;
      if (!live(e)) continue;
      if (page.length === request.pageSize) {
        more = true;
        break;
      }
      page.push(e);
    }
  } else {
    if (token.after === "") {
      removed = tombstones(token.since, token.snapshot, MAX_DELTA_TOMBSTONES + 1);
      if (removed.length > MAX_DELTA_TOMBSTONES) {
        return syncPage(index, counters, agent, { pageSize: request.pageSize }, tombstones, nowSeconds, view);
      }
    }
    const touched: E[] = [];
    for (const e of index.values()) if (e.changedSeq > token.since && e.changedSeq <= token.snapshot) touched.push(e);
    const authorized = new Set(authorizedAmong(index, agent, touched.map((e) => e.id), nowSeconds).map((e) => e.id));
    const changed: E[] = [];
    for (const e of touched) {
      if (authorized.has(e.id)) {
        if (e.id > token.after) changed.push(e);
      } else if (token.after === "") removed.push(e.id);
    }
    changed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    page.push(...changed.slice(0, request.pageSize));
    more = changed.length > page.length;
  }
  return ok({
    full: token.mode === "full",
    entries: page,
    removed: [...new Set(removed)].sort(),
    ...(more ? { nextPageToken: encodeToken({ ...token, after: page[page.length - 1]!.id }) } : { cursor: encodeCursor(token.snapshot, tag) }),
  });
}
