/**
 * The CertificateAuthority over simulated time, on the real Durable Object SQLite storage:
 * rotation (SVIDs issued before, during and after a rotation all verify against the bundle published
 * at the time), restart (keys survive, wrapped), the alarm, and the migrations.
 */
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import { ManualClock } from "../../src/lib/clock";
import { fromBase64 } from "../../src/lib/encoding";
import { issueJwtSvid, issueX509Svids, type IssueOptions } from "../../src/lib/ca/issue";
import type { CaEngine, PublishedBundle, Signers } from "../../src/durable/ca-engine";
import migrations from "../../migrations/ca/migrations.js";
import { newKeyPair, x509 } from "../support/x509";
import { caStub, engineOn, HOUR, KEK, T0, td } from "../support/ca-engine";

function signersOf(engine: CaEngine): Signers {
  const s = engine.signers();
  if (!s.ok) throw new Error(s.error.detail);
  return s.value;
}

function bundleOf(engine: CaEngine): PublishedBundle {
  const b = engine.bundle();
  if (!b) throw new Error("no bundle");
  return b;
}

function options(engine: CaEngine): IssueOptions {
  return { trustDomain: td, maxTtlSeconds: engine.settings.caTtl, now: engine.now() };
}

async function verifiesAgainstBundle(der: Uint8Array, bundle: readonly Uint8Array[], at: Date): Promise<boolean> {
  const leaf = new x509.X509Certificate(der);
  if (leaf.notBefore > at || leaf.notAfter < at) return false;
  for (const caDer of bundle) {
    const ca = new x509.X509Certificate(caDer);
    if (ca.subject !== leaf.issuer || ca.notBefore > at || ca.notAfter < at) continue;
    if (await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true })) return true;
  }
  return false;
}

