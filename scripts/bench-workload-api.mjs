#!/usr/bin/env node
// Workload API latency for `npm run bench` (issue 10): p50/p99 of FetchX509SVID's first response and
// of FetchJWTSVID answered from the cache, 100 clients (100 connections) in flight at once, the
// clients in a child process so they do not share the server's thread. Prints one JSON line per
// figure in bench.mjs's shape: {"name","value","unit","limit","ratio"} (limit: p99 ≤ 2 ms). Also
// p99 with the same 100 connections open but one request in flight at a time (no queueing).
//
//   node scripts/bench-workload-api.mjs            # or: import { benchWorkloadApi } from it
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "dist", "bench", "workload-bench.mjs");
const P99_LIMIT_MS = 2;

async function load() {
  await build({ entryPoints: [join(root, "test", "support", "workload-bench.ts")], outfile: bundle, bundle: true, format: "esm", platform: "node", target: "node20", packages: "external", logLevel: "warning" });
  return import(pathToFileURL(bundle).href);
}

/** Runs the benchmark; resolves to the JSON lines' objects. */
export async function benchWorkloadApi({ clients = 100, rounds = 30 } = {}) {
  const mod = await load();
  const server = await mod.startBenchServer();
  const cpu = process.cpuUsage();
  try {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--clients-of", server.socketPath, String(clients), String(rounds)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`bench clients exited ${code}`);
    const r = JSON.parse(out);
    const used = process.cpuUsage(cpu);
    if (process.env.BENCH_CPU) console.error(`server cpu ${((used.user + used.system) / 1000).toFixed(0)} ms, clients cpu ${r.cpuMs} ms`);
    const round = (x) => Math.round(x * 1000) / 1000;
    const line = (name, value, limit) => ({ name, value: round(value), unit: "ms", limit, ratio: limit === null ? null : round(value / limit) });
    return [
      line(`workload_api_fetch_x509svid_first_response_p50_${r.clients}_clients`, r.x509.p50Ms, null),
      line(`workload_api_fetch_x509svid_first_response_p99_${r.clients}_clients`, r.x509.p99Ms, P99_LIMIT_MS),
      line(`workload_api_fetch_jwtsvid_cached_p50_${r.clients}_clients`, r.jwt.p50Ms, null),
      line(`workload_api_fetch_jwtsvid_cached_p99_${r.clients}_clients`, r.jwt.p99Ms, P99_LIMIT_MS),
      line(`workload_api_fetch_x509svid_first_response_p99_${r.clients}_connections_one_in_flight`, r.x509Serial.p99Ms, P99_LIMIT_MS),
      line(`workload_api_fetch_jwtsvid_cached_p99_${r.clients}_connections_one_in_flight`, r.jwtSerial.p99Ms, P99_LIMIT_MS),
    ];
  } finally {
    await server.close();
  }
}

if (process.argv[2] === "--clients-of") {
  const mod = await import(pathToFileURL(bundle).href);
  const r = await mod.runBenchClients(process.argv[3], { clients: Number(process.argv[4]), rounds: Number(process.argv[5]) });
  const used = process.cpuUsage();
  process.stdout.write(JSON.stringify({ ...r, cpuMs: Math.round((used.user + used.system) / 1000) }));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const l of await benchWorkloadApi()) console.log(JSON.stringify(l));
}
