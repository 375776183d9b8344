/**
 * The cursor sync converges from any state (issue 9; DEVELOPERS.md: every state machine, sync cursors
 * included, converges from any stored state): random registries and writes (node entries, nested
 * parents, deletions, expiry, tombstone pruning, agents whose node selectors change), agents holding
 * random, stale, foreign or garbage cursors, syncs cut off between pages; after one complete sync
 * the agent holds exactly the entries it is authorized for, at their current revision.
 */
import { describe, expect, it } from "vitest";
import { authorizeWithIndex } from "../../../src/lib/registry/authorized";
import { authorizedAmong, EntryIndex, isStructural, syncPage, type SyncableEntry, type SyncAgent, type SyncCounters } from "../../../src/lib/registry/sync";
import type { SpiffeId } from "../../../src/lib/spiffe/id";
import { prng } from "../../support/prng";

interface E extends SyncableEntry {
  readonly revision: number;
}

const SERVER = "spiffe://example.org/signet/server";
const AGENT = "spiffe://example.org/signet/agent/tee/0001" as SpiffeId;
const NOW = 1_800_000_000;

/** The registry's side as the Durable Object keeps it: index, counters, tombstones. */
class Model {
  index = new EntryIndex<E>();
  counters: { seq: number; structureSeq: number; tombstoneFloor: number } = { seq: 0, structureSeq: 0, tombstoneFloor: 0 };
  tombstones: { id: string; seq: number }[] = [];

  write(before: E | undefined, after: E | undefined): void {
    const seq = ++this.counters.seq;
    if (isStructural(this.index, before, after)) this.counters.structureSeq = seq;
    if (after) this.index.put({ ...after, changedSeq: seq });
    else if (before) {
      this.index.remove(before.id);
      this.tombstones.push({ id: before.id, seq });
    }
  }

  prune(keepAfter: number): void {
    this.tombstones = this.tombstones.filter((t) => t.seq > keepAfter);
    this.counters.tombstoneFloor = Math.max(this.counters.tombstoneFloor, keepAfter);
  }

  deleted = (since: number, upTo: number, limit: number) =>
    this.tombstones
      .filter((t) => t.seq > since && t.seq <= upTo)
      .slice(0, limit)
      .map((t) => t.id);
}

class AgentModel {
  held = new Map<string, E>();
  cursor: string | undefined;

  /** A sync, possibly cut off after `maxPages` pages (then nothing of it is committed). */
  sync(model: Model, agent: SyncAgent, pageSize: number, maxPages = Infinity, between: () => void = () => {}): "done" | "cut" {
    let pageToken: string | undefined;
    const got = new Map<string, E>();
    const removed = new Set<string>();
    for (let pages = 0; ; pages++) {
      if (pages >= maxPages) return "cut";
      const r = syncPage(model.index, model.counters as SyncCounters, agent, { cursor: this.cursor, pageToken, pageSize }, model.deleted, NOW);
      expect(r.ok).toBe(true);
      if (!r.ok) throw new Error("page");
      const page = r.value;
      for (const e of page.entries) got.set(e.id, e);
      for (const id of page.removed) removed.add(id);
      if (page.nextPageToken) {
        pageToken = page.nextPageToken;
        between();
        continue;
      }
      if (page.full) this.held = got;
      else {
        for (const id of removed) this.held.delete(id);
        for (const [id, e] of got) this.held.set(id, e);
      }
      // Agents drop what expired themselves.
      for (const [id, e] of this.held) if (e.expiresAt !== 0 && e.expiresAt <= NOW) this.held.delete(id);
      this.cursor = page.cursor;
      return "done";
    }
  }
}

function expected(model: Model, agent: SyncAgent): Map<string, number> {
  const walk = authorizeWithIndex(agent.id, agent.selectors, model.index.byParent);
  return new Map(walk.entries.filter((e) => e.expiresAt === 0 || e.expiresAt > NOW).map((e) => [e.id, e.revision]));
}

