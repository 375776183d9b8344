/**
 * The agent's sync loop against a fake agent API (fake-agent-api.ts: the registry's sync semantics,
 * a real CA): convergence from random states after random faults, long-poll and its fallback, the
 * minimum interval, back-off, serving from the cache while the server is down, CA rotation, and the
 * agent SVID's renewal, re-attestation and the fatal cases.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/lib/clock";
import { AgentFatalError, AgentIdentity } from "../../../src/agent/agent-identity";
import { joinTokenAttestor } from "../../../src/agent/attestation";
import { bundleSetFromAuthorities } from "../../../src/agent/bundles";
import { AgentCache, svidFingerprint, type CachedSvid } from "../../../src/agent/cache";
import { silentLogger } from "../../../src/agent/log";
import { SyncLoop, type SyncLoopOptions } from "../../../src/agent/sync";
import type { WireEntry } from "../../../src/agent/wire";
import { prng } from "../../support/prng";
import { AGENT_ID, entry, FakeAgentApi, SERVER_ID, TD, type Fault, type Method } from "./fake-agent-api";

const T0 = Date.UTC(2026, 5, 1);
const MIN = 60_000;

interface Rig {
  clock: ManualClock;
  api: FakeAgentApi;
  cache: AgentCache;
  identity: AgentIdentity;
  loop: SyncLoop;
}

async function rig(options: Partial<SyncLoopOptions> & { random?: () => number } = {}): Promise<Rig> {
  const clock = new ManualClock(T0);
  const api = await FakeAgentApi.create(clock);
  const random = options.random ?? prng(7);
  const identity = new AgentIdentity({ client: api, attestor: joinTokenAttestor("tok"), clock, random, log: silentLogger });
  const first = await identity.attest();
  expect(first.ok).toBe(true);
  const cache = new AgentCache({ trustDomain: TD, clock, mintJwtSvid: (id, aud) => api.signJwtSvid(id, aud) });
  cache.setBundles(bundleSetFromAuthorities(TD, api.authorities()));
  const loop = new SyncLoop({ client: api, cache, identity, clock, random, log: silentLogger, ...options });
  return { clock, api, cache, identity, loop };
}

/** The invariant a successful round must leave: exactly the server's workload entries, each with a fresh SVID of the bundle. */
function expectConverged(r: Rig): void {
  const want = r.api.workloadSet();
  const held = new Map(r.cache.workloadEntries().map((e) => [e.id, e]));
  expect([...held.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [id, e] of want) expect(held.get(id)?.revision_number).toBe(e.revision_number);
  const now = r.clock.now();
  const authorities = r.cache.bundleSet().ownAuthorityKeys;
  const svids = [...r.cache.svids()];
  expect(svids.map((s) => s.entryId).sort()).toEqual([...want.keys()].sort());
  for (const s of svids) {
    const e = want.get(s.entryId)!;
    expect(now).toBeLessThan(s.rotateAt);
    expect(now).toBeLessThan(s.notAfter);
    expect(s.issuedFor).toBe(svidFingerprint(e));
    expect(s.authority === undefined || authorities.has(s.authority)).toBe(true);
  }
  expect(r.cache.ready()).toBe(true);
}

function randomEntry(rnd: () => number, i: number): WireEntry {
  const id = `e${String(i).padStart(3, "0")}`;
  return entry(id, {
    spiffe_id: `spiffe://${TD}/w/${Math.floor(rnd() * 20)}`,
    selectors: [{ type: "unix", value: `uid:${Math.floor(rnd() * 5)}` }],
    x509_svid_ttl: [0, 600, 3600, 86_400][Math.floor(rnd() * 4)]!,
    dns_names: rnd() < 0.3 ? [`${id}.example.org`] : [],
    revision_number: Math.floor(rnd() * 3),
    parent_id: rnd() < 0.1 ? SERVER_ID : AGENT_ID,
  });
}

function fakeSvid(rnd: () => number, e: WireEntry, now: number): CachedSvid {
  const notBefore = now - Math.floor(rnd() * 2 * 3600_000);
  const notAfter = notBefore + Math.floor(rnd() * 4 * 3600_000) + 1;
  return {
    entryId: e.id,
    chain: [new Uint8Array([0x30, 0])],
    privateKeyPkcs8: new Uint8Array([0x30, 0]),
    notBefore,
    notAfter,
    rotateAt: notBefore + Math.floor((notAfter - notBefore) * rnd()),
    issuedFor: rnd() < 0.7 ? svidFingerprint(e) : "stale",
    authority: rnd() < 0.2 ? "gone" : undefined,
  };
}

const METHODS: Method[] = ["syncEntries", "signX509Svids", "bundles", "renew"];
const FAULTS: Fault[] = ["unreachable", "unavailable", "garbage"];

describe("the sync loop converges from any state", () => {
  it("random cached entries, SVID expiries and server answers: after one successful round the cache is the server's authorized set, every SVID fresh", { timeout: 120_000 }, async () => {
    let cases = 0;
    let staleStarts = 0;
    let faultyRounds = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const rnd = prng(seed);
      const r = await rig({ random: rnd, pageSize: 1 + Math.floor(rnd() * 7), batchSize: 1 + Math.floor(rnd() * 9) });
      r.api.mode = rnd() < 0.3 ? "full" : "delta";
      const all = Array.from({ length: Math.floor(rnd() * 25) }, (_, i) => randomEntry(rnd, i));
      for (const e of all) if (rnd() < 0.8) r.api.authorized.set(e.id, e);
      // What the agent held before: some of the server's entries (some at old revisions), some no longer authorized.
      const held = all.filter(() => rnd() < 0.6).map((e) => (rnd() < 0.3 ? { ...e, revision_number: e.revision_number + 1, spiffe_id: `${e.spiffe_id}-old` } : e));
      r.cache.applyEntries(held, []);
      for (const e of r.cache.workloadEntries()) if (rnd() < 0.8) r.cache.putSvid(fakeSvid(rnd, e, r.clock.now()));
      if (held.length > 0) staleStarts++;
      // Rounds with random faults, time passing and the server's set changing.
      for (let k = Math.floor(rnd() * 4); k > 0; k--) {
        for (const m of METHODS) if (rnd() < 0.3) r.api.faults.set(m, [FAULTS[Math.floor(rnd() * FAULTS.length)]!]);
        if (rnd() < 0.3) r.api.refuseEntry.set(all[Math.floor(rnd() * all.length)]?.id ?? "none", "invalid_csr");
        await r.loop.round();
        faultyRounds++;
        r.clock.advance(Math.floor(rnd() * 40 * MIN));
        const e = all[Math.floor(rnd() * all.length)];
        if (e && rnd() < 0.5) r.api.authorized.set(e.id, { ...e, revision_number: e.revision_number + 5, dns_names: ["changed.example.org"] });
        if (e && rnd() < 0.2) r.api.authorized.delete(e.id);
        if (rnd() < 0.15) await r.api.rotateCa(rnd() < 0.5);
      }
      r.api.faults.clear();
      r.api.refuseEntry.clear();
      const outcome = await r.loop.round();
      expect(outcome.status, `seed ${seed}`).toBe("ok");
      expectConverged(r);
      // A second round changes nothing and signs nothing.
      const again = await r.loop.round();
      expect(again).toMatchObject({ status: "ok", signed: 0 });
      cases++;
    }
    expect(cases).toBe(25);
    expect(staleStarts).toBeGreaterThan(10);
    expect(faultyRounds).toBeGreaterThan(10);
  });

  it("a 1,200-entry set arrives in pages of ≤ 500 and is signed in batches of ≤ 500", { timeout: 60_000 }, async () => {
    const r = await rig();
    for (let i = 0; i < 1200; i++) r.api.authorized.set(`n${String(i).padStart(4, "0")}`, entry(`n${String(i).padStart(4, "0")}`));
    expect((await r.loop.round()).status).toBe("ok");
    expectConverged(r);
    const syncs = r.api.calls.filter((c) => c.method === "syncEntries");
    const signs = r.api.calls.filter((c) => c.method === "signX509Svids").map((c) => (c.body as unknown[]).length);
    expect(syncs.length).toBe(3);
    expect(signs).toEqual([500, 500, 200]);
  });

  it("afterSigning hears how many SVIDs a round signed, and nothing after a round that signed none", async () => {
    const heard: number[] = [];
    const r = await rig({ afterSigning: (n) => heard.push(n) });
    for (let i = 0; i < 7; i++) r.api.authorized.set(`a${i}`, entry(`a${i}`));
    expect((await r.loop.round()).status).toBe("ok");
    expect((await r.loop.round()).status).toBe("ok");
    expect(heard).toEqual([7]);
  });
});

