/**
 * The agent's cache as the Workload API reads it: selector matching, node entries kept out, an entry
 * whose SPIFFE ID changes loses its SVID, one notification per flush, and the JWT-SVID cache (per
 * SPIFFE ID and audience set, until half-life; a cached one while the server is down; one mint for
 * concurrent callers).
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/lib/clock";
import { err, ok } from "../../../src/lib/result";
import { toBase64Url, utf8 } from "../../../src/lib/encoding";
import { AgentCache, svidFingerprint, type CachedSvid } from "../../../src/agent/cache";
import type { JwtMinter } from "../../../src/agent/jwt-cache";
import type { WireEntry } from "../../../src/agent/wire";
import { entry, SERVER_ID, TD } from "./fake-agent-api";

const T0 = Date.UTC(2026, 5, 1);

function svid(e: WireEntry, now: number, ttl = 3600_000): CachedSvid {
  return { entryId: e.id, chain: [new Uint8Array([1])], privateKeyPkcs8: new Uint8Array([2]), notBefore: now, notAfter: now + ttl, rotateAt: now + ttl / 2, issuedFor: svidFingerprint(e), authority: undefined };
}

function jwt(iat: number, exp: number, n: number): string {
  const part = (o: unknown) => toBase64Url(utf8(JSON.stringify(o)));
  return `${part({ alg: "ES256" })}.${part({ iat, exp, n })}.c2ln`;
}

function setup(mint: JwtMinter = async () => err({ reason: "unreachable", detail: "down", path: "/" })) {
  const clock = new ManualClock(T0);
  const cache = new AgentCache({ trustDomain: TD, clock, mintJwtSvid: (id, aud) => mint(id, aud) });
  return { clock, cache };
}

describe("the agent cache", () => {
  it("serves an identity to callers whose selectors include the entry's; node entries are never held; oldest entry first", () => {
    const { clock, cache } = setup();
    const a = entry("a", { selectors: [{ type: "unix", value: "uid:1" }, { type: "unix", value: "gid:1" }], created_at: 20, hint: "a" });
    const b = entry("b", { selectors: [{ type: "unix", value: "uid:1" }], created_at: 10 });
    const node = entry("n", { parent_id: SERVER_ID, selectors: [{ type: "tee", value: "type:sample" }] });
    cache.applyEntries([a, b, node], []);
    expect(cache.workloadEntries().map((e) => e.id).sort()).toEqual(["a", "b"]);
    for (const e of [a, b, node]) cache.putSvid(svid(e, clock.now()));
    expect(cache.x509IdentitiesFor(["unix:uid:1"]).map((i) => i.entryId)).toEqual(["b"]);
    expect(cache.x509IdentitiesFor(["unix:uid:1", "unix:gid:1", "x:y"]).map((i) => i.entryId)).toEqual(["b", "a"]);
    expect(cache.x509IdentitiesFor(["tee:type:sample"])).toEqual([]);
    expect(cache.x509IdentitiesFor([])).toEqual([]);
  });

  it("drops the SVID of an entry whose SPIFFE ID changed, and of a removed entry; notifies once per flush", () => {
    const { clock, cache } = setup();
    const heard: string[] = [];
    const off = cache.subscribe((c) => heard.push(c));
    const a = entry("a");
    cache.applyEntries([a, entry("b")], []);
    cache.putSvid(svid(a, clock.now()));
    cache.putSvid(svid(entry("b"), clock.now()));
    cache.flush();
    expect(heard).toEqual(["x509"]);
    cache.applyEntries([{ ...a, spiffe_id: `spiffe://${TD}/other`, revision_number: 1 }], ["b"]);
    expect(cache.svid("a")).toBeUndefined();
    expect(cache.svid("b")).toBeUndefined();
    cache.flush();
    cache.flush();
    expect(heard).toEqual(["x509", "x509"]);
    off();
    cache.putSvid(svid(cache.workloadEntries()[0]!, clock.now()));
    cache.flush();
    expect(heard.length).toBe(2);
  });

  it("JWT-SVIDs: one per (SPIFFE ID, audience set) until half-life, then minted again; a cached one while the server is down, until it expires", async () => {
    let mints = 0;
    let down = false;
    const clockBox: { clock?: ManualClock } = {};
    const mint: JwtMinter = async (id) => {
      if (down) return err({ reason: "unreachable", detail: "connection refused", path: "/agent/v1/svids/jwt" });
      mints++;
      const iat = Math.floor(clockBox.clock!.now() / 1000);
      return ok({ spiffe_id: `spiffe://${TD}/w/${id}`, token: jwt(iat, iat + 300, mints), expires_at: iat + 300 });
    };
    const { clock, cache } = setup(mint);
    clockBox.clock = clock;
    cache.applyEntries([entry("a", { selectors: [{ type: "unix", value: "uid:1" }], hint: "h" })], []);
    const first = await cache.fetchJwtSvids(["unix:uid:1"], ["b", "a"]);
    expect(first).toMatchObject([{ spiffeId: `spiffe://${TD}/w/a`, hint: "h" }]);
    expect(await cache.fetchJwtSvids(["unix:uid:1"], ["a", "b", "a"])).toEqual(first);
    expect(mints).toBe(1);
    await Promise.all(Array.from({ length: 10 }, () => cache.fetchJwtSvids(["unix:uid:1"], ["c"])));
    expect(mints).toBe(2);
    clock.advance(151_000);
    const renewed = await cache.fetchJwtSvids(["unix:uid:1"], ["a", "b"]);
    expect(renewed[0]!.token).not.toBe(first[0]!.token);
    expect(mints).toBe(3);
    clock.advance(151_000);
    down = true;
    expect((await cache.fetchJwtSvids(["unix:uid:1"], ["a", "b"]))[0]!.token).toBe(renewed[0]!.token);
    clock.advance(150_000);
    await expect(cache.fetchJwtSvids(["unix:uid:1"], ["a", "b"])).rejects.toThrow(/cannot mint a JWT-SVID: connection refused/);
    expect(await cache.fetchJwtSvids(["unix:uid:2"], ["a"])).toEqual([]);
    expect(await cache.fetchJwtSvids(["unix:uid:1"], ["a"], `spiffe://${TD}/elsewhere`)).toEqual([]);
  });
});
