/**
 * The registry's sync state (lib/registry/sync.ts): the change counters and tombstones in SQLite,
 * every entry in memory (by id and by parent) for authorization, and the agents waiting for a change.
 *
 * Invariants: a write's counters, tombstone and `changed_seq` are stored in the write's own
 * transaction; the in-memory index changes only after that transaction has committed (`commit`), and
 * is rebuilt from storage if a transaction failed half-way (`discard`). Tombstones are kept for the
 * newest MAX_TOMBSTONES deletions; the floor records where the pruned ones ended.
 */
import { and, asc, count, eq, gt, lte } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Entry } from "../lib/registry/entry";
import { authorizedAmong, authorizedView, EntryIndex, isStructural, syncPage, type AuthorizedView, type SyncAgent, type SyncCounters, type SyncError, type SyncPage } from "../lib/registry/sync";
import type { Result } from "../lib/result";
import type * as schema from "./tables/registry";
import { entries, entryTombstones, syncCounters } from "./tables/registry";

export type IndexedEntry = Entry & { readonly changedSeq: number };

/** Deletions remembered for delta syncs; older ones make an agent with an older cursor sync in full. */
export const MAX_TOMBSTONES = 10_000;
/** Longest an agent's sync may wait for a change (long-poll). */
export const MAX_SYNC_WAIT_MS = 25_000;
/** Authorized sets kept for agents paging through a sync (each up to the whole registry, shared entries). */
const MAX_CACHED_VIEWS = 16;

type Db = DrizzleSqliteDODatabase<typeof schema>;

export class RegistrySync {
  readonly #db: Db;
  readonly #load: () => IndexedEntry[];
  #index: EntryIndex<IndexedEntry> | undefined;
  #counters: SyncCounters | undefined;
  /** Index changes of the transaction in progress. */
  #pending: (() => void)[] = [];
  readonly #waiters = new Set<() => void>();
  /** Recently used authorized sets, by change sequence, agent and node selectors (LRU). */
  readonly #views = new Map<string, AuthorizedView<IndexedEntry>>();

  constructor(db: Db, load: () => IndexedEntry[]) {
    this.#db = db;
    this.#load = load;
  }

  get index(): EntryIndex<IndexedEntry> {
    this.#index ??= new EntryIndex(this.#load());
    return this.#index;
  }

  get counters(): SyncCounters {
    this.#counters ??= this.#db.select().from(syncCounters).get() ?? { seq: 0, structureSeq: 0, tombstoneFloor: 0 };
    return this.#counters;
  }

  /**
   * Inside a write transaction: the next change sequence for a write turning `before` into `after`
   * (stamp it on the row), recorded with its tombstone and counters.
   */
  recordWrite(before: Entry | undefined, after: Entry | undefined): number {
    const c = this.counters;
    const seq = c.seq + 1;
    const index = this.index;
    const asIndexed = (e: Entry | undefined) => (e ? { ...e, changedSeq: seq } : undefined);
    const structural = isStructural(index, asIndexed(before), asIndexed(after));
    let tombstoneFloor = c.tombstoneFloor;
    if (!after && before) {
      this.#db.insert(entryTombstones).values({ id: before.id, seq }).onConflictDoUpdate({ target: entryTombstones.id, set: { seq } }).run();
      tombstoneFloor = this.#pruneTombstones(tombstoneFloor);
    } else if (after) {
      // A re-created id is live again: its old tombstone no longer applies.
      this.#db.delete(entryTombstones).where(eq(entryTombstones.id, after.id)).run();
    }
    const next: SyncCounters = { seq, structureSeq: structural ? seq : c.structureSeq, tombstoneFloor };
    this.#db.insert(syncCounters).values({ id: 1, ...next }).onConflictDoUpdate({ target: syncCounters.id, set: next }).run();
    this.#counters = next;
    const indexed = asIndexed(after);
    this.#pending.push(() => {
      if (indexed) index.put(indexed);
      else if (before) index.remove(before.id);
    });
    return seq;
  }

  /** After the write transaction committed: apply its index changes and wake waiting agents. */
  commit(): void {
    const changes = this.#pending;
    this.#pending = [];
    for (const apply of changes) apply();
    if (changes.length > 0) {
      for (const wake of this.#waiters) wake();
      this.#waiters.clear();
    }
  }

  /** The transaction failed: forget its changes; memory is rebuilt from storage when next needed. */
  discard(): void {
    this.#pending = [];
    this.#views.clear();
    this.#index = undefined;
    this.#counters = undefined;
  }

  page(agent: SyncAgent, request: { cursor?: string; pageToken?: string; pageSize: number }, nowSeconds: number): Result<SyncPage<IndexedEntry>, SyncError> {
    return syncPage(this.index, this.counters, agent, request, (since, upTo, limit) => this.#tombstones(since, upTo, limit), nowSeconds, () => this.#view(agent));
  }

  /** The entries among `ids` the agent is authorized for (decided entry by entry). */
  authorizedAmong(agent: SyncAgent, ids: readonly string[], nowSeconds: number): IndexedEntry[] {
    return authorizedAmong(this.index, agent, ids, nowSeconds);
  }

  /** The agent's authorized set at this change sequence, computed once for all the pages of its sync. */
  #view(agent: SyncAgent): AuthorizedView<IndexedEntry> {
    const key = `${this.counters.seq}\n${agent.id}\n${agent.selectorsKey}`;
    const hit = this.#views.get(key);
    if (hit) {
      this.#views.delete(key);
      this.#views.set(key, hit);
      return hit;
    }
    const view = authorizedView(this.index, agent);
    this.#views.set(key, view);
    if (this.#views.size > MAX_CACHED_VIEWS) this.#views.delete(this.#views.keys().next().value!);
    return view;
  }

  /** Resolves at the next committed change, or after `ms`. */
  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(ms, MAX_SYNC_WAIT_MS));
      const waiters = this.#waiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  #tombstones(since: number, upTo: number, limit: number): string[] {
    return this.#db
      .select({ id: entryTombstones.id })
      .from(entryTombstones)
      .where(and(gt(entryTombstones.seq, since), lte(entryTombstones.seq, upTo)))
      .orderBy(asc(entryTombstones.seq))
      .limit(limit)
      .all()
      .map((r) => r.id);
  }

  #pruneTombstones(floor: number): number {
    const n = this.#db.select({ n: count() }).from(entryTombstones).get()?.n ?? 0;
    if (n <= MAX_TOMBSTONES) return floor;
    const cut = this.#db
      .select({ seq: entryTombstones.seq })
      .from(entryTombstones)
      .orderBy(asc(entryTombstones.seq))
      .limit(1)
      .offset(n - MAX_TOMBSTONES - 1)
      .get();
    if (!cut) return floor;
    this.#db.delete(entryTombstones).where(lte(entryTombstones.seq, cut.seq)).run();
    return Math.max(floor, cut.seq);
  }
}

/** Entries table rows → the indexed entries (the registry's own row reader). */
export function loadIndexedEntries(db: Db, entryOf: (row: typeof entries.$inferSelect) => Entry): IndexedEntry[] {
  return db
    .select()
    .from(entries)
    .all()
    .map((row) => ({ ...entryOf(row), changedSeq: row.changedSeq }));
}