describe("cursor sync", () => {
  it("converges from any state: 300 random histories", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const model = new Model();
      const ids = Array.from({ length: 40 }, (_, i) => `e${String(i).padStart(3, "0")}`);
      const spiffeIds = Array.from({ length: 60 }, (_, i) => `spiffe://example.org/w${i}`);
      const aliases = ["spiffe://example.org/nodes/a", "spiffe://example.org/nodes/b"];
      const selectorPool = [{ type: "tee", value: "type:sample" }, { type: "tee", value: "type:snp" }, { type: "x", value: "1" }];
      const agentSelectors = () => selectorPool.filter(() => rand() < 0.6);
      let selectors = agentSelectors();
      const agentOf = (): SyncAgent => ({ id: AGENT, selectors, selectorsKey: selectors.map((s) => `${s.type}:${s.value}`).join(",") });
      const agent = new AgentModel();
      const randomEntry = (id: string, revision: number): E => {
        const node = rand() < 0.15;
        return {
          id,
          spiffeId: node ? pick(aliases) : pick(spiffeIds),
          parentId: node ? SERVER : pick([AGENT, AGENT, AGENT, AGENT, ...aliases, ...spiffeIds.slice(0, 3), "spiffe://example.org/signet/agent/other"]),
          selectors: node ? selectorPool.filter(() => rand() < 0.5).slice(0, 2) : [{ type: "unix", value: `uid:${Math.floor(rand() * 3)}` }],
          expiresAt: rand() < 0.1 ? NOW - 10 : rand() < 0.1 ? NOW + 1000 : 0,
          changedSeq: 0,
          revision,
        };
      };
      const steps = 20 + Math.floor(rand() * 80);
      for (let step = 0; step < steps; step++) {
        const r = rand();
        const id = pick(ids);
        const before = model.index.get(id);
        if (r < 0.45) model.write(before, randomEntry(id, (before?.revision ?? -1) + 1));
        else if (r < 0.6) model.write(before, undefined);
        else if (r < 0.65) model.prune(Math.max(0, model.counters.seq - Math.floor(rand() * 6)));
        else if (r < 0.7) selectors = agentSelectors();
        else if (r < 0.75) agent.cursor = pick([undefined, "garbage", "AAAA", agent.cursor, `${agent.cursor ?? ""}x`]);
        else {
          // Writes land between the pages of a sync, too.
          const concurrent = () => {
            if (rand() < 0.5) return;
            const other = pick(ids);
            const was = model.index.get(other);
            model.write(was, rand() < 0.7 ? randomEntry(other, (was?.revision ?? -1) + 1) : undefined);
          };
          agent.sync(model, agentOf(), 1 + Math.floor(rand() * 6), rand() < 0.3 ? Math.floor(rand() * 3) : Infinity, concurrent);
        }
      }
      expect(agent.sync(model, agentOf(), 1 + Math.floor(rand() * 6))).toBe("done");
      const held = new Map([...agent.held].map(([id, e]) => [id, e.revision]));
      expect(held, `seed ${seed}`).toEqual(expected(model, agentOf()));
      // Deciding entry by entry (the SVID-signing path) agrees with the walk.
      const oneByOne = authorizedAmong(model.index, agentOf(), [...ids, "missing"], NOW);
      expect(new Map(oneByOne.map((e) => [e.id, e.revision])), `seed ${seed}`).toEqual(expected(model, agentOf()));
      // And the next sync with nothing changed is an empty delta.
      const again = syncPage(model.index, model.counters, agentOf(), { cursor: agent.cursor, pageSize: 500 }, model.deleted, NOW);
      expect(again.ok && again.value).toMatchObject({ full: false, entries: [], removed: [] });
    }
  });

  it("after one change, a delta carries just that entry; a node entry change forces a full sync", () => {
    const model = new Model();
    const agent: SyncAgent = { id: AGENT, selectors: [{ type: "tee", value: "type:sample" }], selectorsKey: "tee:type:sample" };
    const mk = (i: number, parentId: string, spiffeId = `spiffe://example.org/w${i}`): E => ({ id: `id${String(i).padStart(5, "0")}`, spiffeId, parentId, selectors: [{ type: "unix", value: "uid:1" }], expiresAt: 0, changedSeq: 0, revision: 0 });
    model.write(undefined, { ...mk(0, SERVER, "spiffe://example.org/nodes/sample"), selectors: [{ type: "tee", value: "type:sample" }] });
    for (let i = 1; i <= 1200; i++) model.write(undefined, mk(i, i % 2 ? AGENT : "spiffe://example.org/nodes/sample"));
    const a = new AgentModel();
    a.sync(model, agent, 500);
    expect(a.held.size).toBe(1200);
    model.write(model.index.get("id00007"), { ...mk(7, AGENT), revision: 1 });
    const delta = syncPage(model.index, model.counters, agent, { cursor: a.cursor, pageSize: 500 }, model.deleted, NOW);
    expect(delta.ok && delta.value).toMatchObject({ full: false, entries: [{ id: "id00007", revision: 1 }], removed: [] });
    model.write(model.index.get("id00000"), undefined);
    const full = syncPage(model.index, model.counters, agent, { cursor: a.cursor, pageSize: 500 }, model.deleted, NOW);
    expect(full.ok && full.value.full).toBe(true);
  });

  it("refuses page tokens it did not hand out, or handed to an agent with other selectors", () => {
    const model = new Model();
    for (let i = 0; i < 5; i++) model.write(undefined, { id: `id${i}`, spiffeId: `spiffe://example.org/w${i}`, parentId: AGENT, selectors: [{ type: "unix", value: "uid:1" }], expiresAt: 0, changedSeq: 0, revision: 0 });
    const agent: SyncAgent = { id: AGENT, selectors: [], selectorsKey: "" };
    const first = syncPage(model.index, model.counters, agent, { pageSize: 2 }, model.deleted, NOW);
    const token = first.ok ? first.value.nextPageToken! : "";
    expect(syncPage(model.index, model.counters, agent, { pageToken: token, pageSize: 2 }, model.deleted, NOW).ok).toBe(true);
    for (const bad of ["", "x", "AAAA", `${token}A`, token.slice(0, -2)]) {
      expect(syncPage(model.index, model.counters, agent, { pageToken: bad, pageSize: 2 }, model.deleted, NOW)).toMatchObject({ ok: false, error: { reason: "invalid_page_token" } });
    }
    const other: SyncAgent = { ...agent, selectorsKey: "tee:type:snp" };
    expect(syncPage(model.index, model.counters, other, { pageToken: token, pageSize: 2 }, model.deleted, NOW).ok).toBe(false);
  });
});
