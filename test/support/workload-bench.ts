/**
 * Workload API latency (issue 10's benchmark). `startBenchServer` runs, in one process, the real
 * Workload API (startWorkloadApi over the agent's own AgentCache holding 100 workload entries, one of
 * them the caller's) and the floor it is compared with: a bare gRPC responder on node:http2 (what the
 * Workload API's server is built on) over the same kind of unix socket, accepted the same way (our
 * net.Server reading the peer's credentials and handing the socket to node:http2), answering bytes of
 * the same sizes, framed the same way, without attestation or composition. `runBenchClients` (another process, so clients
 * and server do not share a thread) opens 100 connections to each and drives them open-loop: requests
 * are sent at a fixed total rate spread round-robin over the 100 connections, whether or not earlier
 * ones have been answered, so the figure is the server's latency at that load, not a queue the bench
 * built itself. Latency runs from the send to the first response message. Phases are interleaved
 * (floor unary, FetchJWTSVID, floor stream, FetchX509SVID) and repeated; the caller keeps the best
 * round of each. No timing is asserted anywhere; scripts/bench-workload-api.mjs prints the figures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import type { ClientHttp2Session } from "node:http2";
import { connect as netConnect, createServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../../src/lib/clock";
import { ok } from "../../src/lib/result";
import type { SpiffeId } from "../../src/lib/spiffe/id";
import { signJwtSvid } from "../../src/lib/spiffe/jwt-svid";
import { bundleSetFromAuthorities } from "../../src/agent/bundles";
import { AgentCache } from "../../src/agent/cache";
import type { WireEntry } from "../../src/agent/wire";
import { startWorkloadApi } from "../../src/agent/workload";
import { decodeString, readFields } from "../../src/agent/workload/protobuf";
import { peerCredentials, socketFd } from "../../src/agent/workload/peer-credentials";
import { issueIdentity, trustDomainMaterial, type TrustDomainMaterial } from "./agent-state";

export interface BenchServer {
  readonly socketPath: string;
  readonly floorPath: string;
  close(): Promise<void>;
}

const TD = "example.org";

function wireEntry(id: string, spiffeId: string, selectors: readonly string[]): WireEntry {
  return {
    id,
    spiffe_id: spiffeId,
    parent_id: `spiffe://${TD}/signet/agent/bench`,
    selectors: selectors.map((s) => ({ type: s.slice(0, s.indexOf(":")), value: s.slice(s.indexOf(":") + 1) })),
    x509_svid_ttl: 3600,
    jwt_svid_ttl: 300,
    federates_with: [],
    dns_names: [],
    admin: false,
    downstream: false,
    hint: "",
    expires_at: 0,
    revision_number: 0,
    created_at: 1_700_000_000 + Number(id.replace(/\D/g, "") || 0),
  };
}

/**
 * The agent's cache as the sync loop leaves it: one workload entry per selector set (entry `e<i>`,
 * SPIFFE ID `spiffe://example.org/w/<i>` unless named), each with a real X.509-SVID; JWT-SVIDs minted
 * with the trust domain's key.
 */
export async function agentCacheWith(own: TrustDomainMaterial, entries: readonly { readonly selectors: readonly string[]; readonly spiffeId?: string }[]): Promise<AgentCache> {
  const cache: AgentCache = new AgentCache({
    trustDomain: TD,
    clock: systemClock,
    mintJwtSvid: async (entryId, audience) => {
      const e: WireEntry = cache.workloadEntries().find((w) => w.id === entryId)!;
      const iat = Math.floor(Date.now() / 1000);
      const token = await signJwtSvid(own.jwtKey.privateKey, "ES256", own.kid, { spiffeId: e.spiffe_id as SpiffeId, audience, issuedAt: iat, expiresAt: iat + 300 });
      return ok({ spiffe_id: e.spiffe_id, token, expires_at: iat + 300 });
    },
  });
  const set = bundleSetFromAuthorities(TD, own.bundle.x509Authorities);
  cache.setBundles({ ...set, bundles: new Map([[TD, own.bundle]]) });
  const wire = entries.map((e, i) => wireEntry(`e${i}`, e.spiffeId ?? `spiffe://${TD}/w/${i}`, e.selectors));
  cache.applyEntries(wire, []);
  for (const e of wire) await putSvidFor(own, cache, e.id);
  cache.markReady();
  cache.flush();
  return cache;
}

