import { describe, expect, it } from "vitest";
import { authorizedEntries, authorizeWithIndex, indexByParent, type AuthorizableEntry } from "../../../src/lib/registry/authorized";
import type { Selector } from "../../../src/lib/registry/selectors";
import type { SpiffeId } from "../../../src/lib/spiffe/id";
import { prng } from "../../support/prng";

const TD = "spiffe://example.org";
const SERVER = `${TD}/signet/server`;
const AGENT = `${TD}/signet/agent/join_token/agent-0000000000000` as SpiffeId;
const sel = (type: string, value: string): Selector => ({ type, value });

let nextId = 0;
const entry = (spiffeId: string, parentId: string, selectors: Selector[] = [sel("unix", "uid:0")]): AuthorizableEntry => ({ id: `e${nextId++}`, spiffeId, parentId, selectors });
const ids = (list: readonly AuthorizableEntry[]) => list.map((e) => e.id).sort();

/** The naive reference: grow the set of parents to a fixed point, then take every entry under one. */
function reference(agentId: string, agentSelectors: readonly Selector[], entries: readonly AuthorizableEntry[]): { ids: string[]; rounds: number } {
  const have = new Set(agentSelectors.map((s) => `${s.type}:${s.value}`));
  const parents = new Set<string>([agentId]);
  for (const e of entries) {
    if (e.parentId === SERVER && e.selectors.length > 0 && e.selectors.every((s) => have.has(`${s.type}:${s.value}`)) && e.spiffeId !== SERVER) parents.add(e.spiffeId);
  }
  let rounds = 0;
  for (let changed = true; changed; ) {
    changed = false;
    rounds++;
    for (const e of entries) {
      if (parents.has(e.parentId) && e.spiffeId !== SERVER && !parents.has(e.spiffeId)) {
        parents.add(e.spiffeId);
        changed = true;
      }
    }
  }
  return { ids: entries.filter((e) => parents.has(e.parentId)).map((e) => e.id).sort(), rounds };
}

describe("authorizedEntries", () => {
  it("entries under the agent, under matching node entries, transitively; not the node entries themselves", () => {
    const alias = entry(`${TD}/node/snp`, SERVER, [sel("tee", "type:snp")]);
    const other = entry(`${TD}/node/tdx`, SERVER, [sel("tee", "type:tdx")]);
    const both = entry(`${TD}/node/strict`, SERVER, [sel("tee", "type:snp"), sel("snp", "measurement:aa")]);
    const direct = entry(`${TD}/w/direct`, AGENT);
    const viaAlias = entry(`${TD}/w/alias`, alias.spiffeId);
    const nested = entry(`${TD}/w/nested`, viaAlias.spiffeId);
    const viaOther = entry(`${TD}/w/other`, other.spiffeId);
    const viaStrict = entry(`${TD}/w/strict`, both.spiffeId);
    const foreign = entry(`${TD}/w/foreign`, `${TD}/signet/agent/x509pop/other`);
    const all = [alias, other, both, direct, viaAlias, nested, viaOther, viaStrict, foreign];
    expect(ids(authorizedEntries(AGENT, [sel("tee", "type:snp")], all))).toEqual(ids([direct, viaAlias, nested]));
    expect(ids(authorizedEntries(AGENT, [sel("tee", "type:snp"), sel("snp", "measurement:aa")], all))).toEqual(ids([direct, viaAlias, nested, viaStrict]));
    expect(ids(authorizedEntries(AGENT, [], all))).toEqual(ids([direct]));
  });

  it("a node entry without selectors matches no agent", () => {
    const empty = entry(`${TD}/node/any`, SERVER, []);
    const under = entry(`${TD}/w/x`, empty.spiffeId);
    expect(authorizedEntries(AGENT, [sel("tee", "type:snp")], [empty, under])).toEqual([]);
  });

  it("terminates on a cycle and returns each entry once", () => {
    const a = entry(`${TD}/a`, AGENT);
    const b = entry(`${TD}/b`, a.spiffeId);
    const back = entry(AGENT, b.spiffeId);
    const self = entry(`${TD}/c`, `${TD}/c`);
    const selfUnder = entry(`${TD}/c`, a.spiffeId);
    const r = authorizeWithIndex(AGENT, [], indexByParent([a, b, back, self, selfUnder]));
    expect(ids(r.entries)).toEqual(ids([a, b, back, self, selfUnder]));
  });

  it("an entry claiming the server's ID does not make every node entry authorized", () => {
    const alias = entry(`${TD}/node/tdx`, SERVER, [sel("tee", "type:tdx")]);
    const bogus = entry(SERVER, AGENT);
    const under = entry(`${TD}/w`, alias.spiffeId);
    expect(ids(authorizedEntries(AGENT, [], [alias, bogus, under]))).toEqual(ids([bogus]));
  });

  it("agrees with the naive reference on random graphs (with cycles), in O(entries) steps", () => {
    const rand = prng(0x5eed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
    const types = [sel("tee", "type:snp"), sel("tee", "type:tdx"), sel("snp", "m:1"), sel("snp", "m:2"), sel("region", "eu")];
    let graphs = 0;
    let nonEmpty = 0;
    let cyclic = 0;
    let maxRounds = 0;
    for (let g = 0; g < 400; g++) {
      const n = 1 + Math.floor(rand() * 60);
      const names = [AGENT, `${TD}/signet/agent/other`, SERVER, ...Array.from({ length: Math.max(2, Math.floor(n / 2)) }, (_, i) => `${TD}/n${i}`)];
      const entries: AuthorizableEntry[] = [];
      for (let i = 0; i < n; i++) {
        const selectors = types.filter(() => rand() < 0.3);
        const parent = rand() < 0.25 ? SERVER : pick(names);
        entries.push(entry(pick(names.slice(3)), parent, selectors));
      }
      const agentSelectors = types.filter(() => rand() < 0.5);
      const want = reference(AGENT, agentSelectors, entries);
      const got = authorizeWithIndex(AGENT, agentSelectors, indexByParent(entries));
      expect(ids(got.entries)).toEqual(want.ids);
      expect(new Set(got.entries.map((e) => e.id)).size).toBe(got.entries.length);
      // Each parent list once, each entry at most once per list it is in: at most names + 2n steps.
      expect(got.steps).toBeLessThanOrEqual(names.length + 2 * entries.length);
      graphs++;
      if (want.ids.length > 0) nonEmpty++;
      if (entries.some((e) => e.spiffeId === e.parentId) || want.rounds > 2) cyclic++;
      maxRounds = Math.max(maxRounds, want.rounds);
    }
    expect(graphs).toBe(400);
    // The sweep exercised something: authorizations found, self-loops or deep chains, several rounds.
    expect(nonEmpty).toBeGreaterThan(100);
    expect(cyclic).toBeGreaterThan(50);
    expect(maxRounds).toBeGreaterThan(3);
  });

  it("a chain of 100,000 entries is walked in linear steps", () => {
    const entries: AuthorizableEntry[] = [];
    let parent: string = AGENT;
    for (let i = 0; i < 100_000; i++) {
      const e = entry(`${TD}/chain/${i}`, parent);
      entries.push(e);
      parent = e.spiffeId;
    }
    entries.push(entry(AGENT, parent)); // and back to the agent: a cycle
    const r = authorizeWithIndex(AGENT, [], indexByParent(entries));
    expect(r.entries).toHaveLength(100_001);
    expect(r.steps).toBeLessThanOrEqual(2 * 100_001 + 1);
  });
});
