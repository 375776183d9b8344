/**
 * The agent core against the real Worker (`npm run dev`): a node entry for `tee:type:sample` and a
 * workload entry under it through the admin API; node attestation with the sample TEE through the
 * real key broker (the handshake binds the agent SVID key); a sync round; the workload's X.509-SVID
 * chains to the bundle (openssl verify) and its key is the one the agent holds; a JWT-SVID verifies
 * through OIDC discovery; a new entry reaches the cache within seconds (and how long it took);
 * `signet-agent run` itself attests, serves the Workload API socket, syncs, signs and stops cleanly on SIGTERM.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { systemClock } from "../../src/lib/clock";
import { toPem } from "../../src/lib/encoding";
import { sampleAttester } from "../../src/node/attesters/sample";
import { AgentIdentity } from "../../src/agent/agent-identity";
import { teeAttestor } from "../../src/agent/attestation";
import { bundleSetFromAuthorities } from "../../src/agent/bundles";
import { AgentCache } from "../../src/agent/cache";
import { silentLogger } from "../../src/agent/log";
import { AgentServerClient } from "../../src/agent/server-client";
import { SyncLoop } from "../../src/agent/sync";
import { opensslOk, REPO_ROOT, tempDir } from "../support/e2e-process";

const url = inject("signetUrl");
const run = Math.floor(Math.random() * 1e9);
const uid = (n: number) => `uid:${run}${n}`;
let token: string;

async function admin(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function createEntry(spiffeId: string, parentId: string, selector: [string, string]): Promise<string> {
  const r = (await admin("/admin/v1/entries", { entries: [{ spiffe_id: spiffeId, parent_id: parentId, selectors: [{ type: selector[0], value: selector[1] }] }] })) as { results: { status: string; entry: { id: string } }[] };
  expect(r.results[0]!.status).toBe("created");
  return r.results[0]!.entry.id;
}

const node = `spiffe://example.org/nodes/sample-${run}`;
let dir: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  token = /^SIGNET_ADMIN_TOKEN=(\S+)$/m.exec(await readFile(join(REPO_ROOT, ".dev.vars"), "utf8"))![1]!;
  dir = await tempDir("signet-agent-core-");
  await createEntry(node, "spiffe://example.org/signet/server", ["tee", "type:sample"]);
  await createEntry(`spiffe://example.org/app/${run}`, node, ["unix", uid(1)]);
});

afterAll(async () => {
  await dir?.remove();
});

function agent() {
  const client = new AgentServerClient({ server: url, clock: systemClock });
  const identity = new AgentIdentity({ client, attestor: teeAttestor({ attester: sampleAttester, server: url }), clock: systemClock, random: Math.random, log: silentLogger });
  return { client, identity };
}

describe("the agent core against the real Worker", () => {
  it("attests with the sample TEE, syncs, and holds an X.509-SVID that chains to the bundle and a JWT-SVID that verifies through OIDC discovery", async () => {
    const { client, identity } = agent();
    const attested = await identity.attest();
    expect(attested.ok, attested.ok ? "" : attested.error.detail).toBe(true);
    expect(identity.current.spiffeId).toMatch(/^spiffe:\/\/example\.org\/signet\/agent\/tee\/[0-9a-f]{32}$/);
    const cache = new AgentCache({ trustDomain: "example.org", clock: systemClock, mintJwtSvid: (id, aud) => client.signJwtSvid(id, aud) });
    cache.setBundles(bundleSetFromAuthorities("example.org", identity.current.bundle));
    const loop = new SyncLoop({ client, cache, identity, clock: systemClock, random: Math.random, log: silentLogger });
    const outcome = await loop.round();
    expect(outcome.status, outcome.error).toBe("ok");
    expect(cache.ready()).toBe(true);

    const [id, ...others] = cache.x509IdentitiesFor([`unix:${uid(1)}`, "unix:gid:0"]);
    expect(others).toEqual([]);
    expect(id!.spiffeId).toBe(`spiffe://example.org/app/${run}`);
    expect(cache.x509IdentitiesFor([`unix:${uid(2)}`])).toEqual([]);
    const bundle = cache.bundles().get("example.org")!;
    expect(bundle.x509Authorities.length).toBeGreaterThan(0);
    expect(bundle.jwks.keys.length).toBeGreaterThan(0);

    await writeFile(join(dir.path, "bundle.pem"), bundle.x509Authorities.map((a) => toPem("CERTIFICATE", a)).join(""));
    await writeFile(join(dir.path, "svid.pem"), id!.chain.map((c) => toPem("CERTIFICATE", c)).join(""));
    await writeFile(join(dir.path, "key.pem"), toPem("PRIVATE KEY", id!.privateKeyPkcs8));
    expect(await opensslOk(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", join(dir.path, "bundle.pem"), join(dir.path, "svid.pem")])).toMatch(/: OK/);
    const certKey = await opensslOk(["x509", "-in", join(dir.path, "svid.pem"), "-noout", "-pubkey"]);
    const ownKey = await opensslOk(["pkey", "-in", join(dir.path, "key.pem"), "-pubout"]);
    expect(certKey).toBe(ownKey);

    const [jwt] = await cache.fetchJwtSvids([`unix:${uid(1)}`], ["e2e-audience"]);
    const discovery = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    const verified = await jwtVerify(jwt!.token, createRemoteJWKSet(new URL(discovery.jwks_uri)), { audience: "e2e-audience", issuer: discovery.issuer });
    expect(verified.payload.sub).toBe(`spiffe://example.org/app/${run}`);
    expect((await cache.fetchJwtSvids([`unix:${uid(1)}`], ["e2e-audience"]))[0]!.token).toBe(jwt!.token);
  });

  it("a new entry reaches the running loop's cache within seconds (long-poll, or 1 s polling where the server has none)", async () => {
    const { client, identity } = agent();
    expect((await identity.attest()).ok).toBe(true);
    const cache = new AgentCache({ trustDomain: "example.org", clock: systemClock, mintJwtSvid: (id, aud) => client.signJwtSvid(id, aud) });
    const loop = new SyncLoop({ client, cache, identity, clock: systemClock, random: Math.random, log: silentLogger });
    const stop = new AbortController();
    const running = loop.run(stop.signal);
    try {
      const deadline = Date.now() + 15_000;
      while (!cache.ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 2500));
      const created = Date.now();
      await createEntry(`spiffe://example.org/late/${run}`, node, ["unix", uid(3)]);
      while (cache.x509IdentitiesFor([`unix:${uid(3)}`]).length === 0 && Date.now() < created + 10_000) await new Promise((r) => setTimeout(r, 20));
      const took = Date.now() - created;
      console.log(JSON.stringify({ metric: "entry_created_to_svid_cached_ms", value: took }));
      expect(cache.x509IdentitiesFor([`unix:${uid(3)}`]).length).toBe(1);
      expect(took).toBeLessThan(3000);
    } finally {
      stop.abort();
      await running;
    }
  });

  it("signet-agent run attests, syncs and signs, logs JSON lines without secrets, and exits 0 on SIGTERM", async () => {
    const child = spawn(process.execPath, ["bin/signet-agent.mjs", "run", "--server", url, "--socket", `unix://${join(dir.path, "agent.sock")}`, "--attestation", "sample", "--log-level", "debug"], { cwd: REPO_ROOT });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!/"msg":"X\.509-SVIDs signed"/.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(0);
    const lines = stderr.trim().split("\n").map((l) => JSON.parse(l) as { msg: string; level: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["starting", "attested", "workload api listening", "bundles updated", "X.509-SVIDs signed", "stopped"]));
    expect(stderr).not.toMatch(/PRIVATE KEY|eyJ[A-Za-z0-9_-]{20,}\.|MII[A-Za-z0-9+/]{40}/);
  });
});
