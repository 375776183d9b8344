/**
 * AgentServerClient on its default transport never touches fetch (Node's fetch loads undici, about
 * 10 MB of RSS): a child `node` whose fetch, Response, Headers and Request globals are traps runs the
 * client against a local HTTPS server it trusts through NODE_EXTRA_CA_CERTS, then reports what it
 * touched and whether undici was loaded. The same child with a fetch injected trips the traps, so the
 * check would see fetch being used.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpTransport } from "../../../src/node/http-request";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "signet-no-fetch-"));
let server: Server;
let url: string;

const PRELOAD = `
globalThis.__touched = [];
for (const name of ["fetch", "Response", "Headers", "Request", "FormData"]) {
  Object.defineProperty(globalThis, name, { configurable: true, get() { globalThis.__touched.push(name); throw new Error(name + " was touched"); } });
}
`;

const CHILD = `
import { AgentServerClient } from "./src/agent/server-client";
import { generateSvidKey } from "./src/agent/csr";
import { systemClock } from "./src/lib/clock";
const injected = process.env.USE_FETCH ? { fetch: (u, i) => fetch(u, i) } : {};
const c = new AgentServerClient({ server: process.env.SIGNET_SERVER, clock: systemClock, timeoutMs: 5000, ...injected });
c.setCredential({ key: (await generateSvidKey(false)).privateKey, alg: "ES256", svid: new Uint8Array([0x30, 0]) });
const results = [];
for (const call of [() => c.syncEntries({ waitMs: 10 }), () => c.syncEntries({ cursor: "c1" }), () => c.bundles()]) {
  const r = await call();
  results.push(r.ok ? "ok" : r.error.detail);
}
console.log(JSON.stringify({ results, touched: globalThis.__touched, undici: process.moduleLoadList.filter((m) => /undici/.test(m)) }));
`;

beforeAll(async () => {
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { cwd: dir, stdio: "ignore" });
  writeFileSync(join(dir, "preload.cjs"), PRELOAD);
  await build({ stdin: { contents: CHILD, resolveDir: root, loader: "ts" }, outfile: join(dir, "child.mjs"), bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "error" });
  server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json" });
      if (req.url === "/agent/v1/bundles") res.end(JSON.stringify({ trust_domain: "example.org", bundle: { keys: [] } }));
      else res.end(JSON.stringify({ full: true, entries: [], removed: [], next_page_token: null, cursor: "c1" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function child(env: Record<string, string> = {}): Promise<{ results: string[]; touched: string[]; undici: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--require", join(dir, "preload.cjs"), join(dir, "child.mjs")], { cwd: root, env: { ...process.env, SIGNET_SERVER: url, NODE_EXTRA_CA_CERTS: join(dir, "cert.pem"), ...env }, timeout: 20_000 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`${e.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as { results: string[]; touched: string[]; undici: string[] });
    });
  });
}

describe("AgentServerClient without fetch", () => {
  it("talks HTTPS (NODE_EXTRA_CA_CERTS trusted) without touching fetch, Response, Headers or Request, and without loading undici or zod", async () => {
    expect(await child()).toEqual({ results: ["ok", "ok", "ok"], touched: [], undici: [] });
    // Nor zod (another 10 MB): npm packages stay external in the bundle, so an import would show.
    expect(readFileSync(join(dir, "child.mjs"), "utf8")).not.toMatch(/from "zod"/);
  });

  it("the traps see an injected fetch", async () => {
    const seen = await child({ USE_FETCH: "1" });
    expect(seen.touched).toContain("fetch");
    expect(seen.results[0]).toMatch(/cannot be reached: fetch was touched/);
  });

  it("without that CA the certificate is refused with its TLS code", async () => {
    const t = createHttpTransport();
    const r = await t({ method: "GET", url: new URL(url), headers: {}, timeoutMs: 2000, maxBodyBytes: 1024 });
    t.close();
    expect(r).toMatchObject({ ok: false, error: { code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/) } });
  });
});
