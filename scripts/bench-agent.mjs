// signet-agent's figures for `npm run bench` (issue 10), called by scripts/bench.mjs with Signet's
// Worker running in Miniflare (`BENCH_ONLY=agent npm run bench` runs only these):
//
// - Workload API latency: scripts/bench-workload-api.mjs (100 workloads, open-loop, beside a bare
//   node:http2 gRPC responder);
// - entry created → SVID delivered: the real signet-agent (src/agent/signet-agent.ts, bundled here,
//   run as its own process with `--attestation join-token:…` against the Worker) while a workload of
//   this process holds a FetchX509SVID stream open; an entry for the workload's uid is created through
//   the admin API and the clock runs from the admin request until the stream delivers an answer naming
//   the new SPIFFE ID. The agent long-polls `POST /agent/v1/entries/sync` with `wait_ms`; the registry
//   answers waiters at its next committed write, and the agent signs the new entry's CSR in the same
//   round and pushes the new state to open streams. Trials are spaced by a random 0.3–1.5 s so they
//   land at any phase of the loop (its 1 s minimum between rounds included);
// - the agent's resident memory holding 1,000+ X.509-SVIDs (1,000 entries of other uids added): once
//   it has signed them all, process.memoryUsage() after two full GCs (a --require'd hook answering
//   SIGUSR2 in the agent process; the agent's code is unchanged) and the anonymous part of its RSS
//   (/proc/<pid>/smaps_rollup; the rest is the node binary's file-backed pages). BENCH_AGENT_NODE_OPTIONS
//   sets NODE_OPTIONS for the agent process (e.g. --max-semi-space-size=1 to see V8's young generation's share).
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { agentBuildOptions } from "./agent-bundle.mjs";
import { benchWorkloadApi, buildWorkloadBench } from "./bench-workload-api.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Built as scripts/build-cli.mjs builds it (scripts/agent-bundle.mjs: split, so `run` loads no gRPC library).
const agentDir = join(root, "dist", "bench", "agent");
const agentBundle = join(agentDir, "signet-agent.mjs");
const TRIALS = Number(process.env.BENCH_AGENT_TRIALS ?? 20);
const CACHED_SVIDS = 1000;
const RSS_LIMIT_MB = 80;
const DELIVERY_LIMIT_MS = 1000;