describe("pacing", () => {
  it("long-polls when converged, with wait_ms no later than the next rotation; falls back to polling when the server refuses wait_ms", async () => {
    const r = await rig({ waitMs: 20_000 });
    r.api.authorized.set("a", entry("a"));
    await r.loop.round({ wait: true });
    expect((await r.loop.round({ wait: true })).status).toBe("ok");
    const last = r.api.calls.filter((c) => c.method === "syncEntries").at(-1)!.body as { waitMs?: number };
    expect(last.waitMs).toBe(20_000);
    r.api.acceptsWaitMs = false;
    expect((await r.loop.round({ wait: true })).status).toBe("failed");
    expect((await r.loop.round({ wait: true })).status).toBe("ok");
    const after = r.api.calls.filter((c) => c.method === "syncEntries").at(-1)!.body as { waitMs?: number };
    expect(after.waitMs).toBeUndefined();
  });

  it("never loops faster than the minimum interval against a server that answers at once", async () => {
    const r = await rig({ minIntervalMs: 1000 });
    r.api.acceptsWaitMs = false;
    const stop = new AbortController();
    const sleeps: number[] = [];
    const loop = new SyncLoop({
      client: r.api, cache: r.cache, identity: r.identity, clock: r.clock, random: prng(1), log: silentLogger, minIntervalMs: 1000,
      sleep: async (ms) => {
        sleeps.push(ms);
        r.clock.advance(ms);
        if (sleeps.length >= 30) stop.abort();
      },
    });
    const start = r.clock.now();
    await loop.run(stop.signal);
    expect(loop.rounds).toBe(30);
    expect((r.clock.now() - start) / loop.rounds).toBeGreaterThanOrEqual(1000);
  });

  it("after a delta with changes the next round starts at once, but never twice in a row", async () => {
    const r = await rig({ minIntervalMs: 1000 });
    r.api.acceptsWaitMs = false;
    const stop = new AbortController();
    const sleeps: number[] = [];
    let n = 0;
    const loop = new SyncLoop({
      client: r.api, cache: r.cache, identity: r.identity, clock: r.clock, random: prng(1), log: silentLogger, minIntervalMs: 1000,
      sleep: async (ms) => {
        sleeps.push(ms);
        r.clock.advance(ms);
        // A new entry lands during every sleep: every delta has changes.
        r.api.authorized.set(`e${++n}`, entry(`e${n}`, { selectors: [{ type: "unix", value: "uid:1" }] }));
        if (sleeps.length >= 12) stop.abort();
      },
    });
    await loop.run(stop.signal);
    // Changed deltas start the next round at once, but never twice in a row (the full syncs first are paced).
    const pattern = sleeps.map((ms) => (ms === 0 ? "0" : "1")).join("");
    expect(pattern).toMatch(/0/);
    expect(pattern).not.toMatch(/00/);
    expect(pattern.slice(-6)).toMatch(/^(01)+$|^(10)+$/);
  });

  it("backs off exponentially with jitter, capped, and serves cached SVIDs while the server is down", async () => {
    const r = await rig({ backoffBaseMs: 1000, backoffMaxMs: 60_000 });
    r.api.authorized.set("a", entry("a", { selectors: [{ type: "unix", value: "uid:1" }] }));
    expect((await r.loop.round()).status).toBe("ok");
    const served = r.cache.x509IdentitiesFor(["unix:uid:1"]);
    expect(served.length).toBe(1);
    for (const m of ["syncEntries", "bundles", "signX509Svids"] as const) r.api.down.set(m, "unreachable");
    const stop = new AbortController();
    const waits: number[] = [];
    const loop = new SyncLoop({
      client: r.api, cache: r.cache, identity: r.identity, clock: r.clock, random: prng(3), log: silentLogger, backoffBaseMs: 1000, backoffMaxMs: 60_000,
      sleep: async (ms) => {
        waits.push(ms);
        r.clock.advance(ms);
        expect(r.cache.x509IdentitiesFor(["unix:uid:1"]).map((i) => i.spiffeId)).toEqual([served[0]!.spiffeId]);
        if (waits.length >= 12) stop.abort();
      },
    });
    await loop.run(stop.signal);
    expect(waits[0]).toBeGreaterThanOrEqual(500);
    expect(waits[0]).toBeLessThanOrEqual(1000);
    for (let i = 1; i < 6; i++) expect(waits[i]).toBeGreaterThanOrEqual(2 ** i * 500);
    expect(Math.max(...waits)).toBeLessThanOrEqual(60_000);
    expect(waits.at(-1)).toBeGreaterThanOrEqual(30_000);
    // Back up: the next round converges.
    r.api.down.clear();
    expect((await r.loop.round()).status).toBe("ok");
  });
});