describe("rotation over simulated time", () => {
  it("prepares at 1/2, activates at 5/6, prunes 24 h after expiry; every SVID verifies against the bundle of its time", async () => {
    await runInDurableObject(caStub("rotation"), async (_instance, state) => {
      const clock = new ManualClock(T0);
      const engine = await engineOn(state, clock);
      await engine.ready();
      const workload = await newKeyPair();
      const spki = new Uint8Array((await crypto.subtle.exportKey("spki", workload.publicKey)) as ArrayBuffer);

      let issued: { der: Uint8Array; jwt: string; at: number; notAfter: number }[] = [];
      const timeline: { t: number; sequence: number; x509: number; jwt: number; signer: string; firstCaPublished: boolean }[] = [];
      const firstCa = bundleOf(engine).x509Authorities[0]!;
      let lastSequence = 0;
      let lastKeys = "";

      for (let t = T0; t <= T0 + 96 * HOUR; t += HOUR / 2) {
        clock.set(t);
        await engine.ready();
        const bundle = bundleOf(engine);
        // The sequence changes exactly when the published key set changes, and only upwards.
        const keysJson = JSON.stringify(bundle.keys);
        if (keysJson !== lastKeys) expect(bundle.sequence).toBeGreaterThan(lastSequence);
        else expect(bundle.sequence).toBe(lastSequence);
        lastSequence = bundle.sequence;
        lastKeys = keysJson;

        const [svid] = await issueX509Svids(signersOf(engine).x509, [{ spiffeId: "spiffe://example.org/w", publicKey: spki, ttlSeconds: 3600 }], options(engine));
        expect(svid!.ok).toBe(true);
        const jwt = await issueJwtSvid((alg) => signersOf(engine).jwt(alg), { spiffeId: "spiffe://example.org/w", audience: ["a"], ttlSeconds: 300, alg: "ES256" }, options(engine));
        expect(jwt.ok).toBe(true);
        if (!svid!.ok || !jwt.ok) return;
        issued.push({ der: svid!.value.certChain[0]!, jwt: jwt.value.token, at: t, notAfter: svid!.value.expiresAt * 1000 });

        // Everything issued so far that is still valid verifies against what is published now.
        const now = new Date(t);
        issued = issued.filter((old) => old.notAfter >= t);
        for (const old of issued) {
          expect(await verifiesAgainstBundle(old.der, bundle.x509Authorities, now), `SVID issued at +${(old.at - T0) / HOUR}h at +${(t - T0) / HOUR}h`).toBe(true);
          if (t - old.at < 300_000) {
            await jwtVerify(old.jwt, createLocalJWKSet(bundle.jwks as never), { currentDate: now, audience: "a" });
          }
        }
        timeline.push({
          t: (t - T0) / HOUR,
          sequence: bundle.sequence,
          x509: bundle.x509Authorities.length,
          jwt: bundle.keys.filter((k) => k.use === "jwt-svid").length,
          signer: signersOf(engine).x509.row.id,
          firstCaPublished: bundle.x509Authorities.some((der) => der.length === firstCa.length && der.every((b, i) => b === firstCa[i])),
        });
      }

      const at = (h: number) => timeline.find((e) => e.t === h)!;
      // One CA until the next one is prepared at +12 h; then both are published.
      expect(at(0)).toMatchObject({ x509: 1, jwt: 2 });
      expect(at(11.5)).toMatchObject({ x509: 1, jwt: 2 });
      expect(at(12)).toMatchObject({ x509: 2, jwt: 4 });
      expect(at(12).sequence).toBe(at(11.5).sequence + 1);
      // Activation at +20 h (5/6 of 24 h): new signer, same published set (no sequence bump).
      expect(at(19.5).signer).toBe(at(0).signer);
      expect(at(20).signer).not.toBe(at(0).signer);
      expect(at(20).sequence).toBe(at(12).sequence);
      // The first CA expires at +24 h and stays published until +48 h, then it is pruned.
      expect(at(47.5).firstCaPublished).toBe(true);
      expect(at(48).firstCaPublished).toBe(false);
      expect(at(48).sequence).toBeGreaterThan(at(47.5).sequence);
      const signers = new Set(timeline.map((e) => e.signer));
      expect(signers.size).toBeGreaterThanOrEqual(5); // a new active CA every 20 h over 96 h
      // Never more than two old (kept 24 h past expiry) + active + prepared per track.
      for (const e of timeline) {
        expect(e.x509).toBeLessThanOrEqual(4);
        expect(e.jwt).toBeLessThanOrEqual(8);
      }
    });
  });

  it("caps SVID lifetimes at the signing key's expiry", async () => {
    await runInDurableObject(caStub("caps"), async (_instance, state) => {
      const clock = new ManualClock(T0);
      const engine = await engineOn(state, clock);
      await engine.ready();
      clock.set(T0 + 19 * HOUR);
      await engine.ready();
      const signer = signersOf(engine).x509;
      const pair = await newKeyPair();
      const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
      const [svid] = await issueX509Svids(signer, [{ spiffeId: "spiffe://example.org/w", publicKey: spki, ttlSeconds: 24 * 3600 }], options(engine));
      expect(svid!.ok && svid!.value.expiresAt * 1000).toBe(signer.notAfter);
      const jwt = await issueJwtSvid((alg) => signersOf(engine).jwt(alg), { spiffeId: "spiffe://example.org/w", audience: ["a"], ttlSeconds: 24 * 3600, alg: "RS256" }, options(engine));
      expect(jwt.ok && jwt.value.expiresAt * 1000).toBe(signersOf(engine).jwt("RS256")!.notAfter);
    });
  });
});

describe("CA key types", () => {
  it.each(["ec-p384", "rsa-2048"] as const)("a %s CA issues SVIDs that verify under its bundle entry, whose key parameters match", async (keyType) => {
    await runInDurableObject(caStub(`keytype-${keyType}`), async (_instance, state) => {
      const engine = await engineOn(state, new ManualClock(T0), KEK, keyType);
      await engine.ready();
      const pair = await newKeyPair();
      const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
      const [svid] = await issueX509Svids(signersOf(engine).x509, [{ spiffeId: "spiffe://example.org/w", publicKey: spki, ttlSeconds: 600 }], options(engine));
      expect(svid!.ok).toBe(true);
      if (!svid!.ok) return;
      const bundle = bundleOf(engine);
      expect(await verifiesAgainstBundle(svid!.value.certChain[0]!, bundle.x509Authorities, new Date(T0))).toBe(true);
      const ca = new x509.X509Certificate(bundle.x509Authorities[0]!);
      const jwk = (await crypto.subtle.exportKey("jwk", await ca.publicKey.export())) as JsonWebKey;
      const entry = bundle.keys.find((k) => k.use === "x509-svid")!;
      expect(entry.kty).toBe(keyType === "rsa-2048" ? "RSA" : "EC");
      if (keyType === "rsa-2048") expect([entry.n, entry.e]).toEqual([jwk.n, jwk.e]);
      else expect([entry.crv, entry.x, entry.y]).toEqual(["P-384", jwk.x, jwk.y]);
    });
  });
});

