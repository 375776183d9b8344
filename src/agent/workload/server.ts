/**
 * The SPIFFE Workload API server: gRPC (grpc-js, plain HTTP/2, no TLS, as the Workload Endpoint
 * standard requires) over a unix socket this module owns. Each connection is accepted by our own
 * net.Server, which reads the kernel's peer credentials (SO_PEERCRED) and the peer's start time from
 * that very socket before handing it to grpc-js; a call finds its connection's credentials through
 * the peer address grpc-js reports, which is a tag this module set on the socket (never anything the
 * caller sent). Every call is then attested from /proc (unix-attestor.ts: in full on a connection's
 * first call, later by re-reading what could have changed since).
 *
 * Encoded X.509-SVID and bundle answers are kept per (method, caller selector set) while the state's
 * version stays the same (composition is a pure function of the two), so a hundred workloads of one
 * selector set share one encoding and a stream compares the very same bytes it sent.
 *
 * Every call must carry the metadata `workload.spiffe.io: true` (exactly one value; INVALID_ARGUMENT
 * otherwise). Streams send the full state at once and again whenever the state changes into something
 * other than what was last sent; a caller that loses its last identity gets PERMISSION_DENIED and the
 * stream ends (clients reconnect with back-off).
 */
import { Server, ServerCredentials, status, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { createServer, type Socket } from "node:net";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import type { AgentState } from "../state";
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

const MAX_REQUEST_BYTES = 64 * 1024;

/** The grpc-js server's options (the benchmark's bare grpc-js floor uses the same). */
export const GRPC_SERVER_OPTIONS = { "grpc.max_receive_message_length": MAX_REQUEST_BYTES, "grpc.enable_channelz": 0 } as const;

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

function checkSecurityHeader(metadata: Metadata): void {
  const values = metadata.get(SECURITY_HEADER);
  if (values.length !== 1 || values[0] !== "true") throw new WorkloadApiError(status.INVALID_ARGUMENT, "security header missing from request");
}

function toStatus(e: unknown, logger: Logger, method: string): { code: status; details: string } {
  if (e instanceof WorkloadApiError) return { code: e.code, details: e.details };
  logger.error("workload api: internal error", { method, error: e instanceof Error ? e.message : String(e) });
  return { code: status.INTERNAL, details: "internal error" };
}

/** Starts serving the Workload API on `options.socket`; rejects when the socket path cannot be used. */
export async function startWorkloadApi(options: WorkloadApiServerOptions): Promise<WorkloadApiServer> {
  const socketPath = socketPathFrom(options.socket);
  const { state } = options;
  const logger = options.logger ?? silentLogger;
  const attestor = options.attestor ?? new UnixAttestor();
  const now = options.now ?? (() => Date.now());

  const peers = new Map<string, CallerProcess>();
  const sockets = new Set<Socket>();
  const unsubscribes = new Set<() => void>();
  let nextPeer = 0;

  async function attestCall(peer: string, method: string): Promise<string[]> {
    const caller = peers.get(peer);
    if (!caller) throw new WorkloadApiError(status.UNAVAILABLE, "workload attestation failed");
    const r = await attestor.attest(caller);
    if (r.ok) return r.value;
    logger.warn("workload api: workload attestation failed", { method, pid: caller.pid, uid: caller.uid, reason: r.error.reason, detail: r.error.detail });
    if (r.error.reason === "proc_unreadable") throw new WorkloadApiError(status.UNAVAILABLE, "workload attestation failed");
    throw new WorkloadApiError(status.PERMISSION_DENIED, NO_IDENTITY);
  }

  function denied(method: string, peer: string, e: unknown): void {
    if (e instanceof WorkloadApiError && e.code === status.PERMISSION_DENIED) {
      const caller = peers.get(peer);
      logger.info("workload api: no identity issued", { method, pid: caller?.pid, uid: caller?.uid });
    }
  }

  function unary<Req>(method: WorkloadApiMethod, checks: (req: Req) => void, answer: (selectors: string[], req: Req) => Promise<Buffer>) {
    return (call: ServerUnaryCall<Req, Buffer>, callback: sendUnaryData<Buffer>) => {
      const peer = call.getPeer();
      (async () => {
        checkSecurityHeader(call.metadata);
        checks(call.request);
        requireReady(state);
        return answer(await attestCall(peer, method), call.request);
      })().then(
        (b) => callback(null, b),
        (e: unknown) => {
          denied(method, peer, e);
          callback(toStatus(e, logger, method));
        },
      );
    };
  }

  const answers = new AnswerCache(state);

  function watch(method: WorkloadApiMethod, compose: (selectors: readonly string[]) => Buffer) {
    return (call: ServerWritableStream<unknown, Buffer>) => {
      const peer = call.getPeer();
      let unsubscribe: (() => void) | undefined;
      let done = false;
      const finish = () => {
        done = true;
        if (unsubscribe) {
          unsubscribe();
          unsubscribes.delete(unsubscribe);
        }
      };
      const fail = (e: unknown) => {
        if (done) return;
        finish();
        denied(method, peer, e);
        call.emit("error", toStatus(e, logger, method));
      };
      call.on("cancelled", finish);
      call.on("close", finish);
      (async () => {
        checkSecurityHeader(call.metadata);
        requireReady(state);
        const selectors = await attestCall(peer, method);
        if (done || call.cancelled) return;
        let last: Buffer | undefined;
        const push = () => {
          if (done || call.cancelled) return;
          let next: Buffer;
          try {
            next = answers.get(method, selectors, compose);
          } catch (e) {
            fail(e);
            return;
          }
          if (last !== undefined && (last === next || last.equals(next))) return;
          last = next;
          call.write(next);
        };
        unsubscribe = state.subscribe(push);
        unsubscribes.add(unsubscribe);
        push();
      })().catch(fail);
    };
  }

  const unimplemented = (what: string) => (call: ServerWritableStream<unknown, Buffer>) => {
    try {
      checkSecurityHeader(call.metadata);
      call.emit("error", { code: status.UNIMPLEMENTED, details: `${what} are not implemented` });
    } catch (e) {
      call.emit("error", toStatus(e, logger, what));
    }
  };

  const implementation: UntypedServiceImplementation = {
    FetchX509SVID: watch("FetchX509SVID", (s) => x509SvidResponse(state, s)),
    FetchX509Bundles: watch("FetchX509Bundles", (s) => x509BundlesResponse(state, s)),
    FetchJWTBundles: watch("FetchJWTBundles", (s) => jwtBundlesResponse(state, s)),
    FetchJWTSVID: unary<JwtSvidRequest>("FetchJWTSVID", checkJwtSvidRequest, (s, req) => jwtSvidResponse(state, s, req)),
    ValidateJWTSVID: unary<ValidateJwtSvidRequest>("ValidateJWTSVID", checkValidateRequest, (s, req) => validateJwtSvidResponse(state, s, req, now())),
    FetchWITSVID: unimplemented("WIT-SVIDs"),
    FetchWITBundles: unimplemented("WIT bundles"),
  };

  const grpcServer = new Server(GRPC_SERVER_OPTIONS);
  grpcServer.addService(WORKLOAD_API_SERVICE, implementation);
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());

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
    const tag = `signet-workload-peer-${++nextPeer}`;
    // grpc-js reports a call's peer as its socket's remoteAddress (undefined for unix sockets).
    Object.defineProperty(socket, "remoteAddress", { value: tag, configurable: false, enumerable: true });
    peers.set(tag, caller);
    sockets.add(socket);
    socket.once("close", () => {
      peers.delete(tag);
      sockets.delete(socket);
      attestor.release?.(caller);
    });
    injector.injectConnection(socket);
  });

  const ino = await listenOnSocket(netServer, socketPath);
  logger.info("workload api: listening", { socket: socketPath });

  return {
    socketPath,
    async close() {
      const closed = new Promise<void>((resolve) => netServer.close(() => resolve()));
      for (const u of unsubscribes) u();
      unsubscribes.clear();
      for (const s of sockets) s.destroy();
      injector.destroy();
      grpcServer.forceShutdown();
      await closed;
      removeSocket(socketPath, ino);
    },
  };
}