/** Issues and stores a fresh X.509-SVID for an entry the cache holds. */
export async function putSvidFor(own: TrustDomainMaterial, cache: AgentCache, entryId: string): Promise<void> {
  const e = cache.workloadEntries().find((w) => w.id === entryId)!;
  const id = await issueIdentity(own, { spiffeId: e.spiffe_id, selectors: [] });
  const now = Date.now();
  cache.putSvid({ entryId, chain: id.chain, privateKeyPkcs8: id.privateKeyPkcs8, notBefore: now - 10_000, notAfter: id.expiresAt, rotateAt: now + 1_800_000, issuedFor: "", authority: undefined });
}

export { wireEntry };

/** The benchmark's node: the caller's entry and `entries - 1` entries of other uids. */
export function benchCache(own: TrustDomainMaterial, entries: number, callerSelectors: readonly string[]): Promise<AgentCache> {
  return agentCacheWith(
    own,
    Array.from({ length: entries }, (_, i) => (i === 0 ? { selectors: callerSelectors, spiffeId: `spiffe://${TD}/bench` } : { selectors: [`unix:uid:${100_000 + i}`] })),
  );
}

const FLOOR_SERVICE = {
  Unary: { path: "/signet.bench.Floor/Unary" },
  Stream: { path: "/signet.bench.Floor/Stream" },
} as const;

/**
 * The floor: a bare gRPC responder on node:http2, what the Workload API's server is built on. Sockets
 * are accepted as the Workload API accepts them (our net.Server reads SO_PEERCRED and hands the socket
 * to an http2 server); each call reads its one length-prefixed request off the stream, answers `size`
 * bytes (the request's uint32) framed the same way with the same response headers and trailers, and
 * nothing else: no method table, metadata check, deadline, attestation or composition.
 */
