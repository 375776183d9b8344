// What `npm run demo` (scripts/demo.mjs) and its end-to-end test (test/e2e/demo.test.ts) share: a
// Signet of their own (scripts/dev.mjs in a copy of the project, with its own port, state, secrets
// and configuration, so the developer's .dev.vars and .wrangler/state are never touched), the real
// CLIs (bin/signet.mjs, bin/signet-agent.mjs), workloads (scripts/demo-workload.mjs) run as other
// uids, an x509pop test PKI made with openssl, and the CA state moved back in time to make it rotate.
// Every process started here is registered and ended by `cleanup()` (also on exit).
/* global AbortSignal */
import { Buffer } from "node:buffer";
import { execFile, spawn, spawnSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("..", import.meta.url));
const PROJECT_ENTRIES = ["package.json", "wrangler.toml", "tsconfig.json", "tsconfig.base.json", "tsconfig.worker.json", "worker-configuration.d.ts", "src", "migrations", "scripts"];

/** Everything started here, ended by cleanup(): workloads, then agents, then servers (`rank`). */
const live = new Set();
const tempDirs = new Set();

/** Ends every process started here and removes the temp dirs; synchronous, so exit handlers can call it. */
export function cleanupSync() {
  for (const p of [...live].reverse()) p.kill("SIGKILL");
  live.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** Ends every process politely (SIGTERM / SIGINT, then SIGKILL) and removes the temp dirs. */
export async function cleanup() {
  for (const p of [...live].sort((x, y) => x.rank - y.rank)) await p.stop();
  cleanupSync();
}

let exitHook = false;
/** Cleans up on exit, and on SIGINT/SIGTERM when `signals` (the demo; vitest handles its own). */
export function installExitHandlers({ signals = false, onSignal } = {}) {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", cleanupSync);
  if (!signals) return;
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(s, () => {
      onSignal?.(s);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

function track(rank, child, kill, stop) {
  const entry = { rank, kill, stop: async () => (await stop(), live.delete(entry)) };
  live.add(entry);
  child.once("exit", () => live.delete(entry));
  return entry;
}

export async function tempDir(prefix = "signet-demo-") {
  const path = await mkdtemp(join(tmpdir(), prefix));
  // Workloads run as other uids: they must reach the socket directories inside.
  await chmod(path, 0o755);
  tempDirs.add(path);
  return path;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a program to completion: { code, stdout, stderr }; never rejects on a non-zero exit. */
export function run(file, args, { cwd = REPO, env = process.env, input, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd, env, timeout: timeoutMs, maxBuffer: 16 << 20, encoding: "utf8" }, (e, stdout, stderr) => {
      if (e && typeof e.code !== "number") return reject(new Error(`${file} ${args.join(" ")}: ${e.message}\n${stderr}`));
      resolve({ code: e ? e.code : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

async function runOk(file, args, options) {
  const r = await run(file, args, options);
  if (r.code !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const exited = (child) => child.exitCode !== null || child.signalCode !== null;
function waitExit(child, ms) {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once("exit", () => (clearTimeout(t), resolve(true)));
  });
}
function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** A TOML value: a basic string, or a literal multi-line one for PEM text. */
const tomlString = (v) => (v.includes("\n") ? `'''\n${v}'''` : JSON.stringify(v));

/**
 * A Signet of our own: the project copied to `dir/project` with `vars` replacing wrangler.toml's
 * [vars] of the same name, served by scripts/dev.mjs (`npm run dev`) on a port kept across restarts
 * (agents keep their --server), with local state in `dir/state`.
 */
export async function createInstance({ dir, vars = {}, log = () => {} }) {
  const project = join(dir, "project");
  await mkdir(project, { recursive: true });
  for (const entry of PROJECT_ENTRIES) await cp(join(REPO, entry), join(project, entry), { recursive: true });
  let toml = await readFile(join(REPO, "wrangler.toml"), "utf8");
  for (const [name, value] of Object.entries(vars)) {
    const re = new RegExp(`^${name} = .*$`, "m");
    if (!re.test(toml)) throw new Error(`wrangler.toml has no ${name} var`);
    toml = toml.replace(re, () => `${name} = ${tomlString(value)}`);
  }
  await writeFile(join(project, "wrangler.toml"), toml);
  await symlink(join(REPO, "node_modules"), join(project, "node_modules"), "dir");
  const state = join(dir, "state");
  const port = await freePort();
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", XDG_CONFIG_HOME: join(dir, "wrangler-config"), NO_COLOR: "1", CI: "1" };
  delete env.SIGNET_ADMIN_TOKEN;
  let child;
  let output = "";

  async function start() {
    const t0 = Date.now();
    output = "";
    const args = ["scripts/dev.mjs", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", state, "--show-interactive-dev-session=false"];
    child = spawn(process.execPath, args, { cwd: project, detached: true, stdio: ["ignore", "pipe", "pipe"], env });
    const capture = (d) => (output = (output + d.toString()).slice(-65536));
    child.stdout.on("data", capture);
    child.stderr.on("data", capture);
    const c = child;
    track(2, c, () => killGroup(c.pid, "SIGKILL"), () => stopChild(c));
    for (;;) {
      if (exited(c)) throw new Error(`scripts/dev.mjs exited (${c.exitCode ?? c.signalCode}) before ${url}/healthz answered:\n${output}`);
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() - t0 > 90_000) throw new Error(`${url}/healthz did not answer within 90 s:\n${output}`);
      await sleep(200);
    }
    log(`Signet is up at ${url} (${Date.now() - t0} ms)`);
  }

  async function stopChild(c) {
    if (!exited(c)) {
      killGroup(c.pid, "SIGINT");
      if (!(await waitExit(c, 5000))) killGroup(c.pid, "SIGKILL");
      await waitExit(c, 2000);
    }
    killGroup(c.pid, "SIGKILL");
  }

  const instance = {
    url,
    project,
    state,
    output: () => output,
    start,
    async stop() {
      if (child) await stopChild(child);
      child = undefined;
    },
    async adminToken() {
      return /^SIGNET_ADMIN_TOKEN=(\S+)$/m.exec(await readFile(join(project, ".dev.vars"), "utf8"))[1];
    },
    /** The real `signet` CLI, run in the project copy so it reads that instance's .dev.vars. */
    cli(args) {
      const e = { ...process.env, SIGNET_SERVER: url };
      delete e.SIGNET_ADMIN_TOKEN;
      return run(process.execPath, [join(REPO, "bin", "signet.mjs"), ...args], { cwd: project, env: e });
    },
    async cliOk(args) {
      const r = await instance.cli(args);
      if (r.code !== 0) throw new Error(`signet ${args.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
      return r.stdout;
    },
    /** Admin HTTP call with the instance's bootstrap token. */
    async admin(method, path, body, contentType = "application/json") {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${await instance.adminToken()}`, ...(body === undefined ? {} : { "Content-Type": contentType }) },
        ...(body === undefined ? {} : { body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, text, json: () => JSON.parse(text) };
    },
    /**
     * Moves every stored CA authority (X.509 and JWT keys) into the past in the CA object's SQLite
     * file, as if time had passed: by `ms`, or, with `activateInMs`, by as much as puts the active
     * X.509 CA past its prepare point (1/2 of its lifetime) with its successor due to activate (at
     * 5/6) that many ms from now. The server must be stopped. Returns the rows moved and the shift.
     */
    async shiftCa({ ms, activateInMs }) {
      if (child) throw new Error("stop the server before moving its CA state");
      const doDir = join(state, "v3", "do");
      const caDir = (await readdir(doDir)).find((d) => d.endsWith("-CertificateAuthority"));
      if (!caDir) throw new Error(`no CertificateAuthority state under ${doDir}`);
      const files = (await readdir(join(doDir, caDir))).filter((f) => f.endsWith(".sqlite")).map((f) => join(doDir, caDir, f));
      const script = [
        "import sqlite3, sys, time",
        "shift, activate_in = (int(a) if a != '' else None for a in sys.argv[1:3])",
        "dbs = [db for db in (sqlite3.connect(p) for p in sys.argv[3:]) if db.execute(\"SELECT 1 FROM sqlite_master WHERE name = 'authorities'\").fetchone()]",
        "if shift is None:",
        "    nb, na = dbs[0].execute(\"SELECT not_before, not_after FROM authorities WHERE track = 'x509' AND status = 'active'\").fetchone()",
        "    shift = (na - (na - nb) // 6) - (int(time.time() * 1000) + activate_in)",
        "n = 0",
        "for db in dbs:",
        "    n += db.execute('UPDATE authorities SET not_before = not_before - ?, not_after = not_after - ?', (shift, shift)).rowcount",
        "    db.commit()",
        "print(n, shift)",
      ].join("\n");
      const [rows, shift] = (await runOk("python3", ["-c", script, ms === undefined ? "" : String(ms), activateInMs === undefined ? "" : String(activateInMs), ...files])).trim().split(" ").map(Number);
      return { rows, shiftMs: shift };
    },
  };
  return instance;
}

/** The X.509 authorities of a server's SPIFFE bundle, as short SHA-256 fingerprints (as the workloads print them). */
export async function bundleAuthorities(url) {
  const doc = await (await fetch(`${url}/bundle`)).json();
  return doc.keys.filter((k) => k.use === "x509-svid").map((k) => shortFingerprint(Buffer.from(k.x5c[0], "base64")));
}

export function shortFingerprint(der) {
  return createHash("sha256").update(der).digest("hex").slice(0, 16);
}

/** `bin/signet-agent.mjs run`; its JSON-line logs collected. */
export function startAgent({ url, socket, attestation, name = "agent", log = () => {}, logLevel = "info" }) {
  const child = spawn(process.execPath, [join(REPO, "bin", "signet-agent.mjs"), "run", "--server", url, "--socket", `unix://${socket}`, "--attestation", attestation, "--log-level", logLevel], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const lines = [];
  const waiters = new Set();
  createInterface({ input: child.stderr }).on("line", (line) => {
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = { msg: line };
    }
    lines.push(rec);
    log(name, rec);
    for (const w of waiters) w();
  });
  const stop = async () => {
    if (!exited(child)) child.kill("SIGTERM");
    if (!(await waitExit(child, 5000))) child.kill("SIGKILL");
  };
  track(1, child, () => child.kill("SIGKILL"), stop);
  return {
    child,
    lines,
    stop,
    /** The first log record that satisfies `pred` (waits for it). */
    waitFor(pred, what, timeoutMs = 30_000) {
      return waitUntil(() => lines.find(pred), () => exited(child) && `${name} exited (${child.exitCode ?? child.signalCode}): ${JSON.stringify(lines.slice(-5))}`, waiters, what, timeoutMs);
    },
  };
}

function waitUntil(probe, dead, waiters, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const finish = (fn) => {
      clearTimeout(timer);
      waiters.delete(check);
      fn();
    };
    const check = () => {
      const found = probe();
      if (found !== undefined) return finish(() => resolve(found));
      const why = dead();
      if (why) finish(() => reject(new Error(`waiting for ${what}: ${why}`)));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
    waiters.add(check);
    check();
  });
}

/** Whether workloads can run as other uids (root, with setpriv). */
export function canSwitchUids() {
  return process.getuid?.() === 0 && spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Whether `uid` can run the workload from this checkout (it must read the repository and node
 * modules, and execute node): undefined if so, else why not.
 */
export async function workloadRunsAs(uid) {
  const r = await run("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", process.execPath, "-e", `import(${JSON.stringify(join(REPO, "node_modules", "@grpc", "grpc-js", "build", "src", "index.js"))}).then(() => require("fs").accessSync(${JSON.stringify(join(REPO, "scripts", "demo-workload.mjs"))}))`], { timeoutMs: 15_000 });
  return r.code === 0 ? undefined : (r.stderr.trim().split("\n").find((l) => /Error|EACCES/.test(l)) ?? `exit ${r.code}`);
}

/**
 * scripts/demo-workload.mjs on the agent's socket, as `uid` (setpriv) or as ourselves; events and
 * replies collected.
 */
export function startWorkload({ socket, name, uid, allow = [], want, log = () => {} }) {
  const args = [join(REPO, "scripts", "demo-workload.mjs"), "--socket", socket, "--name", name, ...allow.flatMap((a) => ["--allow", a]), ...(want ? ["--want", want] : [])];
  const [file, argv] = uid === undefined ? [process.execPath, args] : ["setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", process.execPath, ...args]];
  const child = spawn(file, argv, { cwd: "/", stdio: ["pipe", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/" } });
  const events = [];
  const waiters = new Set();
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d.toString()).slice(-8192)));
  createInterface({ input: child.stdout }).on("line", (line) => {
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      ev = { event: "text", line };
    }
    events.push(ev);
    if (ev.event !== "reply") log(name, ev);
    for (const w of waiters) w();
  });
  const stop = async () => {
    if (!exited(child)) child.stdin.end();
    if (!(await waitExit(child, 3000))) child.kill("SIGKILL");
  };
  track(0, child, () => child.kill("SIGKILL"), stop);
  let nextId = 1;
  const w = {
    name,
    uid,
    child,
    events,
    stop,
    stderr: () => stderr,
    waitFor(pred, what, timeoutMs = 30_000, from = 0) {
      return waitUntil(() => events.slice(from).find(pred), () => exited(child) && `${name} exited (${child.exitCode ?? child.signalCode}): ${stderr}`, waiters, `${name}: ${what}`, timeoutMs);
    },
    /** Sends a command; resolves with its reply. */
    command(cmd, timeoutMs = 30_000) {
      const id = nextId++;
      child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`);
      return w.waitFor((e) => e.event === "reply" && e.id === id, `the reply to ${cmd.cmd}`, timeoutMs);
    },
    /** The latest SVID update (waits for the first). */
    async svids() {
      await w.waitFor((e) => e.event === "svids", "an X.509-SVID");
      return events.filter((e) => e.event === "svids").at(-1);
    },
    async port() {
      return (await w.waitFor((e) => e.event === "listening", "its mTLS listener")).port;
    },
  };
  return w;
}

/**
 * An x509pop PKI with openssl: a P-256 CA and a leaf (`CN=cn`, keyUsage digitalSignature) with its
 * PKCS#8 key, as an operator would provision a bootstrap certificate. `leafSha1` is the agent ID's last segment.
 */
export async function makeX509PopPki(dir, cn) {
  await mkdir(dir, { recursive: true });
  const f = (n) => join(dir, n);
  await runOk("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/O=Signet demo/CN=x509pop demo CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  await runOk("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f("bootstrap.key")]);
  await runOk("openssl", ["req", "-new", "-key", f("bootstrap.key"), "-subj", `/CN=${cn}`, "-out", f("bootstrap.csr")]);
  await writeFile(f("leaf.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n");
  await runOk("openssl", ["x509", "-req", "-in", f("bootstrap.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", f("leaf.ext"), "-out", f("bootstrap.pem")]);
  const caPem = await readFile(f("ca.pem"), "utf8");
  const certPem = await readFile(f("bootstrap.pem"), "utf8");
  const keyPem = await readFile(f("bootstrap.key"), "utf8");
  const leafSha1 = createHash("sha1").update(new X509Certificate(certPem).raw).digest("hex");
  return { caPem, certPem, keyPem, leafSha1 };
}

/** Checks the tools the demo needs beyond node: openssl and python3 (for the simulated time). */
export function missingTools() {
  return ["openssl", "python3"].filter((t) => spawnSync(t, ["--version"], { stdio: "ignore" }).status !== 0 && spawnSync(t, ["version"], { stdio: "ignore" }).status !== 0);
}

/** Builds the CLIs (dist/, what `npm install` builds), so they are those of this checkout. */
export async function ensureBuilt() {
  await runOk(process.execPath, ["scripts/build-cli.mjs"], { timeoutMs: 120_000 });
}

export { sleep };
