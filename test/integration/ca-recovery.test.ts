/**
 * The CertificateAuthority recovers from whatever it finds in storage (issue 7): dormancy longer than
 * its lifetime, several active rows, restarts, a key-encryption key that does not open its keys, a
 * misconfigured object's alarm. On the real Durable Object SQLite storage, with an injected clock.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { ManualClock } from "../../src/lib/clock";
import { BUNDLE_SAFETY_MS, TRACKS } from "../../src/lib/ca/rotation";
import { issueJwtSvid, issueX509Svids } from "../../src/lib/ca/issue";
import type { CaEngine, PublishedBundle } from "../../src/durable/ca-engine";
import { CertificateAuthority } from "../../src/durable/ca";
import { prng } from "../support/prng";
import { newKeyPair, x509 } from "../support/x509";
import { caStub, engineOn, HOUR, T0, td } from "../support/ca-engine";

interface Row {
  id: string;
  track: string;
  status: string;
  not_before: number;
  not_after: number;
}

function rows(state: DurableObjectState): Row[] {
  return state.storage.sql.exec<Row & Record<string, SqlStorageValue>>("SELECT id, track, status, not_before, not_after FROM authorities ORDER BY id").toArray();
}

function published(engine: CaEngine): PublishedBundle {
  const b = engine.bundle();
  if (!b) throw new Error("nothing published");
  return b;
}

/** Every invariant of issue 7 §1 at `now`, after one ready(). */
async function assertSettled(engine: CaEngine, state: DurableObjectState, now: number): Promise<void> {
  const all = rows(state);
  for (const track of TRACKS) {
    const mine = all.filter((r) => r.track === track);
    const active = mine.filter((r) => r.status === "active");
    expect(active.length, `${track}: one active key`).toBe(1);
    expect(now >= active[0]!.not_before && now < active[0]!.not_after, `${track}: the active key is valid now`).toBe(true);
    expect(mine.filter((r) => r.status === "prepared").length).toBeLessThanOrEqual(1);
  }
  for (const r of all) if (r.status === "old") expect(now).toBeLessThan(r.not_after + BUNDLE_SAFETY_MS);
  // The published documents are exactly the stored keys.
  const bundle = published(engine);
  expect(bundle.x509Authorities.length).toBe(all.filter((r) => r.track === "x509").length);
  expect(bundle.jwks.keys.length).toBe(all.filter((r) => r.track === "jwt-es256" || r.track === "jwt-rs256").length);
  // The attestation-token keys are published on their own, never as JWT-SVID keys.
  const ear = engine.attestationKeys().keys.map((k) => k.kid);
  expect(ear.length).toBe(all.filter((r) => r.track === "ear-es256").length);
  for (const kid of ear) expect(bundle.jwks.keys.some((k) => k.kid === kid) || bundle.keys.some((k) => k.kid === kid)).toBe(false);
  // It signs with keys that are valid now, and what it signs verifies against what it publishes.
  const signers = engine.signers();
  expect(signers.ok).toBe(true);
  if (!signers.ok) return;
  const opts = { trustDomain: td, maxTtlSeconds: 24 * 3600, now };
  const jwt = await issueJwtSvid(signers.value.jwt, { spiffeId: "spiffe://example.org/w", audience: ["a"], ttlSeconds: 300, alg: "ES256" }, opts);
  expect(jwt.ok).toBe(true);
  if (jwt.ok) {
    expect(jwt.value.expiresAt * 1000).toBeGreaterThan(now);
    await jwtVerify(jwt.value.token, createLocalJWKSet(bundle.jwks as never), { currentDate: new Date(now), audience: "a" });
  }
  // A second pass changes nothing; the next look is in the future.
  const before = JSON.stringify(rows(state));
  const sequence = bundle.sequence;
  expect(await engine.rotate()).toBeGreaterThan(now);
  expect(JSON.stringify(rows(state))).toBe(before);
  expect(published(engine).sequence).toBe(sequence);
}