describe("restart and key custody", () => {
  it("keys survive a new engine over the same storage; at rest they are wrapped, in memory non-extractable", async () => {
    await runInDurableObject(caStub("restart"), async (_instance, state) => {
      const clock = new ManualClock(T0);
      const first = await engineOn(state, clock);
      await first.ready();
      const before = bundleOf(first);

      const second = await engineOn(state, clock);
      await second.ready();
      expect(bundleOf(second)).toEqual(before);
      expect(signersOf(second).x509.row.id).toBe(signersOf(first).x509.row.id);
      await expect(crypto.subtle.exportKey("pkcs8", signersOf(second).x509.key)).rejects.toThrow();
      await expect(crypto.subtle.exportKey("jwk", signersOf(second).jwt("RS256")!.key)).rejects.toThrow();

      // A leaf signed after the restart verifies under the CA published before it.
      const pair = await newKeyPair();
      const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
      const [svid] = await issueX509Svids(signersOf(second).x509, [{ spiffeId: "spiffe://example.org/w", publicKey: spki, ttlSeconds: 60 }], options(second));
      expect(svid!.ok && (await verifiesAgainstBundle(svid!.value.certChain[0]!, before.x509Authorities, new Date(T0)))).toBe(true);

      // At rest: AES-GCM blobs (iv ‖ ciphertext ‖ tag), not PKCS#8.
      const rows = state.storage.sql.exec<{ wrapped_key: string; key_type: string }>("SELECT wrapped_key, key_type FROM authorities").toArray();
      expect(rows.length).toBe(4);
      for (const row of rows) {
        const blob = fromBase64(row.wrapped_key)!;
        expect(blob[0] === 0x30 && (blob[1] === 0x81 || blob[1] === 0x82)).toBe(false);
      }

      // Another key-encryption key cannot open them.
      const wrongKek = new Uint8Array(32).fill(7);
      const third = await engineOn(state, new ManualClock(T0), wrongKek);
      await third.ready();
      expect(third.signers()).toMatchObject({ ok: false, error: { reason: "ca_misconfigured", detail: expect.stringMatching(/SIGNET_KEK does not open/) } });
    });
  });

  it("the real object keeps its keys across an eviction", async () => {
    const stub = caStub("evicted");
    const before = await stub.getTrustBundle();
    expect(before.ok).toBe(true);
    await abortAllDurableObjects();
    const after = await caStub("evicted").getTrustBundle();
    expect(after).toEqual(before);
  });

  it("schedules its rotation alarm at half the CA lifetime", async () => {
    const stub = caStub("alarm");
    const start = Date.now();
    await stub.getTrustBundle();
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm! - start).toBeGreaterThan(11.9 * HOUR);
    expect(alarm! - start).toBeLessThan(12.1 * HOUR);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // Running it early changes nothing and re-arms it.
    expect(await stub.getTrustBundle()).toEqual(await stub.getTrustBundle());
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).not.toBeNull();
  });
});

describe("migrations", () => {
  it("a fresh object applies every migration", async () => {
    const tables = await runInDurableObject(caStub("fresh"), (_i, state) =>
      state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((r) => r.name),
    );
    expect(tables).toEqual(expect.arrayContaining(["authorities", "bundle_state", "__drizzle_migrations"]));
    const applied = await runInDurableObject(caStub("fresh"), (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM __drizzle_migrations").one().n);
    expect(applied).toBe(migrations.journal.entries.length);
  });
});

describe("batch signing over RPC", () => {
  it("signJwtSvids answers each request in order, errors included", async () => {
    const stub = caStub("jwt-batch");
    const r = await stub.signJwtSvids({
      requests: [
        { spiffeId: "spiffe://example.org/a", audience: ["x"], ttlSeconds: 60, alg: "ES256", issuer: "https://iss.test" },
        { spiffeId: "spiffe://other.org/b", audience: ["x"], ttlSeconds: 60, alg: "ES256" },
        { spiffeId: "spiffe://example.org/c", audience: ["y"], ttlSeconds: 60, alg: "RS256", issuer: "https://iss.test" },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [a, b, c] = r.value.results;
    expect(b).toMatchObject({ ok: false, error: { reason: "foreign_trust_domain" } });
    const bundle = await stub.getTrustBundle();
    if (!bundle.ok || !a!.ok || !c!.ok) throw new Error("batch failed");
    const jwks = createLocalJWKSet(bundle.value.jwks as never);
    expect((await jwtVerify(a!.value.token, jwks, { audience: "x", issuer: "https://iss.test" })).payload.sub).toBe("spiffe://example.org/a");
    expect((await jwtVerify(c!.value.token, jwks, { audience: "y", algorithms: ["RS256"] })).payload.sub).toBe("spiffe://example.org/c");
  });
});
