/**
 * The SPIFFE Workload API server: gRPC over plain HTTP/2 (no TLS, as the Workload Endpoint standard
 * requires; grpc-server.ts on node:http2, no gRPC library) over a unix socket this module owns. Each
 * connection is accepted by our own net.Server, which reads the kernel's peer credentials
 * (SO_PEERCRED) and the peer's start time from that very socket before any byte of it is read; a
 * connection whose caller cannot be named is closed at once. Every call of a connection carries the
 * credentials read at its accept (kept with its HTTP/2 session, never anything the caller sent), and
 * is then attested from /proc (unix-attestor.ts: in full on a connection's first call, later by
 * re-reading what could have changed since).
 *
 * Encoded X.509-SVID and bundle answers are kept per (method, caller selector set) while the state's
 * version stays the same (composition is a pure function of the two), so a hundred workloads of one
 * selector set share one encoding and a stream compares the very same bytes it sent.
 *
 * Every call must carry the metadata `workload.spiffe.io: true` (exactly one value; INVALID_ARGUMENT
 * otherwise). Streams send the full state at once and again whenever the state changes into something
 * other than what was last sent; a caller that loses its last identity gets PERMISSION_DENIED and the
 * stream ends (clients reconnect with back-off). A stream whose reader is slow holds back while its
 * buffer is full and then sends the state of that moment (each message is the full state), so it
 * never queues more than one answer.
 */
import { createServer, type Socket } from "node:net";
import type { IncomingHttpHeaders } from "node:http2";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import type { AgentState } from "../state";
import { GrpcServer, type GrpcCall, type GrpcMethod } from "./grpc-server";
import { Status, type StatusCode } from "./grpc-status";
import {
  checkJwtSvidRequest,
  checkValidateRequest,
  jwtBundlesResponse,
  jwtSvidResponse,
  NO_IDENTITY,
  requireReady,
  validateJwtSvidResponse,
  WorkloadApiError,
  x509BundlesResponse,
  x509SvidResponse,
} from "./handlers";
import type { JwtSvidRequest, ValidateJwtSvidRequest } from "./messages";
import { peerCredentials, socketFd } from "./peer-credentials";
import { WORKLOAD_API_SERVICE, type WorkloadApiMethod } from "./service";
import { listenOnSocket, removeSocket, socketPathFrom } from "./socket";
import { UnixAttestor, type AttestationFailure, type CallerProcess } from "./unix-attestor";
import { BoundedCache } from "../../lib/bounded-cache";
import type { Result } from "../../lib/result";

export const SECURITY_HEADER = "workload.spiffe.io";

/** What the server needs of workload attestation (UnixAttestor in production). */
export interface WorkloadAttestor {
  /** /proc/<pid>/stat field 22 now; undefined when the process is gone. */
  startTime(pid: number): string | undefined;
  attest(caller: CallerProcess): Promise<Result<string[], AttestationFailure>>;
  /** The connection of `caller` has closed: whatever was kept for it can go. */
  release?(caller: CallerProcess): void;
}

export interface WorkloadApiServerOptions {
  /** `unix:///abs/path` or an absolute path. */
  readonly socket: string;
  readonly state: AgentState;
  readonly logger?: Logger;
  readonly attestor?: WorkloadAttestor;
  /** Milliseconds since the epoch, for ValidateJWTSVID. */
  readonly now?: () => number;
}

export interface WorkloadApiServer {
  /** The socket's absolute path. */
  readonly socketPath: string;
  /** Stops accepting, ends every connection and removes the socket file. */
  close(): Promise<void>;
}

/** The largest request message (RESOURCE_EXHAUSTED above it); Workload API requests are tiny. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Distinct (method, selector set) answers kept; a node has few selector sets. */
const MAX_CACHED_ANSWERS = 512;

/** Encoded answers per (method, selector set), valid for one state version. */
export class AnswerCache {
  readonly #answers = new BoundedCache<{ readonly version: number; readonly bytes: Buffer }>(MAX_CACHED_ANSWERS);
  readonly #keys = new WeakMap<readonly string[], string>();

  constructor(readonly state: AgentState) {}