describe("dormancy", () => {
  it("a CA left alone 30 h past its 24 h lifetime makes one new key per track, demotes the expired ones, bumps the sequence once", async () => {
    await runInDurableObject(caStub("dormant"), async (_i, state) => {
      const clock = new ManualClock(T0);
      const first = await engineOn(state, clock);
      await first.ready();
      const start = published(first);
      expect(start.x509Authorities.length).toBe(1);

      // Nobody looked for 30 h past the lifetime (the alarm did not run).
      clock.set(T0 + 30 * HOUR);
      const woken = await engineOn(state, clock);
      await woken.ready();
      const after = published(woken);
      // The expired CA (still inside its 24 h grace) and its successor; the JWT keys likewise.
      expect(after.x509Authorities.length).toBe(2);
      expect(after.jwks.keys.length).toBe(4);
      expect(after.sequence).toBe(start.sequence + 1);
      const statuses = rows(state).map((r) => r.status).sort();
      expect(statuses).toEqual(["active", "active", "active", "active", "old", "old", "old", "old"]);
      await assertSettled(woken, state, clock.now());

      // Restarts at the same time add nothing.
      for (let i = 0; i < 3; i++) {
        const again = await engineOn(state, clock);
        await again.ready();
        expect(published(again).sequence).toBe(after.sequence);
        expect(rows(state).length).toBe(8);
      }

      // An X.509-SVID signed now is valid now and chains to a published CA.
      const s = woken.signers();
      if (!s.ok) throw new Error(s.error.detail);
      const pair = await newKeyPair();
      const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
      const [svid] = await issueX509Svids(s.value.x509, [{ spiffeId: "spiffe://example.org/w", publicKey: spki, ttlSeconds: 3600 }], {
        trustDomain: td,
        maxTtlSeconds: 24 * 3600,
        now: clock.now(),
      });
      if (!svid!.ok) throw new Error(svid!.error.detail);
      const leaf = new x509.X509Certificate(svid!.value.certChain[0]!);
      expect(leaf.notAfter.getTime()).toBeGreaterThan(clock.now());
      expect(leaf.notBefore.getTime()).toBeLessThanOrEqual(clock.now());
    });
  });

  it("a week of dormancy: the expired keys are past their grace and pruned with the successor's creation", async () => {
    await runInDurableObject(caStub("dormant-week"), async (_i, state) => {
      const clock = new ManualClock(T0);
      const first = await engineOn(state, clock);
      await first.ready();
      clock.set(T0 + 13 * HOUR);
      await first.ready(); // prepared keys exist now
      clock.set(T0 + 7 * 24 * HOUR);
      const woken = await engineOn(state, clock);
      await woken.ready();
      expect(rows(state).map((r) => r.status)).toEqual(["active", "active", "active", "active"]);
      await assertSettled(woken, state, clock.now());
    });
  });

  it("never signs with an expired key: signers() refuses until rotation has run", async () => {
    await runInDurableObject(caStub("expired-signer"), async (_i, state) => {
      const clock = new ManualClock(T0);
      const engine = await engineOn(state, clock);
      await engine.ready();
      clock.set(T0 + 25 * HOUR);
      // Without ready() the loaded keys are past their notAfter.
      expect(engine.signers()).toMatchObject({ ok: false, error: { reason: "ca_misconfigured", detail: expect.stringMatching(/not valid now/) } });
      await engine.ready();
      expect(engine.signers().ok).toBe(true);
    });
  });
});