describe("CA rotation and the agent SVID", () => {
  it("an SVID whose issuer left the bundle is signed again by the new CA", async () => {
    const r = await rig();
    r.api.authorized.set("a", entry("a"));
    await r.loop.round();
    const before = r.cache.svid("a")!;
    await r.api.rotateCa(false);
    expect((await r.loop.round()).signed).toBe(0);
    await r.api.rotateCa(true);
    const after = await r.loop.round();
    expect(after).toMatchObject({ status: "ok", signed: 1 });
    expect(r.cache.svid("a")!.authority).not.toBe(before.authority);
    expectConverged(r);
  });

  it("renews the agent SVID at half-life; re-attests when renewal is refused and the server allows it", async () => {
    const r = await rig();
    r.clock.advance(40 * MIN);
    await r.loop.round();
    expect(r.api.calls.filter((c) => c.method === "renew").length).toBe(1);
    r.clock.advance(40 * MIN);
    r.api.faults.set("renew", ["unauthorized"]);
    const attests = r.api.calls.filter((c) => c.method === "attest").length;
    expect((await r.loop.round()).status).toBe("ok");
    expect(r.api.calls.filter((c) => c.method === "attest").length).toBe(attests + 1);
  });

  it("stops with a clear message when a join-token agent cannot renew, or the agent is banned", async () => {
    const r = await rig();
    r.api.reattestable = false;
    await r.identity.attest();
    r.clock.advance(40 * MIN);
    r.api.faults.set("renew", ["unauthorized"]);
    await expect(r.loop.round()).rejects.toThrow(/join token, which cannot be used again/);
    const b = await rig();
    b.api.faults.set("syncEntries", ["banned"]);
    await expect(b.loop.round()).rejects.toBeInstanceOf(AgentFatalError);
  });

  it("keeps going on its valid SVID while renewal cannot reach the server, and re-attests once it has expired", async () => {
    const r = await rig();
    r.clock.advance(40 * MIN);
    r.api.down.set("renew", "unreachable");
    expect((await r.loop.round()).status).toBe("failed");
    r.clock.advance(30 * MIN);
    const attests = r.api.calls.filter((c) => c.method === "attest").length;
    r.api.down.clear();
    r.api.faults.set("renew", ["unreachable"]);
    expect((await r.loop.round()).status).toBe("ok");
    expect(r.api.calls.filter((c) => c.method === "attest").length).toBe(attests + 1);
  });
});