  /** `compose(selectors)`, or its earlier result while the state's version is unchanged. Errors are not kept. */
  get(method: string, selectors: readonly string[], compose: (selectors: readonly string[]) => Buffer): Buffer {
    const version = this.state.version?.();
    if (version === undefined) return compose(selectors);
    let sk = this.#keys.get(selectors);
    if (sk === undefined) this.#keys.set(selectors, (sk = JSON.stringify(selectors)));
    const key = `${method} ${sk}`;
    const hit = this.#answers.get(key);
    if (hit?.version === version) return hit.bytes;
    const bytes = compose(selectors);
    this.#answers.set(key, { version, bytes });
    return bytes;
  }
}

/**
 * The metadata's values of the security header, as gRPC reads them: node:http2 joins a repeated
 * header with ", ", and gRPC splits a value on commas and trims each part.
 */
function metadataValues(headers: IncomingHttpHeaders, key: string): string[] {
  const v = headers[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(",").map((p) => p.trim()));
}

function checkSecurityHeader(headers: IncomingHttpHeaders): void {
  const values = metadataValues(headers, SECURITY_HEADER);
  if (values.length !== 1 || values[0] !== "true") throw new WorkloadApiError(Status.INVALID_ARGUMENT, "security header missing from request");
}

function toStatus(e: unknown, logger: Logger, method: string): { code: StatusCode; details: string } {
  if (e instanceof WorkloadApiError) return { code: e.code, details: e.details };
  logger.error("workload api: internal error", { method, error: e instanceof Error ? e.message : String(e) });
  return { code: Status.INTERNAL, details: "internal error" };
}

