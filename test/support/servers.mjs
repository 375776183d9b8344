// Real servers for test/e2e/servers.test.ts: Debian's nginx (+ njs) and PostgreSQL run from the
// shipped examples (examples/nginx, examples/postgresql) with their paths and ports replaced, each
// as a uid of its own (setpriv), fed certificate files by `signet-agent helper` running as that uid.
// Every process started here is ended by cleanupServers().
/* global process, setTimeout */
import { spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO, run, shortFingerprint } from "../../scripts/demo-lib.mjs";

export const NGINX = "/usr/sbin/nginx";
export const NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so";
export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const PSQL = "/usr/bin/psql";
const AGENT = join(REPO, "bin", "signet-agent.mjs");
/** The file names both examples' helper.conf use. */
export const FILES = { cert: "svid.pem", key: "svid_key.pem", bundle: "svid_bundle.pem" };

const live = new Set();

/** What is missing to run the servers here, or [] (nginx, njs, PostgreSQL 15, psql, root + setpriv). */
export function missingServers() {
  const missing = [NGINX, NJS_MODULE, join(PG_BIN, "initdb"), join(PG_BIN, "pg_ctl"), PSQL].filter((f) => !existsSync(f));
  if (!/^postgres:/m.test(existsSync("/etc/passwd") ? readFileSync("/etc/passwd", "utf8") : "")) missing.push("the postgres user");
  if (process.getuid?.() !== 0) missing.push("root (servers run as uids of their own)");
  else if (spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status !== 0) missing.push("setpriv");
  return missing;
}

const asUid = (uid, file, args) => ["setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", file, ...args]];
const exited = (c) => c.exitCode !== null || c.signalCode !== null;

function spawnTracked(name, file, args, options = {}) {
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let output = "";
  const capture = (d) => (output = (output + d.toString()).slice(-16384));
  child.stdout?.on("data", capture);
  child.stderr?.on("data", capture);
  const entry = { name, child, output: () => output };
  live.add(entry);
  child.once("exit", () => live.delete(entry));
  return entry;
}

/** A directory owned by `uid` (mode 0755: root, the test, reads the files). */
export async function ownedDir(path, uid) {
  await mkdir(path, { recursive: true, mode: 0o755 });
  await chown(path, uid, uid);
  return path;
}

/**
 * `signet-agent helper` as `uid`, keeping `dir`'s svid.pem, svid_key.pem and svid_bundle.pem current:
 * with the example helper.conf `example` (its agent socket, cert_dir and pid file replaced) when
 * given, else with a config of those three files alone (a client: nothing to signal). Resolves once
 * the three files exist.
 */
export async function startHelper({ name, uid, socket, dir, example }) {
  await ownedDir(dir, uid);
  const conf = join(dir, "..", `${name}-helper.conf`);
  const text = example
    ? substitute(await readFile(join(REPO, "examples", example.file), "utf8"), [["/run/signet/agent.sock", socket], ...example.replace])
    : `${[`agent_address = "${socket}"`, `cert_dir = "${dir}"`, `svid_file_name = "${FILES.cert}"`, `svid_key_file_name = "${FILES.key}"`, `svid_bundle_file_name = "${FILES.bundle}"`].join("\n")}\n`;
  await writeFile(conf, text);
  const [file, args] = asUid(uid, process.execPath, [AGENT, "helper", "-config", conf]);
  const p = spawnTracked(`${name}-helper`, file, args, { cwd: "/", env: { PATH: process.env.PATH, HOME: "/", SIGNET_AGENT_LOG_LEVEL: "debug" } });
  await waitFiles(dir, () => exited(p.child) && `helper exited: ${p.output()}`);
  return { output: p.output };
}

async function waitFiles(dir, dead) {
  const t0 = Date.now();
  while (!Object.values(FILES).every((f) => existsSync(join(dir, f)))) {
    const why = dead();
    if (why) throw new Error(why);
    if (Date.now() - t0 > 30_000) throw new Error(`no certificate files in ${dir} after 30 s`);
    await sleep(100);
  }
}

/** The certificates of a PEM file (a bundle, or an SVID with its chain). */
export function pemCerts(path) {
  const text = readFileSync(path, "utf8");
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
}

