/**
 * `signet-agent helper` through main()'s dispatch against a real Workload API server in this process
 * (it attests this very process: unix:uid:<our uid>): files and modes (openssl verifies the SVID
 * against the bundle), JWT files, one-shot mode, the command started once and sent SIGHUP after an
 * SVID rotation and after a bundle-only change (the next CA published), pid_file_name, a separate
 * reader process that never sees a partial file through 100 rewrites, and an agent that is not there
 * (daemon retries with back-off, one-shot exits 3).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/agent/main";
import { startWorkloadApi, type WorkloadApiServer } from "../../../src/agent/workload";
import { issueIdentity, MemoryAgentState, trustDomainMaterial, type TrustDomainMaterial } from "../../support/agent-state";

const dir = mkdtempSync(join(tmpdir(), "signet-helper-"));
const uid = process.getuid!();
const ME = "spiffe://example.org/me";
const sock = join(dir, "agent.sock");

let own: TrustDomainMaterial;
let peer: TrustDomainMaterial;
let state: MemoryAgentState;
let server: WorkloadApiServer;
const children: ChildProcess[] = [];
const pids: number[] = [];

beforeAll(async () => {
  own = await trustDomainMaterial("example.org");
  peer = await trustDomainMaterial("peer.org");
  state = new MemoryAgentState(own);
  state.setBundle(peer.bundle);
  state.setIdentities([await issueIdentity(own, { spiffeId: ME, selectors: [`unix:uid:${uid}`], federatesWith: ["peer.org"] })]);
  server = await startWorkloadApi({ socket: sock, state });
  // Counts SIGHUPs into a file (argv[2]); written once at start so the test knows the handler is in place.
  writeFileSync(join(dir, "counter.mjs"), `import { writeFileSync } from "node:fs";\nlet n = 0;\nprocess.on("SIGHUP", () => writeFileSync(process.argv[2], String(++n)));\nprocess.on("SIGTERM", () => process.exit(0));\nwriteFileSync(process.argv[2], "0");\nsetInterval(() => {}, 1000);\n`);
});

afterAll(async () => {
  for (const c of children) c.kill("SIGTERM");
  for (const p of pids) {
    try {
      process.kill(p, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  readonly stop: () => Promise<number>;
  readonly err: () => string;
  readonly done: Promise<number>;
}

function startHelper(argv: readonly string[], env: Record<string, string> = {}): Running {
  let err = "";
  const controller = new AbortController();
  const done = main({ argv: ["helper", ...argv], env, cwd: dir, stdout: () => undefined, stderr: (s) => void (err += s), signal: controller.signal });
  return {
    stop: () => {
      controller.abort();
      return done;
    },
    err: () => err,
    done,
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const count = (text: string, re: RegExp): number => text.split("\n").filter((l) => re.test(l)).length;

function conf(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const readCount = (path: string): number => (existsSync(path) ? Number(readFileSync(path, "utf8") || "-1") : -1);

describe("one-shot (daemon_mode = false)", () => {
  it("writes the SVID, key (0600), bundle with federated CAs, JWT bundle and JWT-SVID, and exits 0", async () => {
    const out = join(dir, "oneshot");
    const path = conf(
      "oneshot.conf",
      `agent_address = "${sock}"\ncert_dir = "${out}"\ndaemon_mode = false\nsvid_file_name = "svid.pem"\nsvid_key_file_name = "svid_key.pem"\nsvid_bundle_file_name = "svid_bundle.pem"\ninclude_federated_domains = true\njwt_bundle_file_name = "bundle.json"\njwt_svids = [{jwt_audience = "db", jwt_extra_audiences = ["x"], jwt_svid_file_name = "jwt.token"}]\n`,
    );
    const r = startHelper(["-config", path]);
    expect(await r.done).toBe(0);
    expect(count(r.err(), /"level":"error"/)).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["bundle.json", "jwt.token", "svid.pem", "svid_bundle.pem", "svid_key.pem"]);
    const mode = (f: string) => statSync(join(out, f)).mode & 0o777;
    expect([mode("svid.pem"), mode("svid_bundle.pem"), mode("svid_key.pem"), mode("bundle.json"), mode("jwt.token")]).toEqual([0o644, 0o644, 0o600, 0o600, 0o600]);
    const verify = spawnSync("openssl", ["verify", "-CAfile", join(out, "svid_bundle.pem"), join(out, "svid.pem")], { encoding: "utf8" });
    expect(verify.stdout).toContain(": OK");
    expect(readFileSync(join(out, "svid_key.pem"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = spawnSync("openssl", ["pkey", "-in", join(out, "svid_key.pem"), "-noout"], { encoding: "utf8" });
    expect(key.status).toBe(0);
    // Own CA first, then peer.org's.
    const bundle = readFileSync(join(out, "svid_bundle.pem"), "utf8").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
    expect(bundle.map((p) => new X509Certificate(p).subject)).toEqual([`CN=${own.trustDomain} test CA`, `CN=${peer.trustDomain} test CA`]);
    const jwtBundle = JSON.parse(readFileSync(join(out, "bundle.json"), "utf8")) as Record<string, string>;
    expect(Object.keys(jwtBundle)).toEqual(["example.org", "peer.org"]);
    expect((JSON.parse(Buffer.from(jwtBundle["example.org"]!, "base64").toString()) as { keys: { kid: string }[] }).keys[0]!.kid).toBe(own.kid);
    const token = readFileSync(join(out, "jwt.token"), "utf8");
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { sub: string; aud: string[] };
    expect(claims.sub).toBe(ME);
    expect([...claims.aud].sort()).toEqual(["db", "x"]);
    // Without include_federated_domains, the own CAs only; the key mode as configured (0640 octal).
    writeFileSync(path, readFileSync(path, "utf8").replace("include_federated_domains = true", "include_federated_domains = false\nkey_file_mode = 0640"));
    expect(await startHelper(["-config", path]).done).toBe(0);
    expect(readFileSync(join(out, "svid_bundle.pem"), "utf8").match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(mode("svid_key.pem")).toBe(0o640);
  });

  it("-daemon-mode=false overrides the file; an unreachable agent exits 3, a refusal 1, a bad file 2", async () => {
    const out = join(dir, "flag");
    const x509 = `svid_file_name = "a.pem"\nsvid_key_file_name = "a.key"\nsvid_bundle_file_name = "b.pem"\ncert_dir = "${out}"\n`;
    expect(await startHelper(["--config", conf("flag.conf", `agent_address = "${sock}"\n${x509}`), "-daemon-mode=false"]).done).toBe(0);
    expect(existsSync(join(out, "a.key"))).toBe(true);

    const gone = startHelper(["-config", conf("gone.conf", `agent_address = "${join(dir, "nothing.sock")}"\ndaemon_mode = false\n${x509}`)]);
    expect(await gone.done).toBe(3);
    expect(gone.err()).toMatch(/signet-agent: helper: fetch x509: cannot connect to the agent at .*nothing\.sock/);

    const bad = startHelper(["-config", conf("bad.conf", `${x509}daemon_mode = maybe\n`)]);
    expect(await bad.done).toBe(2);
    expect(bad.err()).toBe(`signet-agent: helper: ${join(dir, "bad.conf")}: 5:15: expected a value, found "maybe" (strings need double quotes)\n`);
    const missing = startHelper(["-config", "no-such.conf"]);
    expect(await missing.done).toBe(2);
    expect(missing.err()).toMatch(/cannot read the configuration .*no-such\.conf: ENOENT/);
    expect(await startHelper(["-bogus"]).done).toBe(2);
  });

  it("a caller without an entry: PermissionDenied retried (~8 s), then exit 1", async () => {
    const other = new MemoryAgentState(own);
    other.setIdentities([await issueIdentity(own, { spiffeId: "spiffe://example.org/other", selectors: [`unix:uid:${uid + 12345}`] })]);
    const deniedSock = join(dir, "denied.sock");
    const denied = await startWorkloadApi({ socket: deniedSock, state: other });
    try {
      const started = Date.now();
      const r = startHelper(["-config", conf("denied.conf", `agent_address = "${deniedSock}"\ndaemon_mode = false\njwt_bundle_file_name = "j.json"\nsvid_file_name = "a.pem"\nsvid_key_file_name = "a.key"\nsvid_bundle_file_name = "b.pem"\ncert_dir = "${join(dir, "denied")}"\n`)], { SIGNET_AGENT_LOG_LEVEL: "debug" });
      expect(await r.done).toBe(1);
      expect(Date.now() - started).toBeGreaterThan(1500);
      expect(count(r.err(), /fetch x509: retrying/)).toBe(5);
      expect(r.err()).toMatch(/signet-agent: helper: fetch x509: permission denied by the agent/);
    } finally {
      await denied.close();
    }
  });
});

describe("daemon mode", () => {
  it("starts cmd once, then sends SIGHUP after an SVID rotation and after a bundle-only change (the next CA)", async () => {
    const out = join(dir, "daemon");
    const counter = join(dir, "cmd-count");
    const path = conf(
      "daemon.conf",
      `agent_address = "${sock}"\ncert_dir = "${out}"\nsvid_file_name = "svid.pem"\nsvid_key_file_name = "svid_key.pem"\nsvid_bundle_file_name = "svid_bundle.pem"\ncmd = "${process.execPath}"\ncmd_args = "${join(dir, "counter.mjs")} ${counter}"\nrenew_signal = "SIGHUP"\n`,
    );
    const h = startHelper(["-config", path]);
    try {
      await until("the command to start", () => readCount(counter) === 0);
      const pid = Number(/"msg":"started cmd".*"pid":(\d+)/.exec(h.err())![1]);
      pids.push(pid);
      const firstCert = readFileSync(join(out, "svid.pem"), "utf8");

      state.setIdentities([await issueIdentity(own, { spiffeId: ME, selectors: [`unix:uid:${uid}`] })]);
      await until("SIGHUP after the rotation", () => readCount(counter) === 1);
      expect(readFileSync(join(out, "svid.pem"), "utf8")).not.toBe(firstCert);

      // The next CA is published before it signs anything: only the bundle changes.
      const next = await trustDomainMaterial("example.org");
      const cert = readFileSync(join(out, "svid.pem"), "utf8");
      state.setBundle({ ...own.bundle, x509Authorities: [...own.bundle.x509Authorities, ...next.bundle.x509Authorities] });
      await until("SIGHUP after the bundle change", () => readCount(counter) === 2);
      expect(readFileSync(join(out, "svid.pem"), "utf8")).toBe(cert);
      const cas = readFileSync(join(out, "svid_bundle.pem"), "utf8").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
      expect(cas.map((p) => new X509Certificate(p).fingerprint256)).toEqual([own.ca, next.ca].map((c) => new X509Certificate(new Uint8Array(c.rawData)).fingerprint256));

      // A change the helper's files do not show (touch) writes and signals nothing.
      state.touch();
      await new Promise((r) => setTimeout(r, 300));
      expect(readCount(counter)).toBe(2);
      expect(count(h.err(), /"msg":"started cmd"/)).toBe(1);
      expect(h.err()).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    } finally {
      state.setBundle(own.bundle);
      expect(await h.stop()).toBe(0);
    }
  });

  it("pid_file_name: the process named there is sent renew_signal after each update", async () => {
    const counter = join(dir, "pid-count");
    const child = spawn(process.execPath, [join(dir, "counter.mjs"), counter], { stdio: "ignore" });
    children.push(child);
    await until("the counter to start", () => readCount(counter) === 0);
    writeFileSync(join(dir, "server.pid"), `${child.pid}\n`);
    const h = startHelper(["-config", conf("pid.conf", `agent_address = "${sock}"\ncert_dir = "pid"\nsvid_file_name = "s.pem"\nsvid_key_file_name = "s.key"\nsvid_bundle_file_name = "b.pem"\npid_file_name = "server.pid"\nrenew_signal = "SIGHUP"\n`)]);
    try {
      await until("SIGHUP after the first write", () => readCount(counter) === 1);
      state.setIdentities([await issueIdentity(own, { spiffeId: ME, selectors: [`unix:uid:${uid}`] })]);
      await until("SIGHUP after the rotation", () => readCount(counter) === 2);
      expect(h.err()).toMatch(new RegExp(`"msg":"signalled pid_file_name's process".*"pid":${child.pid}`));
    } finally {
      expect(await h.stop()).toBe(0);
    }
  });

  it("a reader process polling the files never sees a partial PEM while the helper rewrites them 100 times", async () => {
    const out = join(dir, "atomic");
    const h = startHelper(["-config", conf("atomic.conf", `agent_address = "${sock}"\ncert_dir = "${out}"\nsvid_file_name = "svid.pem"\nsvid_key_file_name = "svid_key.pem"\nsvid_bundle_file_name = "svid_bundle.pem"\n`)]);
    const writes = () => count(h.err(), /"msg":"X\.509 certificates updated"/);
    let reader: ChildProcess | undefined;
    try {
      await until("the first write", () => writes() === 1);
      // A separate process (real concurrency) reads both files as fast as it can and checks each read.
      const script = `const fs = require("fs"), { X509Certificate, createPrivateKey } = require("crypto");
let reads = 0, bad = 0;
const check = () => { for (let i = 0; i < 50; i++) { try {
  const c = fs.readFileSync(process.argv[1] + "/svid.pem", "utf8"); new X509Certificate(c); if (!c.endsWith("-----END CERTIFICATE-----\\n")) bad++;
  createPrivateKey(fs.readFileSync(process.argv[1] + "/svid_key.pem", "utf8")); reads++;
} catch (e) { bad++; } } setImmediate(check); };
process.on("SIGTERM", () => { process.stdout.write(JSON.stringify({ reads, bad })); process.exit(0); });
check();`;
      reader = spawn(process.execPath, ["-e", script, out], { stdio: ["ignore", "pipe", "inherit"] });
      let report = "";
      reader.stdout!.on("data", (b: Buffer) => (report += b.toString()));
      const exited = new Promise((r) => reader!.once("exit", r));
      const identities = await Promise.all(Array.from({ length: 100 }, () => issueIdentity(own, { spiffeId: ME, selectors: [`unix:uid:${uid}`] })));
      for (const [i, identity] of identities.entries()) {
        state.setIdentities([identity]);
        await until(`write ${i + 2}`, () => writes() === i + 2);
      }
      reader.kill("SIGTERM");
      await exited;
      const { reads, bad } = JSON.parse(report) as { reads: number; bad: number };
      expect(writes()).toBe(101);
      expect(bad).toBe(0);
      expect(reads).toBeGreaterThan(100);
      expect(readdirSync(out).sort()).toEqual(["svid.pem", "svid_bundle.pem", "svid_key.pem"]);
    } finally {
      reader?.kill("SIGTERM");
      expect(await h.stop()).toBe(0);
    }
  }, 60_000);

  it("an agent not there yet: retried with back-off (1 s, 2 s, …), files written once it serves", async () => {
    const lateSock = join(dir, "late.sock");
    const out = join(dir, "late");
    const h = startHelper(["-config", conf("late.conf", `agent_address = "${lateSock}"\ncert_dir = "${out}"\nsvid_file_name = "s.pem"\nsvid_key_file_name = "s.key"\nsvid_bundle_file_name = "b.pem"\n`)]);
    let late: WorkloadApiServer | undefined;
    try {
      await until("two retries", () => count(h.err(), /FetchX509SVID: stream closed; retrying/) >= 2, 8000);
      const retries = h.err().split("\n").filter((l) => l.includes("retrying")).map((l) => (JSON.parse(l) as { retry_in_ms: number }).retry_in_ms);
      expect(retries.slice(0, 2)).toEqual([1000, 2000]);
      late = await startWorkloadApi({ socket: lateSock, state });
      await until("the files", () => existsSync(join(out, "s.key")), 10_000);
    } finally {
      expect(await h.stop()).toBe(0);
      await late?.close();
    }
  }, 30_000);
});
