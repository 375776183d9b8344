/**
 * Workload API latency (issue 10's benchmark): `startBenchServer` serves an in-memory state on a
 * socket; `runBenchClients` (run in another process, so clients and server do not share a thread)
 * opens 100 connections and measures, with all of them in flight at once,
 * - FetchX509SVID: request to first response (attestation + composing the full state), each round
 *   on a new stream;
 * - FetchJWTSVID: a unary call answered from the JWT-SVID cache.
 * No timing is asserted anywhere; scripts/bench-workload-api.mjs prints the figures.
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorkloadApi } from "../../src/agent/workload";
import { issueIdentity, MemoryAgentState, trustDomainMaterial } from "./agent-state";
import { securityHeader, workloadClient, type WorkloadClient } from "./workload-client";

export interface BenchServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), "signet-workload-bench-"));
  const own = await trustDomainMaterial("example.org");
  const state = new MemoryAgentState(own);
  const uid = process.getuid?.() ?? 0;
  const identities = [await issueIdentity(own, { spiffeId: "spiffe://example.org/bench", selectors: [`unix:uid:${uid}`] })];
  // Other workloads' entries the agent also holds (not the caller's), as on a busy node.
  for (let i = 0; i < 50; i++) identities.push(await issueIdentity(own, { spiffeId: `spiffe://example.org/other/${i}`, selectors: [`unix:uid:${100_000 + i}`] }));
  state.setIdentities(identities);
  const server = await startWorkloadApi({ socket: join(dir, "api.sock"), state });
  return {
    socketPath: server.socketPath,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LatencySummary {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function summary(ms: number[]): LatencySummary {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { samples: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99) };
}

function firstX509(client: WorkloadClient): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const call = client.FetchX509SVID!({}, securityHeader()) as grpc.ClientReadableStream<unknown>;
    call.once("data", () => {
      resolve(Number(process.hrtime.bigint() - start) / 1e6);
      call.cancel();
    });
    call.on("error", (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
  });
}

function jwt(client: WorkloadClient): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    client.FetchJWTSVID!({ audience: ["bench"] }, securityHeader(), (e: grpc.ServiceError | null) => (e ? reject(e) : resolve(Number(process.hrtime.bigint() - start) / 1e6)));
  });
}

export interface BenchClientsOptions {
  readonly clients?: number;
  readonly rounds?: number;
}

export interface BenchResult {
  readonly clients: number;
  /** All clients' requests in flight at once (a burst: the last waits for the 99 before it). */
  readonly x509: LatencySummary;
  readonly jwt: LatencySummary;
  /** The same connections, one request in flight at a time (service time without queueing). */
  readonly x509Serial: LatencySummary;
  readonly jwtSerial: LatencySummary;
}

export async function runBenchClients(socketPath: string, options: BenchClientsOptions = {}): Promise<BenchResult> {
  const n = options.clients ?? 100;
  const rounds = options.rounds ?? 30;
  // One connection per client (no shared subchannel), as 100 separate workloads would have.
  const clients = Array.from({ length: n }, () => workloadClient(socketPath, { "grpc.use_local_subchannel_pool": 1 }));
  try {
    // Warm-up: connections, the executable's hash, the JWT-SVID cache.
    for (let i = 0; i < 3; i++) await Promise.all(clients.map((c) => firstX509(c)));
    for (let i = 0; i < 3; i++) await Promise.all(clients.map((c) => jwt(c)));
    const x509: number[] = [];
    const jwts: number[] = [];
    for (let r = 0; r < rounds; r++) x509.push(...(await Promise.all(clients.map((c) => firstX509(c)))));
    for (let r = 0; r < rounds; r++) jwts.push(...(await Promise.all(clients.map((c) => jwt(c)))));
    const x509Serial: number[] = [];
    const jwtSerial: number[] = [];
    for (let r = 0; r < Math.max(1, Math.floor(rounds / 3)); r++) {
      for (const c of clients) x509Serial.push(await firstX509(c));
      for (const c of clients) jwtSerial.push(await jwt(c));
    }
    return { clients: n, x509: summary(x509), jwt: summary(jwts), x509Serial: summary(x509Serial), jwtSerial: summary(jwtSerial) };
  } finally {
    for (const c of clients) c.close();
  }
}