describe("convergence from random stored states (property)", () => {
  it("after one ready(), for 24 random histories with corrupted statuses and forward clock jumps", async () => {
    await runInDurableObject(caStub("property"), async (_i, state) => {
      const rand = prng(11);
      let checked = 0;
      for (let i = 0; i < 24; i++) {
        state.storage.sql.exec("DELETE FROM authorities");
        state.storage.sql.exec("DELETE FROM bundle_state");
        // A history: the engine at random times (rotations with gaps of any length)…
        const clock = new ManualClock(T0 + i * 1000 * HOUR);
        const history = await engineOn(state, clock);
        for (let step = Math.floor(rand() * 4); step > 0; step--) {
          await history.ready();
          clock.advance(Math.floor(rand() * 40 * HOUR));
        }
        await history.ready();
        // …then any mix of slots: statuses rewritten at random (two actives, no active, stray prepared).
        for (const r of rows(state)) {
          if (rand() < 0.5) state.storage.sql.exec("UPDATE authorities SET status = ? WHERE id = ?", ["prepared", "active", "old"][Math.floor(rand() * 3)]!, r.id);
        }
        // …and any forward jump before the object is used again (a restart).
        clock.advance([0, 60_000, Math.floor(rand() * 24 * HOUR), Math.floor(rand() * 10 * 24 * HOUR)][Math.floor(rand() * 4)]!);
        const engine = await engineOn(state, clock);
        await engine.ready();
        await assertSettled(engine, state, clock.now());
        checked++;
      }
      expect(checked).toBe(24);
    });
  }, 60_000);
});

describe("a key-encryption key that does not open the stored keys", () => {
  it("signs nothing, writes nothing (even when rotation is due), and still serves the stored bundle", async () => {
    await runInDurableObject(caStub("wrong-kek"), async (_i, state) => {
      const clock = new ManualClock(T0);
      const good = await engineOn(state, clock);
      await good.ready();
      const bundle = published(good);
      const stored = JSON.stringify(rows(state));

      clock.set(T0 + 30 * HOUR); // rotation is due
      const wrong = await engineOn(state, clock, new Uint8Array(32).fill(9));
      await wrong.ready();
      expect(wrong.signers()).toMatchObject({ ok: false, error: { detail: expect.stringMatching(/SIGNET_KEK does not open/) } });
      expect(wrong.nextCheckAt).toBeUndefined();
      expect(await wrong.rotate()).toBeUndefined();
      expect(JSON.stringify(rows(state))).toBe(stored);
      expect(wrong.bundle()).toEqual(bundle);

      // With the right key again, the CA recovers in one pass.
      const restored = await engineOn(state, clock);
      await restored.ready();
      await assertSettled(restored, state, clock.now());
    });
  });
});

describe("the Durable Object", () => {
  it("a misconfigured object answers with a reason (never throws) and re-arms its alarm with back-off, in the future", async () => {
    await runInDurableObject(caStub("misconfigured"), async (_i, state) => {
      const broken = new CertificateAuthority(state, { ...env, SIGNET_KEK: "" } as Env);
      await new Promise((r) => setTimeout(r, 10));
      expect(await broken.health()).toMatchObject({ ok: false, error: { reason: "ca_misconfigured", detail: expect.stringMatching(/SIGNET_KEK/) } });
      expect(await broken.signJwtSvid({ spiffeId: "spiffe://example.org/w", audience: ["a"], ttlSeconds: 60, alg: "ES256" })).toMatchObject({ ok: false });
      const before = Date.now();
      await broken.alarm();
      const first = await state.storage.getAlarm();
      expect(first).not.toBeNull();
      expect(first! - before).toBeGreaterThanOrEqual(59_000);
      await broken.alarm();
      const second = await state.storage.getAlarm();
      expect(second! - before).toBeGreaterThanOrEqual(119_000);
    });
  });

  it("health() reports the sequence and how long the CA signs; the alarm is armed in the future", async () => {
    const stub = caStub("healthy");
    const h = await stub.health();
    expect(h.ok).toBe(true);
    if (h.ok) expect(h.value.signingUntil).toBeGreaterThan(Date.now());
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now());
  });

  it("a JWT-SVID minted over RPC is never already expired", async () => {
    const stub = caStub("jwt-not-expired");
    const r = await stub.signJwtSvid({ spiffeId: "spiffe://example.org/w", audience: ["a"], ttlSeconds: 60, alg: "RS256" });
    expect(r.ok && r.value.ok).toBe(true);
    if (r.ok && r.value.ok) expect(decodeJwt(r.value.value.token).exp! * 1000).toBeGreaterThan(Date.now());
  });
});
