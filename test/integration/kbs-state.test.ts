/**
 * The key broker's state objects on real Durable Object storage: AttestationSession (challenges
 * consumed exactly once, expiry, the alarm, the shard bound) and Registry (sealed resources,
 * policies, reference values), each applying every migration to a fresh object.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PROOF_GUARD_SHARDS, proofGuardFor, proofGuardShard, sessionFor } from "../../src/durable/addresses";
import { MAX_LIVE_SESSIONS, type AttestationSession } from "../../src/durable/session";
import type { Registry } from "../../src/durable/registry";
import sessionMigrations from "../../migrations/session/migrations.js";
import registryMigrations from "../../migrations/registry/migrations.js";

const NOW = Date.now();
const MIN = 60_000;

function hexId(prefix: string, i: number): string {
  return `${prefix}${i.toString(16).padStart(30, "0")}`;
}

function challenge(id: string, over: Partial<{ now: number; expiresAt: number }> = {}) {
  const now = over.now ?? NOW;
  return { id, tee: "sample", nonce: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", hashAlgorithm: "sha384", policyId: "default", client: "192.0.2.1", now, expiresAt: over.expiresAt ?? now + 5 * MIN };
}

function registry(name: string): DurableObjectStub<Registry> {
  const ns = env.REGISTRY as DurableObjectNamespace<Registry>;
  return ns.get(ns.idFromName(name));
}

async function tables(stub: DurableObjectStub<AttestationSession> | DurableObjectStub<Registry>): Promise<{ names: string[]; applied: number }> {
  return runInDurableObject(stub as DurableObjectStub, (_i, state) => ({
    names: state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((r) => r.name),
    applied: Number(state.storage.sql.exec("SELECT COUNT(*) AS n FROM __drizzle_migrations").one().n),
  }));
}

describe("AttestationSession", () => {
  it("a fresh object applies every migration", async () => {
    const t = await tables(sessionFor(env, "f0" + "0".repeat(30)));
    expect(t.names).toEqual(expect.arrayContaining(["sessions", "seen_proofs", "__drizzle_migrations"]));
    expect(t.applied).toBe(sessionMigrations.journal.entries.length);
  });

  it("a challenge is consumed exactly once, even by 1,000 concurrent calls", async () => {
    const id = hexId("a1", 1);
    const stub = sessionFor(env, id);
    expect((await stub.issueChallenge(challenge(id))).ok).toBe(true);
    const results = await Promise.all(Array.from({ length: 1000 }, () => stub.consumeChallenge({ id, now: NOW + 1000 })));
    const won = results.filter((r) => r.ok);
    expect(won.length).toBe(1);
    expect(won[0]).toMatchObject({ ok: true, value: { tee: "sample", hashAlgorithm: "sha384", policyId: "default" } });
    expect(results.filter((r) => !r.ok && r.error.reason === "session_unknown").length).toBe(999);
  });

  it("an expired challenge is refused (and gone); an attested session expires with its challenge's time", async () => {
    const id = hexId("a2", 2);
    const stub = sessionFor(env, id);
    await stub.issueChallenge(challenge(id));
    expect(await stub.consumeChallenge({ id, now: NOW + 5 * MIN })).toEqual({ ok: false, error: { reason: "session_expired" } });
    expect(await stub.consumeChallenge({ id, now: NOW })).toEqual({ ok: false, error: { reason: "session_unknown" } });

    const id2 = hexId("a2", 3);
    await stub.issueChallenge(challenge(id2));
    const c = await stub.consumeChallenge({ id: id2, now: NOW + MIN });
    if (!c.ok) throw new Error(c.error.reason);
    expect((await stub.recordAttested({ id: id2, challenge: c.value, token: "t.o.k", now: NOW + MIN })).ok).toBe(true);
    expect(await stub.attestedToken({ id: id2, now: NOW + 2 * MIN })).toEqual({ ok: true, value: { token: "t.o.k" } });
    expect(await stub.attestedToken({ id: id2, now: NOW + 5 * MIN })).toEqual({ ok: false, error: { reason: "session_expired" } });
    // An attested session has no challenge left to consume.
    expect(await stub.consumeChallenge({ id: id2, now: NOW + MIN })).toEqual({ ok: false, error: { reason: "session_unknown" } });
    // An authed session has no token.
    const id3 = hexId("a2", 4);
    await stub.issueChallenge(challenge(id3));
    expect(await stub.attestedToken({ id: id3, now: NOW })).toEqual({ ok: false, error: { reason: "session_unknown" } });
  });

  it("the alarm deletes expired rows and re-arms for the next expiry", async () => {
    const id = hexId("a3", 1);
    const stub = sessionFor(env, id);
    // One row already expired (by the real clock the alarm uses), one live.
    await stub.issueChallenge(challenge(id, { now: Date.now() - 10 * MIN, expiresAt: Date.now() - 5 * MIN }));
    await stub.issueChallenge(challenge(hexId("a3", 2), { now: Date.now(), expiresAt: Date.now() + 5 * MIN }));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub as DurableObjectStub, (_i, state) => ({
      ids: state.storage.sql.exec<{ id: string }>("SELECT id FROM sessions").toArray().map((r) => r.id),
      alarm: state.storage.getAlarm(),
    }));
    expect(left.ids).toEqual([hexId("a3", 2)]);
    expect(await left.alarm).toBeGreaterThan(Date.now());
  });

  it(`a shard refuses more than ${MAX_LIVE_SESSIONS} live sessions, and accepts again once they expire`, async () => {
    const stub = sessionFor(env, "b7" + "0".repeat(30));
    await runInDurableObject(stub as DurableObjectStub, (_i, state) => {
      for (let i = 0; i < MAX_LIVE_SESSIONS; i++) {
        state.storage.sql.exec(
          "INSERT INTO sessions (id, state, tee, nonce, hash_algorithm, policy_id, client, created_at, expires_at) VALUES (?, 'authed', 'sample', 'n', 'sha384', 'default', 'c', ?, ?)",
          hexId("b7", i + 10),
          NOW,
          NOW + 5 * MIN,
        );
      }
    });
    expect(await stub.issueChallenge(challenge(hexId("b7", 1)))).toEqual({ ok: false, error: { reason: "sessions_full" } });
    expect((await stub.issueChallenge(challenge(hexId("b7", 2), { now: NOW + 5 * MIN }))).ok).toBe(true);
  });
});

describe("agent proof replay guard", () => {
  it("an agent's proofs all meet one guard, whatever their jti; agents spread over the shards", () => {
    const agent = "spiffe://example.org/signet/agent/join_token/t1";
    expect(proofGuardFor(env, agent).id.toString()).toBe(proofGuardFor(env, agent).id.toString());
    const shards = new Set(Array.from({ length: 2000 }, (_, i) => proofGuardShard(`spiffe://example.org/signet/agent/join_token/${i}`)));
    expect(shards.size).toBe(PROOF_GUARD_SHARDS);
    for (const s of shards) expect(s >= 0 && s < PROOF_GUARD_SHARDS && Number.isInteger(s)).toBe(true);
  });

  it("a jti is accepted once until it expires, even by 200 concurrent calls; the alarm forgets expired ones", async () => {
    const jti = "Qx" + "a".repeat(20);
    const guard = proofGuardFor(env, "spiffe://example.org/signet/agent/join_token/t1");
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 200 }, () => guard.rememberProof({ jti, expiresAt: now + 61_000, now })));
    expect(results.filter((r) => r.ok).length).toBe(1);
    expect(await guard.rememberProof({ jti: "Qx" + "b".repeat(20), expiresAt: now, now })).toEqual({ ok: false, error: { reason: "proof_replayed" } });
    await runInDurableObject(guard as DurableObjectStub, (_i, state) => {
      state.storage.sql.exec("UPDATE seen_proofs SET expires_at = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(guard)).toBe(true);
    expect((await guard.rememberProof({ jti, expiresAt: Date.now() + 61_000, now: Date.now() })).ok).toBe(true);
  });
});

describe("Registry (key broker state)", () => {
  it("a fresh object applies every migration", async () => {
    const t = await tables(registry("fresh"));
    expect(t.names).toEqual(expect.arrayContaining(["kbs_resources", "kbs_policies", "reference_values", "__drizzle_migrations"]));
    expect(t.applied).toBe(registryMigrations.journal.entries.length);
  });

  it("resources are sealed at rest, bound to their path, and come back exactly", async () => {
    const stub = registry("resources");
    const secret = new TextEncoder().encode("bootstrap-credential-0123456789");
    expect(await stub.putResource({ path: "default/key/1", value: secret, now: NOW })).toEqual({ ok: true, value: { created: true } });
    expect(await stub.putResource({ path: "default/key/1", value: secret, now: NOW + 1 })).toEqual({ ok: true, value: { created: false } });
    expect(await stub.getResource({ path: "default/key/1" })).toEqual({ ok: true, value: { value: secret } });
    const stored = await runInDurableObject(stub as DurableObjectStub, (_i, state) => state.storage.sql.exec<{ sealed_value: string }>("SELECT sealed_value FROM kbs_resources").one().sealed_value);
    expect(atob(stored)).not.toContain("bootstrap-credential");
    // A sealed value moved to another path does not open there.
    await stub.putResource({ path: "default/key/2", value: new Uint8Array([1]), now: NOW });
    await runInDurableObject(stub as DurableObjectStub, (_i, state) => {
      state.storage.sql.exec("UPDATE kbs_resources SET sealed_value = ? WHERE path = 'default/key/2'", stored);
    });
    expect(await stub.getResource({ path: "default/key/2" })).toMatchObject({ ok: false, error: { reason: "resource_unreadable" } });
    expect((await stub.deleteResource({ path: "default/key/1" })).ok).toBe(true);
    expect(await stub.getResource({ path: "default/key/1" })).toMatchObject({ ok: false, error: { reason: "resource_not_found" } });
    expect(await stub.deleteResource({ path: "default/key/1" })).toMatchObject({ ok: false, error: { reason: "resource_not_found" } });
  });

  it.each(["../etc/passwd", "a/b", "a/b/c/d", ".a/b/c", "a/b/c ", "a//c", "a/b/c\u0000"])("refuses the path %j", async (path) => {
    expect(await registry("paths").putResource({ path, value: new Uint8Array([1]), now: NOW })).toMatchObject({ ok: false, error: { reason: "invalid_resource" } });
  });

  it("policies and reference values", async () => {
    const stub = registry("policies");
    await stub.setPolicy({ kind: "resource", policyId: "resource-policy", body: "{}", now: NOW });
    await stub.setPolicy({ kind: "attestation", policyId: "default_cpu", body: '{"version":1}', now: NOW });
    expect(await stub.listPolicies({ kind: "resource" })).toEqual(["resource-policy"]);
    expect(await stub.getPolicy({ kind: "attestation", policyId: "default_cpu" })).toEqual({ ok: true, value: { body: '{"version":1}' } });
    expect(await stub.getPolicy({ kind: "attestation", policyId: "nope" })).toMatchObject({ ok: false, error: { reason: "not_found" } });
    await stub.setReferenceValues({ values: { snp_launch_measurement: ["ab", "cd"], svn: 1 }, now: NOW });
    expect(await stub.getReferenceValue({ name: "snp_launch_measurement" })).toEqual({ ok: true, value: { json: '["ab","cd"]' } });
    expect(await stub.getReferenceValue({ name: "missing" })).toMatchObject({ ok: false });
  });
});
