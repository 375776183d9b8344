/**
 * Issue 7 as an operator sees it, against `npm run dev` (scripts/dev.mjs) in a copy of the project with
 * its own `.dev.vars` and state:
 * - a CA left alone 30 h past its 24 h lifetime (every stored authority moved 30 h into the past, the
 *   state a laptop reaches over a weekend) recovers with one new key per track at the first request;
 * - a changed SIGNET_KEK: /healthz 503, the bundle and JWKS still served, mints 503;
 * - a removed SIGNET_KEK over existing CA state: dev.mjs refuses to generate a new one.
 */
import { cp, mkdir, readFile, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { devEnv, startDevServer, type DevServer } from "../support/dev-server";
import { REPO_ROOT, run, tempDir } from "../support/e2e-process";
import { newKeyPair, spkiB64, x509 } from "../support/x509";

const HOUR_MS = 3600_000;
let dir: { path: string; remove(): Promise<void> };
let project: string;
let server: DevServer | undefined;

async function start(ready?: (status: number) => boolean): Promise<DevServer> {
  server = await startDevServer({ cwd: project, persistTo: join(dir.path, "state"), configHome: join(dir.path, "config"), ...(ready ? { ready } : {}) });
  return server;
}

async function stop(): Promise<void> {
  await server?.stop();
  server = undefined;
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface BundleDoc {
  keys: { use: string }[];
  spiffe_sequence: number;
}

async function bundle(s: DevServer): Promise<BundleDoc> {
  const r = await json(`${s.url}/bundle`);
  expect(r.status).toBe(200);
  return r.body as unknown as BundleDoc;
}

const count = (b: BundleDoc, use: string) => b.keys.filter((k) => k.use === use).length;

async function adminToken(): Promise<string> {
  const vars = await readFile(join(project, ".dev.vars"), "utf8");
  return /^SIGNET_ADMIN_TOKEN=(\S+)$/m.exec(vars)![1]!;
}

async function mint(s: DevServer, kind: "x509" | "jwt", body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return json(`${s.url}/admin/v1/svids/${kind}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await adminToken()}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Moves every stored authority `ms` into the past, in the CA object's SQLite file (the server is stopped). */
async function shiftAuthorities(ms: number): Promise<number> {
  const doDir = join(dir.path, "state", "v3", "do");
  const caDir = (await readdir(doDir)).find((d) => d.endsWith("-CertificateAuthority"));
  expect(caDir).toBeDefined();
  const files = (await readdir(join(doDir, caDir!))).filter((f) => f.endsWith(".sqlite")).map((f) => join(doDir, caDir!, f));
  const script = [
    "import sqlite3, sys",
    "n = 0",
    "for path in sys.argv[2:]:",
    "    db = sqlite3.connect(path)",
    "    if db.execute(\"SELECT 1 FROM sqlite_master WHERE name = 'authorities'\").fetchone():",
    "        n += db.execute('UPDATE authorities SET not_before = not_before - ?, not_after = not_after - ?', (int(sys.argv[1]), int(sys.argv[1]))).rowcount",
    "    db.commit()",
    "print(n)",
  ].join("\n");
  const r = await run("python3", ["-c", script, String(ms), ...files]);
  expect(r.code, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

beforeAll(async () => {
  dir = await tempDir("signet-dormancy-");
  project = join(dir.path, "project");
  await mkdir(project);
  for (const entry of ["package.json", "wrangler.toml", "tsconfig.json", "tsconfig.base.json", "tsconfig.worker.json", "worker-configuration.d.ts", "src", "migrations", "scripts"]) {
    await cp(join(REPO_ROOT, entry), join(project, entry), { recursive: true });
  }
  await symlink(join(REPO_ROOT, "node_modules"), join(project, "node_modules"), "dir");
});

afterAll(async () => {
  await stop();
  await dir?.remove();
});

describe("npm run dev after dormancy and with a wrong key-encryption key", () => {
  let first: BundleDoc;

  it("first run: one CA, two JWT keys", async () => {
    const s = await start();
    first = await bundle(s);
    expect([count(first, "x509-svid"), count(first, "jwt-svid")]).toEqual([1, 2]);
    await stop();
  });

  it("30 h past the lifetime: the first GET /keys publishes one new key per track, mints are valid now, restarts add nothing", async () => {
    expect(await shiftAuthorities(30 * HOUR_MS)).toBe(4);
    const s = await start();
    // An unauthenticated GET /keys is what triggered the old failure.
    const jwks = await json(`${s.url}/keys`);
    expect(jwks.status).toBe(200);
    expect((jwks.body.keys as unknown[]).length).toBe(4);
    const after = await bundle(s);
    expect([count(after, "x509-svid"), count(after, "jwt-svid")]).toEqual([2, 4]);
    expect(after.spiffe_sequence).toBe(first.spiffe_sequence + 1);

    const now = Date.now();
    const cert = await mint(s, "x509", { spiffe_id: "spiffe://example.org/web", public_key: await spkiB64(await newKeyPair()), ttl: 3600 });
    expect(cert.status, JSON.stringify(cert.body)).toBe(200);
    const leaf = new x509.X509Certificate((cert.body.cert_chain as string[])[0]!);
    expect(leaf.notAfter.getTime()).toBeGreaterThan(now + 3000_000);
    const jwt = await mint(s, "jwt", { spiffe_id: "spiffe://example.org/web", audience: ["vault"], ttl: 300 });
    expect(jwt.status).toBe(200);
    expect(decodeJwt(jwt.body.token as string).exp! * 1000).toBeGreaterThan(now + 200_000);
    expect((await json(`${s.url}/healthz`)).status).toBe(200);
    await stop();

    for (let i = 0; i < 2; i++) {
      const again = await start();
      expect((await bundle(again)).spiffe_sequence).toBe(after.spiffe_sequence);
      await stop();
    }
  });

  it("a changed SIGNET_KEK: /healthz 503, bundle and JWKS still served unchanged, mints 503 service_misconfigured", async () => {
    const s0 = await start();
    const before = await bundle(s0);
    const keysBefore = (await json(`${s0.url}/keys`)).body;
    await stop();

    const varsPath = join(project, ".dev.vars");
    const original = await readFile(varsPath, "utf8");
    await writeFile(varsPath, original.replace(/^SIGNET_KEK=.*$/m, `SIGNET_KEK=${randomBytes(32).toString("base64url")}`));
    try {
      const s = await start((status) => status === 503);
      const health = await json(`${s.url}/healthz`);
      expect(health).toMatchObject({ status: 503, body: { code: "service_misconfigured" } });
      expect(JSON.stringify(health.body)).not.toContain("SIGNET_KEK");
      expect(await bundle(s)).toEqual(before);
      expect((await json(`${s.url}/keys`)).body).toEqual(keysBefore);
      const cert = await mint(s, "x509", { spiffe_id: "spiffe://example.org/web", public_key: await spkiB64(await newKeyPair()) });
      expect(cert).toMatchObject({ status: 503, body: { code: "service_misconfigured" } });
      expect(await mint(s, "jwt", { spiffe_id: "spiffe://example.org/web", audience: ["vault"] })).toMatchObject({ status: 503, body: { code: "service_misconfigured" } });
      // The reason is in the log (wrangler prints it a moment later).
      for (let i = 0; i < 50 && !/SIGNET_KEK does not open the stored key/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(s.output()).toMatch(/SIGNET_KEK does not open the stored key/);
      await stop();
    } finally {
      await writeFile(varsPath, original);
    }
  });

  it("a removed SIGNET_KEK over existing CA state: dev.mjs refuses to make a new one and says what to do", async () => {
    const varsPath = join(project, ".dev.vars");
    const original = await readFile(varsPath, "utf8");
    const withoutKek = original.replace(/^SIGNET_KEK=.*\n?/m, "");
    await writeFile(varsPath, withoutKek);
    try {
      const r = await run(process.execPath, ["scripts/dev.mjs", "--persist-to", join(dir.path, "state")], { cwd: project, env: devEnv(join(dir.path, "config")), timeoutMs: 20_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no SIGNET_KEK, but a certificate authority already exists/);
      expect(r.stderr).toMatch(/Restore the SIGNET_KEK line/);
      expect(await readFile(varsPath, "utf8")).toBe(withoutKek);
    } finally {
      await writeFile(varsPath, original);
    }
  });
});