/** Short fingerprints (as demo-lib's bundleAuthorities) of a bundle file's CAs. */
export const bundleFingerprints = (path) => pemCerts(path).map((c) => shortFingerprint(c.raw));

/** The fingerprint of the bundle CA that signed `certPath`'s leaf, or undefined. */
export function issuerOf(certPath, bundlePath) {
  const [leaf] = pemCerts(certPath);
  const ca = pemCerts(bundlePath).find((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey));
  return ca && shortFingerprint(ca.raw);
}

/** Replaces each `from` in `text` by its `to`; throws if one is not there (the example changed). */
export function substitute(text, pairs) {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`the example no longer has ${JSON.stringify(from)}`);
    text = text.split(from).join(to);
  }
  return text;
}

/** nginx from examples/nginx/signet-mtls.conf as `uid`, on `port`, its files in `certDir`; pid in dir/nginx.pid. */
export async function startNginx({ dir, uid, port, certDir }) {
  await ownedDir(dir, uid);
  const example = await readFile(join(REPO, "examples", "nginx", "signet-mtls.conf"), "utf8");
  const conf = substitute(example, [
    ["/etc/nginx/svid", certDir],
    ["/etc/nginx/njs/spiffe_id.js", join(REPO, "examples", "nginx", "spiffe_id.js")],
    ["listen 8443 ssl;", `listen 127.0.0.1:${port} ssl;`],
    ["events {}", `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log info;\nevents {}`],
    [
      "http {",
      `http {\n    access_log off;\n${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${dir}/${t};`).join("\n")}`,
    ],
  ]);
  await writeFile(join(dir, "nginx.conf"), conf);
  const [file, args] = asUid(uid, NGINX, ["-p", dir, "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf"), "-g", "daemon off;"]);
  const p = spawnTracked("nginx", file, args, { cwd: dir });
  await waitPort(port, () => exited(p.child) && `nginx exited (${p.child.exitCode ?? p.child.signalCode}): ${p.output()} ${safeRead(join(dir, "error.log"))}`);
  return { pidFile: join(dir, "nginx.pid"), errorLog: () => safeRead(join(dir, "error.log")), conf };
}

const safeRead = (p) => (existsSync(p) ? readFileSync(p, "utf8").slice(-4000) : "");

async function waitPort(port, dead) {
  const t0 = Date.now();
  for (;;) {
    const why = dead();
    if (why) throw new Error(why);
    const up = await new Promise((resolve) => {
      import("node:net").then(({ connect }) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => (s.destroy(), resolve(true)));
        s.once("error", () => resolve(false));
      });
    });
    if (up) return;
    if (Date.now() - t0 > 20_000) throw new Error(`nothing listens on ${port} after 20 s`);
    await sleep(100);
  }
}

function pgRun(uid, bin, args) {
  const [file, argv] = asUid(uid, join(PG_BIN, bin), args);
  return run(file, argv, { cwd: "/", env: { PATH: process.env.PATH, HOME: "/", LC_ALL: "C" }, timeoutMs: 60_000 });
}

/**
 * PostgreSQL 15 as `uid`: initdb in dir/data, examples/postgresql's postgresql.conf appended and
 * its pg_hba.conf (after a `local` trust line for the test's own setup), pg_ident.conf; a role
 * app_user; the postmaster's pid alone in dir/postmaster.pid1 (for the helper's pid_file_name).
 */
export async function startPostgres({ dir, uid, port, certDir }) {
  await ownedDir(dir, uid);
  const data = join(dir, "data");
  const socketDir = await ownedDir(join(dir, "sock"), uid);
  const init = await pgRun(uid, "initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  if (init.code !== 0) throw new Error(`initdb exited ${init.code}: ${init.stderr}`);
  const ex = (f) => readFile(join(REPO, "examples", "postgresql", f), "utf8");
  const settings = substitute(await ex("postgresql.conf"), [["/var/lib/signet-helper/postgresql", certDir]]);
  const local = `listen_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${socketDir}'\nfsync = off\n`;
  await writeFile(join(data, "postgresql.conf"), `${await readFile(join(data, "postgresql.conf"), "utf8")}\n${local}${settings}`);
  const pg = {
    data,
    socketDir,
    pidFile: join(dir, "postmaster.pid1"),
    /** pg_hba.conf and pg_ident.conf (a `local` trust line kept first), then SIGHUP; waits for the reload. */
    async configure(hba, ident) {
      await writeFile(join(data, "pg_hba.conf"), `local all postgres trust\n${hba}`);
      await writeFile(join(data, "pg_ident.conf"), ident);
      if (existsSync(pg.pidFile)) {
        const before = await pg.sql("select pg_conf_load_time()");
        process.kill(Number(readFileSync(pg.pidFile, "utf8").trim()), "SIGHUP");
        for (let i = 0; i < 100 && (await pg.sql("select pg_conf_load_time()")) === before; i++) await sleep(50);
      }
    },
    /** SQL as postgres over the unix socket. */
    async sql(q) {
      const r = await run(PSQL, ["-h", socketDir, "-p", String(port), "-U", "postgres", "-XAtqc", q, "postgres"], { timeoutMs: 15_000 });
      if (r.code !== 0) throw new Error(`psql ${q}: ${r.stderr}`);
      return r.stdout.trim();
    },
    log: () => safeRead(join(dir, "postgres.log")),
  };
  await pg.configure(await ex("pg_hba.conf"), await ex("pg_ident.conf"));
  await chown(join(data, "pg_hba.conf"), uid, uid);
  await chown(join(data, "pg_ident.conf"), uid, uid);
  const start = await pgRun(uid, "pg_ctl", ["-D", data, "-l", join(dir, "postgres.log"), "-w", "-t", "30", "start"]);
  if (start.code !== 0) throw new Error(`pg_ctl start exited ${start.code}: ${start.stdout}${start.stderr}\n${pg.log()}`);
  const [pgCtl, stopArgs] = asUid(uid, join(PG_BIN, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
  live.add({ name: "postgres", stop: () => run(pgCtl, stopArgs, { cwd: "/" }), stopSync: () => spawnSync(pgCtl, stopArgs, { cwd: "/", stdio: "ignore", timeout: 10_000 }) });
  await writeFile(pg.pidFile, `${readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]}\n`);
  await pg.sql("create role app_user login");
  return pg;
}

/** One psql connection over TLS as `user` with a client SVID; { ok, out }. */
export async function psqlConnect({ port, certDir, bundle, user = "app_user", host = "db.example.org" }) {
  const conninfo = [`host=${host}`, "hostaddr=127.0.0.1", `port=${port}`, "dbname=postgres", `user=${user}`, "sslmode=verify-full", `sslrootcert=${bundle}`, `sslcert=${join(certDir, FILES.cert)}`, `sslkey=${join(certDir, FILES.key)}`, "connect_timeout=5"].join(" ");
  const r = await run(PSQL, [conninfo, "-XAtqc", "select current_user"], { env: { PATH: process.env.PATH, HOME: "/nonexistent" }, timeoutMs: 15_000 });
  return { ok: r.code === 0, out: (r.code === 0 ? r.stdout : r.stderr).trim() };
}

/** Ends the servers, helpers and stand-ins started here. */
export async function cleanupServers() {
  for (const e of [...live]) {
    if (e.stop) await e.stop().catch(() => {});
    else if (!exited(e.child)) {
      e.child.kill("SIGTERM");
      await new Promise((r) => (exited(e.child) ? r() : (e.child.once("exit", r), setTimeout(r, 3000))));
      if (!exited(e.child)) e.child.kill("SIGKILL");
    }
    live.delete(e);
  }
}

/** Synchronous last resort (process exit). */
export function cleanupServersSync() {
  for (const e of live) {
    if (e.stopSync) e.stopSync();
    else if (!exited(e.child)) e.child.kill("SIGKILL");
  }
  live.clear();
}


// demo-lib's Signet, agent and temp dirs, typed in servers.d.mts for the test.
export { bundleAuthorities, cleanup, createInstance, ensureBuilt, freePort, installExitHandlers, startAgent, tempDir } from "../../scripts/demo-lib.mjs";