async function startFloor(path: string): Promise<{ close(): Promise<void> }> {
  const answers = new Map<number, Buffer>();
  const answer = (req: Buffer) => {
    const size = req.length >= 9 ? req.readUInt32BE(5) : 0;
    let b = answers.get(size);
    if (!b) {
      b = Buffer.alloc(5 + size, 7);
      b[0] = 0;
      b.writeUInt32BE(size, 1);
      answers.set(size, b);
    }
    return b;
  };
  const h2 = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("error", () => undefined);
    s.once("close", () => sessions.delete(s));
  });
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on("error", () => undefined);
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.once("end", () => {
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto", "grpc-accept-encoding": "identity,deflate,gzip", "grpc-encoding": "identity" }, { waitForTrailers: true });
      stream.write(answer(Buffer.concat(chunks)));
      if (headers[":path"] === FLOOR_SERVICE.Unary.path) {
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end();
      }
    });
  });
  const sockets = new Set<Socket>();
  const net: NetServer = createServer((s) => {
    const fd = socketFd(s);
    try {
      if (fd === undefined) throw new Error("no fd");
      peerCredentials(fd);
    } catch {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    h2.emit("connection", s);
  });
  await new Promise<void>((resolve, reject) => net.once("error", reject).listen(path, resolve));
  return {
    async close() {
      const closed = new Promise<void>((r) => net.close(() => r()));
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

export async function startBenchServer(entries = 100): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), "signet-workload-bench-"));
  const own = await trustDomainMaterial(TD);
  const cache = await benchCache(own, entries, [`unix:uid:${process.getuid?.() ?? 0}`]);
  const server = await startWorkloadApi({ socket: join(dir, "api.sock"), state: cache });
  const floorPath = join(dir, "floor.sock");
  const floor = await startFloor(floorPath);
  return {
    socketPath: server.socketPath,
    floorPath,
    async close() {
      await server.close();
      await floor.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LatencySummary {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Requests per second actually sent (total over the phase's duration). */
  readonly rate: number;
}

function summary(ms: number[], seconds: number): LatencySummary {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { samples: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), rate: sorted.length / seconds };
}

/**
 * The clients speak gRPC over node:http2 directly (a request's headers, one length-prefixed message,
 * the first answer message read off the stream): much less client CPU per call than grpc-js's own
 * client, on a machine whose two cores the clients share with the server. Every answer's gRPC status
 * is checked (trailers, or a trailers-only answer).
 */
type Conn = ClientHttp2Session;
const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
type Call = (conn: Conn) => Promise<number>;

function connectTo(path: string): Conn {
  const session = http2.connect("http://localhost", { createConnection: () => netConnect(path) });
  session.on("error", () => undefined);
  return session;
}

function framed(message: Buffer): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b.writeUInt32BE(message.length, 1);
  message.copy(b, 5);
  return b;
}

/** ms from the send to the first complete answer message; a stream is then cancelled. */
function rpc(path: string, request: Buffer, stream: boolean, onMessage?: (m: Buffer) => void): Call {
  const body = framed(request);
  const headers = { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", "workload.spiffe.io": "true" };
  return (conn) =>
    new Promise((resolve, reject) => {
      const start = process.hrtime.bigint();
      const req = conn.request(headers);
      let chunks: Buffer[] = [];
      let have = 0;
      let ms: number | undefined;
      const status = (h: http2.IncomingHttpHeaders) => {
        const code = h["grpc-status"];
        if (code !== undefined && code !== "0") reject(new Error(`${path}: grpc-status ${String(code)} ${String(h["grpc-message"] ?? "")}`));
      };
      req.on("response", status);
      req.on("trailers", (h) => {
        status(h);
        if (ms !== undefined) resolve(ms);
      });
      req.on("data", (chunk: Buffer) => {
        if (ms !== undefined) return;
        chunks.push(chunk);
        have += chunk.length;
        if (have < 5) return;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        chunks = [all];
        const len = all.readUInt32BE(1);
        if (have < 5 + len) return;
        const took = elapsedMs(start);
        ms = took;
        onMessage?.(all.subarray(5, 5 + len));
        if (stream) {
          req.close(http2.constants.NGHTTP2_CANCEL);
          resolve(took);
        }
      });
      req.on("error", reject);
      req.on("close", () => {
        if (ms === undefined) reject(new Error(`${path}: closed without an answer`));
      });
      req.end(body);
    });
}

/** The size of a real answer (the floor answers as many bytes). */
async function sizeOf(conn: Conn, path: string, request: Buffer, stream: boolean): Promise<number> {
  let size = 0;
  await rpc(path, request, stream, (m) => (size = m.length))(conn);
  return size;
}

/**
 * `rate` requests per second for `seconds`, request i on connection i mod n, each sent when due
 * (a 1 ms timer tick) without waiting for earlier answers. Rejects on any failed call.
 */
async function openLoop(clients: readonly Conn[], call: Call, rate: number, seconds: number): Promise<LatencySummary> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) {
        const client = clients[sent % clients.length]!;
        sent++;
        pending.push(call(client).then((ms) => void latencies.push(ms)));
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const sendSeconds = (performance.now() - start) / 1000;
  await Promise.all(pending);
  return summary(latencies, Math.max(sendSeconds, seconds * ((total - 1) / total)));
}

export interface BenchClientsOptions {
  readonly clients?: number;
  /** Requests per second over all connections (default 1,000: 10 a second per workload). */
  readonly rate?: number;
  readonly seconds?: number;
  readonly rounds?: number;
}

export interface PhaseResult {
  /** The round with the lowest p99. */
  readonly best: LatencySummary;
  readonly rounds: readonly LatencySummary[];
}

export interface BenchResult {
  readonly clients: number;
  readonly rate: number;
  readonly x509: PhaseResult;
  readonly jwt: PhaseResult;
  readonly floorStream: PhaseResult;
  readonly floorUnary: PhaseResult;
  readonly x509Bytes: number;
  readonly jwtBytes: number;
}

const X509_PATH = "/SpiffeWorkloadAPI/FetchX509SVID";
const JWT_PATH = "/SpiffeWorkloadAPI/FetchJWTSVID";
/** JWTSVIDRequest { audience: ["bench"] }. */
const JWT_REQUEST = Buffer.from([0x0a, 5, ...Buffer.from("bench")]);

export async function runBenchClients(socketPath: string, floorPath: string, options: BenchClientsOptions = {}): Promise<BenchResult> {
  const n = options.clients ?? 100;
  const rate = options.rate ?? 1000;
  const seconds = options.seconds ?? 1.5;
  const rounds = options.rounds ?? 5;
  // One connection per workload, as 100 separate processes would have.
  const api = Array.from({ length: n }, () => connectTo(socketPath));
  const floor = Array.from({ length: n }, () => connectTo(floorPath));
  try {
    const x509Bytes = await sizeOf(api[0]!, X509_PATH, Buffer.alloc(0), true);
    const jwtBytes = await sizeOf(api[0]!, JWT_PATH, JWT_REQUEST, false);
    const size = (b: number) => {
      const r = Buffer.alloc(4);
      r.writeUInt32BE(b);
      return r;
    };
    const phases = {
      floorUnary: { clients: floor, call: rpc(FLOOR_SERVICE.Unary.path, size(jwtBytes), false) },
      jwt: { clients: api, call: rpc(JWT_PATH, JWT_REQUEST, false) },
      floorStream: { clients: floor, call: rpc(FLOOR_SERVICE.Stream.path, size(x509Bytes), true) },
      x509: { clients: api, call: rpc(X509_PATH, Buffer.alloc(0), true) },
    };
    // Warm-up: every connection, the executable's hash, the JWT-SVID cache, the JIT.
    for (const p of Object.values(phases)) {
      for (let i = 0; i < 3; i++) await Promise.all(p.clients.map((c) => p.call(c)));
      await openLoop(p.clients, p.call, rate, 0.5);
    }
    const results = Object.fromEntries(Object.keys(phases).map((k) => [k, [] as LatencySummary[]])) as Record<keyof typeof phases, LatencySummary[]>;
    for (let r = 0; r < rounds; r++) {
      for (const [k, p] of Object.entries(phases) as [keyof typeof phases, (typeof phases)[keyof typeof phases]][]) results[k].push(await openLoop(p.clients, p.call, rate, seconds));
    }
    const best = (rs: LatencySummary[]): PhaseResult => ({ best: rs.reduce((a, b) => (b.p99Ms < a.p99Ms ? b : a)), rounds: rs });
    return { clients: n, rate, x509: best(results.x509), jwt: best(results.jwt), floorStream: best(results.floorStream), floorUnary: best(results.floorUnary), x509Bytes, jwtBytes };
  } finally {
    for (const c of [...api, ...floor]) c.close();
  }
}

/**
 * A workload holding a FetchX509SVID stream open (raw HTTP/2, as the latency clients above): calls
 * `onAnswer` with the SPIFFE IDs of every answer the agent sends, the moment its last byte arrives.
 */
export function watchX509Svids(socketPath: string, onAnswer: (spiffeIds: string[]) => void, onEnd: (why: string) => void): { close(): void } {
  const conn = connectTo(socketPath);
  const req = conn.request({ ":method": "POST", ":path": X509_PATH, "content-type": "application/grpc", te: "trailers", "workload.spiffe.io": "true" });
  let pending: Buffer = Buffer.alloc(0);
  req.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const message = pending.subarray(5, 5 + pending.readUInt32BE(1));
      pending = pending.subarray(5 + message.length);
      onAnswer(readFields(message).filter((f) => f.field === 1).map((svid) => decodeString(readFields(svid.bytes!).find((f) => f.field === 1)!)));
    }
  });
  req.on("response", (h) => h["grpc-status"] !== undefined && onEnd(`grpc-status ${String(h["grpc-status"])} ${String(h["grpc-message"] ?? "")}`));
  req.on("trailers", (h) => onEnd(`grpc-status ${String(h["grpc-status"])} ${String(h["grpc-message"] ?? "")}`));
  req.on("error", (e) => onEnd(e.message));
  req.end(framed(Buffer.alloc(0)));
  return {
    close() {
      req.close(http2.constants.NGHTTP2_CANCEL);
      conn.close();
    },
  };
}
