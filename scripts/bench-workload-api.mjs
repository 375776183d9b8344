#!/usr/bin/env node
// Workload API latency for `npm run bench` (issue 10): p50/p99 of FetchX509SVID's first response and
// of FetchJWTSVID answered from the cache, 100 connected workloads driven open-loop at a fixed total
// rate (default 1,000 requests/s, 10 per workload), each figure beside the floor measured in the same
// run: a bare gRPC responder on node:http2 (what the Workload API's server is built on) over the same
// kind of unix socket, accepted the same way (peer credentials read), at the same rate and
// concurrency, answering as many bytes with the same framing (test/support/workload-bench.ts): the
// `http2_grpc_floor_unix_*` lines. Server and clients run in two child processes of
// their own. Prints one JSON line per figure: {"name","value","unit","limit","ratio"}.
//
//   node scripts/bench-workload-api.mjs     # or: import { benchWorkloadApi } from it
//   BENCH_CPU=1: also the CPU each side spent (stderr); BENCH_WORKLOAD_PROF=DIR: --cpu-prof of the server.
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "dist", "bench", "workload-bench.mjs");
const self = fileURLToPath(import.meta.url);

export async function buildWorkloadBench() {
  await build({ entryPoints: [join(root, "test", "support", "workload-bench.ts")], outfile: bundle, bundle: true, format: "esm", platform: "node", target: "node20", packages: "external", logLevel: "warning" });
}

function child(args, execArgv = []) {
  const p = spawn(process.execPath, [...execArgv, self, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolve) => p.on("close", resolve));
  return { p, exited };
}

/** Runs the benchmark; resolves to the JSON lines' objects. */
export async function benchWorkloadApi({ clients = 100, rate = 1000, seconds = 1.5, rounds = 5 } = {}) {
  await buildWorkloadBench();
  const prof = process.env.BENCH_WORKLOAD_PROF;
  // The server process runs with signet-agent's young-generation setting (src/agent/heap.ts).
  const server = child(["--serve"], ["--semi-space-growth-factor=1", ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : [])]);
  const lines = createInterface({ input: server.p.stdout });
  const ready = await new Promise((resolve, reject) => {
    lines.once("line", (l) => resolve(JSON.parse(l)));
    server.exited.then((code) => reject(new Error(`bench server exited ${code}`)));
  });
  let r;
  try {
    const clientsProc = child(["--clients-of", ready.socketPath, ready.floorPath, JSON.stringify({ clients, rate, seconds, rounds })]);
    let out = "";
    clientsProc.p.stdout.on("data", (d) => (out += d));
    const code = await clientsProc.exited;
    if (code !== 0) throw new Error(`bench clients exited ${code}`);
    r = JSON.parse(out);
  } finally {
    server.p.stdin.end();
  }
  const used = await new Promise((resolve) => lines.once("line", (l) => resolve(JSON.parse(l))));
  await server.exited;
  if (process.env.BENCH_CPU) console.error(`workload bench: server cpu ${used.cpuMs} ms, clients cpu ${r.cpuMs} ms; rounds (p99 ms): x509 ${r.x509.rounds.map((x) => x.p99Ms.toFixed(2))}, floor stream ${r.floorStream.rounds.map((x) => x.p99Ms.toFixed(2))}, jwt ${r.jwt.rounds.map((x) => x.p99Ms.toFixed(2))}, floor unary ${r.floorUnary.rounds.map((x) => x.p99Ms.toFixed(2))}`);
  const round = (x) => Math.round(x * 1000) / 1000;
  const line = (name, value, unit, limit) => ({ name, value: round(value), unit, limit: limit === null ? null : round(limit), ratio: limit === null ? null : round(value / limit) });
  const at = `${r.clients}_workloads_${r.rate}_per_s`;
  return [
    line(`http2_grpc_floor_unix_stream_first_response_p50_${at}`, r.floorStream.best.p50Ms, "ms", null),
    line(`http2_grpc_floor_unix_stream_first_response_p99_${at}`, r.floorStream.best.p99Ms, "ms", null),
    line(`workload_api_fetch_x509svid_first_response_p50_${at}`, r.x509.best.p50Ms, "ms", r.floorStream.best.p50Ms),
    line(`workload_api_fetch_x509svid_first_response_p99_${at}`, r.x509.best.p99Ms, "ms", r.floorStream.best.p99Ms),
    line(`http2_grpc_floor_unix_unary_p50_${at}`, r.floorUnary.best.p50Ms, "ms", null),
    line(`http2_grpc_floor_unix_unary_p99_${at}`, r.floorUnary.best.p99Ms, "ms", null),
    line(`workload_api_fetch_jwtsvid_cached_p50_${at}`, r.jwt.best.p50Ms, "ms", r.floorUnary.best.p50Ms),
    line(`workload_api_fetch_jwtsvid_cached_p99_${at}`, r.jwt.best.p99Ms, "ms", r.floorUnary.best.p99Ms),
  ];
}

if (process.argv[2] === "--serve") {
  // The server: prints its socket paths, serves until stdin closes, then prints the CPU it used.
  const mod = await import(pathToFileURL(bundle).href);
  const server = await mod.startBenchServer();
  const cpu = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ socketPath: server.socketPath, floorPath: server.floorPath })}\n`);
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once("end", resolve));
  const used = process.cpuUsage(cpu);
  await server.close();
  process.stdout.write(`${JSON.stringify({ cpuMs: Math.round((used.user + used.system) / 1000) })}\n`);
  process.exit(0);
} else if (process.argv[2] === "--clients-of") {
  const mod = await import(pathToFileURL(bundle).href);
  const r = await mod.runBenchClients(process.argv[3], process.argv[4], JSON.parse(process.argv[5]));
  const used = process.cpuUsage();
  process.stdout.write(JSON.stringify({ ...r, cpuMs: Math.round((used.user + used.system) / 1000) }));
} else if (process.argv[1] && self === process.argv[1]) {
  for (const l of await benchWorkloadApi()) console.log(JSON.stringify(l));
}