/** Starts serving the Workload API on `options.socket`; rejects when the socket path cannot be used. */
export async function startWorkloadApi(options: WorkloadApiServerOptions): Promise<WorkloadApiServer> {
  const socketPath = socketPathFrom(options.socket);
  const { state } = options;
  const logger = options.logger ?? silentLogger;
  const attestor = options.attestor ?? new UnixAttestor();
  const now = options.now ?? (() => Date.now());

  const sockets = new Set<Socket>();
  const unsubscribes = new Set<() => void>();

  async function attestCall(caller: CallerProcess, method: string): Promise<string[]> {
    const r = await attestor.attest(caller);
    if (r.ok) return r.value;
    logger.warn("workload api: workload attestation failed", { method, pid: caller.pid, uid: caller.uid, reason: r.error.reason, detail: r.error.detail });
    if (r.error.reason === "proc_unreadable") throw new WorkloadApiError(Status.UNAVAILABLE, "workload attestation failed");
    throw new WorkloadApiError(Status.PERMISSION_DENIED, NO_IDENTITY);
  }

  function denied(method: string, caller: CallerProcess, e: unknown): void {
    if (e instanceof WorkloadApiError && e.code === Status.PERMISSION_DENIED) logger.info("workload api: no identity issued", { method, pid: caller.pid, uid: caller.uid });
  }

  function fail(call: GrpcCall<CallerProcess>, method: string, e: unknown): void {
    denied(method, call.context, e);
    const s = toStatus(e, logger, method);
    call.end(s.code, s.details);
  }

  function unary<Req>(method: WorkloadApiMethod, checks: (req: Req) => void, answer: (selectors: string[], req: Req) => Promise<Buffer>): GrpcMethod<CallerProcess> {
    return {
      responseStream: false,
      decode: WORKLOAD_API_SERVICE[method].decode,
      handle: (call, request) => {
        const req = request as Req;
        (async () => {
          checkSecurityHeader(call.metadata);
          checks(req);
          requireReady(state);
          return answer(await attestCall(call.context, method), req);
        })().then(
          (b) => {
            call.send(b);
            call.end(Status.OK);
          },
          (e: unknown) => fail(call, method, e),
        );
      },
    };
  }

  const answers = new AnswerCache(state);

  function watch(method: WorkloadApiMethod, compose: (selectors: readonly string[]) => Buffer): GrpcMethod<CallerProcess> {
    return {
      responseStream: true,
      decode: WORKLOAD_API_SERVICE[method].decode,
      handle: (call) => {
        let unsubscribe: (() => void) | undefined;
        const release = () => {
          if (unsubscribe) {
            unsubscribe();
            unsubscribes.delete(unsubscribe);
            unsubscribe = undefined;
          }
        };
        call.onEnd(release);
        const end = (e: unknown) => {
          if (call.ended) return;
          release();
          fail(call, method, e);
        };
        (async () => {
          checkSecurityHeader(call.metadata);
          requireReady(state);
          const selectors = await attestCall(call.context, method);
          if (call.ended) return;
          let last: Buffer | undefined;
          /** The stream's buffer is full: the next answer waits for its drain. */
          let blocked = false;
          const push = () => {
            if (call.ended) return;
            let next: Buffer;
            try {
              next = answers.get(method, selectors, compose);
            } catch (e) {
              end(e);
              return;
            }
            if (blocked || (last !== undefined && (last === next || last.equals(next)))) return;
            last = next;
            blocked = !call.send(next);
          };
          call.onDrain(() => {
            blocked = false;
            push();
          });
          unsubscribe = state.subscribe(push);
          unsubscribes.add(unsubscribe);
          push();
        })().catch(end);
      },
    };
  }

  const unimplemented = (method: WorkloadApiMethod, what: string): GrpcMethod<CallerProcess> => ({
    responseStream: true,
    decode: WORKLOAD_API_SERVICE[method].decode,
    handle: (call) => {
      try {
        checkSecurityHeader(call.metadata);
        call.end(Status.UNIMPLEMENTED, `${what} are not implemented`);
      } catch (e) {
        fail(call, method, e);
      }
    },
  });

  const implementation: Record<WorkloadApiMethod, GrpcMethod<CallerProcess>> = {
    FetchX509SVID: watch("FetchX509SVID", (s) => x509SvidResponse(state, s)),
    FetchX509Bundles: watch("FetchX509Bundles", (s) => x509BundlesResponse(state, s)),
    FetchJWTBundles: watch("FetchJWTBundles", (s) => jwtBundlesResponse(state, s)),
    FetchJWTSVID: unary<JwtSvidRequest>("FetchJWTSVID", checkJwtSvidRequest, (s, req) => jwtSvidResponse(state, s, req)),
    ValidateJWTSVID: unary<ValidateJwtSvidRequest>("ValidateJWTSVID", checkValidateRequest, (s, req) => validateJwtSvidResponse(state, s, req, now())),
    FetchWITSVID: unimplemented("FetchWITSVID", "WIT-SVIDs"),
    FetchWITBundles: unimplemented("FetchWITBundles", "WIT bundles"),
  };
  const methods = new Map(Object.entries(implementation).map(([name, m]) => [WORKLOAD_API_SERVICE[name as WorkloadApiMethod].path, m]));
  const grpc = new GrpcServer<CallerProcess>(methods, {
    maxRequestBytes: MAX_REQUEST_BYTES,
    onError: (path, e) => logger.error("workload api: internal error", { method: path, error: e instanceof Error ? e.message : String(e) }),
  });

  const netServer = createServer((socket) => {
    let caller: CallerProcess;
    try {
      const fd = socketFd(socket);
      if (fd === undefined) throw new Error("the accepted socket has no file descriptor");
      const creds = peerCredentials(fd);
      const startTime = attestor.startTime(creds.pid);
      if (startTime === undefined) throw new Error(`process ${creds.pid} exited before it could be attested`);
      caller = { ...creds, startTime };
    } catch (e) {
      logger.warn("workload api: connection refused: no peer credentials", { error: (e as Error).message });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      attestor.release?.(caller);
    });
    grpc.accept(socket, caller);
  });

  const ino = await listenOnSocket(netServer, socketPath);
  logger.info("workload api: listening", { socket: socketPath });

  return {
    socketPath,
    async close() {
      const closed = new Promise<void>((resolve) => netServer.close(() => resolve()));
      for (const u of unsubscribes) u();
      unsubscribes.clear();
      await grpc.close(Status.UNAVAILABLE, "the Workload API is shutting down");
      for (const s of sockets) s.destroy();
      await closed;
      removeSocket(socketPath, ino);
    },
  };
}