const print = (name, value, unit, limit) => {
  const round = (x) => (x === null ? null : Math.round(x * 100) / 100);
  console.log(JSON.stringify({ name, value: round(value), unit, limit: round(limit), ratio: limit === null ? null : round(value / limit) }));
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** The real agent as a process; resolves once its Workload API listens, with its SPIFFE ID. */
async function startAgent(signetUrl, token, socketPath) {
  // A measuring hook, not agent code: on SIGUSR2 a full GC, then process.memoryUsage() as a log line.
  const hook = join(dirname(socketPath), "memory-hook.cjs");
  writeFileSync(hook, `process.on("SIGUSR2", () => { globalThis.gc(); globalThis.gc(); process.stderr.write(JSON.stringify({ msg: "bench memory", ...process.memoryUsage() }) + "\\n"); });\n`);
  const child = spawn(process.execPath, ["--expose-gc", "--require", hook, agentBundle, "run", "--server", signetUrl, "--socket", `unix://${socketPath}`, "--attestation", `join-token:${token}`, "--log-level", "info"], { stdio: ["ignore", "inherit", "pipe"], env: { ...process.env, ...(process.env.BENCH_AGENT_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_AGENT_NODE_OPTIONS } : {}) } });
  const listeners = new Set();
  let spiffeId;
  createInterface({ input: child.stderr }).on("line", (text) => {
    let entry;
    try {
      entry = JSON.parse(text);
    } catch {
      process.stderr.write(`${text}\n`);
      return;
    }
    if (entry.msg === "attested") spiffeId = entry.spiffe_id;
    if (entry.level === "warn" || entry.level === "error") process.stderr.write(`agent: ${text}\n`);
    for (const l of listeners) l(entry);
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  /** The first log entry passing `test` after now. */
  const waitFor = (test, what, ms = 30_000) =>
    new Promise((resolve, reject) => {
      let settled = false;
      const finish = (e, v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        listeners.delete(l);
        if (e) reject(e);
        else resolve(v);
      };
      const timer = setTimeout(() => finish(new Error(`signet-agent: no ${what} within ${ms} ms`)), ms);
      const l = (entry) => test(entry) && finish(undefined, entry);
      listeners.add(l);
      exited.then(() => finish(new Error(`signet-agent exited before ${what}`)));
    });
  await waitFor((e) => e.msg === "workload api listening", "listening Workload API");
  return {
    child,
    spiffeId,
    waitFor,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** VmRSS and VmHWM of a process as it is, and its process.memoryUsage() after a full GC; MB. */
async function memoryOf(agent) {
  const status = readFileSync(`/proc/${agent.child.pid}/status`, "utf8");
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const measured = agent.waitFor((e) => e.msg === "bench memory", "memory report");
  agent.child.kill("SIGUSR2");
  const m = await measured;
  const mb = (b) => b / 1024 / 1024;
  const rollup = readFileSync(`/proc/${agent.child.pid}/smaps_rollup`, "utf8");
  const kbOf = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN) / 1024;
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024, gcRssMb: mb(m.rss), heapTotalMb: mb(m.heapTotal), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers), anonMb: kbOf("Anonymous"), fileMb: kbOf("Rss") - kbOf("Anonymous") };
}

/**
 * Prints the agent's lines. `send(path, init)` reaches Signet's Worker, `signetUrl` is its address,
 * `adminToken` its admin bearer token.
 */
export async function benchAgent({ send, signetUrl, adminToken }) {
  // BENCH_WORKLOAD_API=0 leaves the Workload API latency out (a quicker look at the rest).
  if (process.env.BENCH_WORKLOAD_API !== "0") for (const l of await benchWorkloadApi()) console.log(JSON.stringify(l));

  await Promise.all([
    build({ ...agentBuildOptions(agentDir), absWorkingDir: root, sourcemap: false }),
    buildWorkloadBench(),
  ]);
  const bench = await import(pathToFileURL(join(root, "dist", "bench", "workload-bench.mjs")).href);
  const admin = async (path, body) => {
    const res = await send(path, { method: "POST", headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200 && res.status !== 201) throw new Error(`${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  const createEntries = async (entries) => {
    const r = await admin("/admin/v1/entries", { entries });
    for (const x of r.results) if (x.status !== "created") throw new Error(`create entry: ${JSON.stringify(x).slice(0, 300)}`);
  };

  const dir = mkdtempSync(join(tmpdir(), "signet-bench-agent-"));
  const run = Math.floor(Math.random() * 1e9).toString(36);
  const uid = process.getuid();
  const { token } = await admin("/admin/v1/join-tokens", { ttl: 3600 });
  const agent = await startAgent(new URL(signetUrl).origin, token, join(dir, "agent.sock"));
  let watch;
  try {
    if (!agent.spiffeId) throw new Error("signet-agent did not log its SPIFFE ID");
    const mine = (name) => ({ spiffe_id: `spiffe://example.org/bench-agent/${run}/${name}`, parent_id: agent.spiffeId, selectors: [{ type: "unix", value: `uid:${uid}` }] });

    // The workload's stream needs an identity to stay open: a first entry, then the stream.
    await createEntries([mine("base")]);
    let latest = [];
    let waiter;
    const answered = (id) =>
      latest.includes(id)
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no answer with ${id} within 15 s`)), 15_000);
            waiter = (ids) => ids.includes(id) && (clearTimeout(timer), (waiter = undefined), resolve());
          });
    for (let attempt = 0; ; attempt++) {
      let ended;
      watch = bench.watchX509Svids(join(dir, "agent.sock"), (ids) => ((latest = ids), waiter?.(ids)), (why) => (ended = why));
      const base = mine("base").spiffe_id;
      const got = await Promise.race([answered(base).then(() => true), sleep(1000).then(() => false)]);
      if (got) break;
      // The agent answers UNAVAILABLE until its first sync, PERMISSION_DENIED until the base SVID is signed.
      watch.close();
      if (attempt > 30) throw new Error(`the workload got no SVID: ${ended}`);
    }

    const delivered = [];
    const creates = [];
    for (let i = 0; i < TRIALS; i++) {
      await sleep(300 + Math.random() * 1200);
      const entry = mine(`t${i}`);
      const t0 = performance.now();
      const seen = answered(entry.spiffe_id);
      await createEntries([entry]);
      creates.push(performance.now() - t0);
      await seen;
      delivered.push(performance.now() - t0);
    }
    print("admin_entry_create_p50", quantile(creates, 0.5), "ms", null);
    print(`entry_created_to_svid_delivered_p50_${TRIALS}_trials`, quantile(delivered, 0.5), "ms", DELIVERY_LIMIT_MS);
    print(`entry_created_to_svid_delivered_p99_${TRIALS}_trials`, quantile(delivered, 0.99), "ms", DELIVERY_LIMIT_MS);

    const before = await memoryOf(agent);
    const held = 1 + TRIALS + CACHED_SVIDS;
    const allSigned = agent.waitFor((e) => e.msg === "X.509-SVIDs signed" && e.held >= held, `${held} SVIDs held`, 120_000);
    for (let done = 0; done < CACHED_SVIDS; done += 500) {
      await createEntries(Array.from({ length: Math.min(500, CACHED_SVIDS - done) }, (_, i) => ({ spiffe_id: `spiffe://example.org/bench-agent/${run}/m${done + i}`, parent_id: agent.spiffeId, selectors: [{ type: "unix", value: `uid:${2_000_000 + done + i}` }] })));
    }
    await allSigned;
    await sleep(3000);
    const after = await memoryOf(agent);
    if (process.env.BENCH_CPU) console.error(`agent memory: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
    print(`agent_rss_after_gc_${1 + TRIALS}_svids`, before.gcRssMb, "MB", null);
    print(`agent_rss_after_gc_${held}_svids`, after.gcRssMb, "MB", RSS_LIMIT_MB);
    // Of that RSS: anonymous memory (V8 heap, malloc) vs the node binary's mapped pages (shared, file-backed).
    print(`agent_anonymous_memory_after_gc_${held}_svids`, after.anonMb, "MB", RSS_LIMIT_MB);
    print(`agent_js_heap_used_after_gc_${held}_svids`, after.heapUsedMb, "MB", null);
    print(`agent_peak_rss_${held}_svids`, after.peakMb, "MB", null);
  } finally {
    watch?.close();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
