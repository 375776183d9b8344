/**
 * `signet-agent helper`'s work, spiffe-helper's behaviour on Signet's Workload API client:
 *
 * - daemon mode: FetchX509SVID is watched as a stream; every message the agent sends (a new SVID,
 *   and a bundle change alone, such as the next CA being published before it signs anything) is
 *   checked, written atomically (each file staged then renamed) when its files differ from those
 *   last written, and followed by the signal or command (helper-signal.ts). FetchJWTBundles is
 *   watched the same way for `jwt_bundle_file_name`; each `jwt_svids` token is fetched again at
 *   half its remaining life. A stream that fails or ends (agent down, not ready, no entry yet) is
 *   reopened with back-off (1 s doubling to 30 s), forever, until the abort signal.
 * - one-shot (`daemon_mode = false`): each enabled kind fetched once (PermissionDenied and
 *   Unavailable retried for ~8 s, as an entry may not have reached the agent yet) and written;
 *   nothing signalled or run.
 *
 * Logs carry SPIFFE IDs, paths, pids and reasons, never keys or tokens.
 */
import { createServer, type Server } from "node:http";
import { resolve } from "node:path";
import { Client, credentials, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { writeFilesAtomically, type FileToWrite } from "../node/files";
import { decodeJwtBundlesResponse, decodeX509SvidResponse, encodeEmptyRequest } from "./api-messages";
import { EXIT_REFUSED, EXIT_UNREACHABLE, callFailure } from "./api-common";
import { X509_ENABLED, type HelperConfig, type JwtSvidConfig } from "./helper-config";
import { jwtExpiry, jwtRefreshDelay, pickJwtSvid, renderJwtBundles, renderX509 } from "./helper-files";
import { ProcessSignaller } from "./helper-signal";
import type { Logger } from "./log";
import { defaultSleep } from "./sync";
import { GrpcStatus, unixTarget, WorkloadApiClient, WorkloadCallError, workloadMetadata } from "./workload-client";

export interface HelperOptions {
  readonly config: HelperConfig;
  readonly socketPath: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly now?: () => number;
  /** First retry delay of a failed stream (default 1000 ms; it doubles up to 30 s). */
  readonly retryBaseMs?: number;
}

type WriteStatus = "unwritten" | "failed" | "written";

/** A failure of one-shot mode, with its exit code. */
export class HelperFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const identity = (b: Buffer): Buffer => b;

export class Helper {
  readonly signaller: ProcessSignaller;
  readonly #o: HelperOptions;
  readonly #dir: string;
  readonly #now: () => number;
  #x509Status: WriteStatus = "unwritten";
  readonly #jwtStatus = new Map<string, WriteStatus>();
  /** What each path last received, so an unchanged answer rewrites and signals nothing. */
  readonly #last = new Map<string, string>();
  /** Counts of X.509 sets written (tests and logs). */
  x509Writes = 0;

  constructor(options: HelperOptions) {
    this.#o = options;
    const c = options.config;
    this.#dir = resolve(options.cwd, c.certDir);
    this.#now = options.now ?? Date.now;
    this.signaller = new ProcessSignaller({ cmd: c.cmd, cmdArgs: c.cmdArgs, renewSignal: c.renewSignal, pidFile: c.pidFileName === "" ? "" : resolve(options.cwd, c.pidFileName), cwd: options.cwd, env: options.env }, options.log);
    if (c.jwtBundleFileName !== "") this.#jwtStatus.set(this.#path(c.jwtBundleFileName), "unwritten");
    for (const j of c.jwtSvids) this.#jwtStatus.set(this.#path(j.fileName), "unwritten");
  }

  #path(name: string): string {
    return resolve(this.#dir, name);
  }

  /** Writes the files that differ from what was last written; false when nothing changed. */
  async #write(files: readonly FileToWrite[]): Promise<boolean> {
    const changed = files.some((f) => this.#last.get(this.#path(f.name)) !== String(f.contents));
    if (!changed) return false;
    const r = await writeFilesAtomically(this.#dir, files);
    if (!r.ok) throw new HelperFailure(`cannot write ${r.error.path}: ${r.error.message}`, EXIT_REFUSED);
    for (const f of files) this.#last.set(this.#path(f.name), String(f.contents));
    return true;
  }

  /** One FetchX509SVID message: render, write, then wake the server (daemon mode). */
  async onX509(message: Buffer, signal: AbortSignal | undefined): Promise<void> {
    const rendered = renderX509(this.#o.config, decodeX509SvidResponse(message), this.#now());
    if (!rendered.ok) {
      this.#x509Status = "failed";
      throw new HelperFailure(`the agent's X.509 answer is unusable: ${rendered.error}`, EXIT_UNREACHABLE);
    }
    let written: boolean;
    try {
      written = await this.#write(rendered.value.files);
    } catch (e) {
      this.#x509Status = "failed";
      throw e;
    }
    this.#x509Status = "written";
    if (!written) {
      this.#o.log.debug("X.509 answer unchanged; nothing written", { spiffe_id: rendered.value.spiffeId });
      return;
    }
    this.x509Writes++;
    this.#o.log.info("X.509 certificates updated", { spiffe_id: rendered.value.spiffeId, cert_dir: this.#dir, expires_at: new Date(rendered.value.expiresAt).toISOString() });
    if (signal) await this.signaller.notify(signal);
  }

  async onJwtBundles(message: Buffer): Promise<void> {
    const path = this.#path(this.#o.config.jwtBundleFileName);
    try {
      if (await this.#write([renderJwtBundles(this.#o.config, decodeJwtBundlesResponse(message))])) this.#o.log.info("JWT bundle updated", { path });
      this.#jwtStatus.set(path, "written");
    } catch (e) {
      this.#jwtStatus.set(path, "failed");
      throw e;
    }
  }

  /** Fetches and writes one JWT-SVID; returns its expiry (ms) when known. */
  async jwtSvid(client: WorkloadApiClient, j: JwtSvidConfig): Promise<number | undefined> {
    const path = this.#path(j.fileName);
    try {
      const picked = pickJwtSvid(this.#o.config, await client.fetchJwtSvid([j.audience, ...j.extraAudiences]));
      if (!picked.ok) throw new HelperFailure(picked.error, EXIT_REFUSED);
      if (await this.#write([{ name: j.fileName, contents: picked.value.svid, mode: this.#o.config.jwtSvidFileMode }])) this.#o.log.info("JWT-SVID updated", { path, spiffe_id: picked.value.spiffeId, audience: j.audience });
      this.#jwtStatus.set(path, "written");
      return jwtExpiry(picked.value.svid);
    } catch (e) {
      this.#jwtStatus.set(path, "failed");
      throw e;
    }
  }

  health(): { live: boolean; ready: boolean; body: object } {
    const x509 = X509_ENABLED(this.#o.config);
    const statuses = [...this.#jwtStatus.values()];
    const live = !statuses.includes("failed") && !(x509 && this.#x509Status === "failed");
    const ready = statuses.every((s) => s === "written") && (!x509 || this.#x509Status === "written");
    const body = { file_write_statuses: { ...(x509 ? { x509_write_status: this.#x509Status } : {}), jwt_write_status: Object.fromEntries(this.#jwtStatus) } };
    return { live, ready, body };
  }

  #client(timeoutMs = 5000, signal?: AbortSignal): WorkloadApiClient {
    return new WorkloadApiClient({ socketPath: this.#o.socketPath, timeoutMs, ...(signal ? { signal } : {}) });
  }

  /** daemon_mode = false: fetch and write everything once. Throws HelperFailure. */
  async runOnce(signal: AbortSignal): Promise<void> {
    const c = this.#o.config;
    const client = this.#client(5000, signal);
    const retrying = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
      for (let wait = 10; ; wait *= 5) {
        try {
          return await call();
        } catch (e) {
          const retry = e instanceof WorkloadCallError && (e.code === GrpcStatus.PERMISSION_DENIED || (e.code === GrpcStatus.UNAVAILABLE && !/No connection established|connect E|ECONNREFUSED|ENOENT|EACCES/.test(e.details)));
          if (!retry || wait > 6250 || signal.aborted) throw e instanceof HelperFailure ? e : toFailure(e, what, this.#o.socketPath);
          this.#o.log.debug(`${what}: retrying`, { detail: (e as Error).message, retry_in_ms: wait });
          await defaultSleep(wait, signal);
        }
      }
    };
    try {
      if (X509_ENABLED(c)) await this.onX509(await retrying("fetch x509", () => client.firstMessage("FetchX509SVID")), undefined);
      if (c.jwtBundleFileName !== "") await this.onJwtBundles(await retrying("fetch jwt bundles", () => client.firstMessage("FetchJWTBundles")));
      for (const j of c.jwtSvids) await retrying(`fetch jwt (${j.audience})`, () => this.jwtSvid(client, j));
    } finally {
      client.close();
    }
  }

  /** Daemon mode: until `signal` aborts. */
  async runDaemon(signal: AbortSignal): Promise<void> {
    const c = this.#o.config;
    const tasks: Promise<void>[] = [];
    if (X509_ENABLED(c)) tasks.push(this.#watch("FetchX509SVID", (m) => this.onX509(m, signal), signal));
    if (c.jwtBundleFileName !== "") tasks.push(this.#watch("FetchJWTBundles", (m) => this.onJwtBundles(m), signal));
    for (const j of c.jwtSvids) tasks.push(this.#refreshJwt(j, signal));
    let server: Server | undefined;
    if (c.healthChecks.listenerEnabled) server = await this.#startHealth();
    await Promise.all(tasks);
    if (server) await new Promise((r) => server.close(r));
  }

  async #startHealth(): Promise<Server> {
    const { bindPort, livenessPath, readinessPath } = this.#o.config.healthChecks;
    const server = createServer((req, res) => {
      const path = (req.url ?? "").split("?")[0];
      if (path !== livenessPath && path !== readinessPath) {
        res.writeHead(404).end();
        return;
      }
      const h = this.health();
      const good = path === livenessPath ? h.live : h.ready;
      res.writeHead(good ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ status: good ? "OK" : "Service Unavailable", health: h.body }));
    });
    await new Promise<void>((ok, fail) => server.once("error", fail).listen(bindPort, () => ok()));
    this.#o.log.info("health checks listening", { port: bindPort, liveness_path: livenessPath, readiness_path: readinessPath });
    return server;
  }

  /** A server stream, reopened with back-off whenever it fails or ends; messages handled one at a time, latest first. */
  async #watch(method: string, handle: (m: Buffer) => Promise<void>, signal: AbortSignal): Promise<void> {
    const base = this.#o.retryBaseMs ?? 1000;
    let wait = base;
    for (let attempt = 1; !signal.aborted; attempt++) {
      const client = new Client(unixTarget(this.#o.socketPath), credentials.createInsecure(), { "grpc.enable_retries": 0, "grpc.max_receive_message_length": 16 << 20 });
      let received = false;
      let draining: Promise<void> = Promise.resolve();
      const failure = await new Promise<ServiceError | undefined>((done) => {
        const call: ClientReadableStream<Buffer> = client.makeServerStreamRequest(`/SpiffeWorkloadAPI/${method}`, identity, identity, encodeEmptyRequest(), workloadMetadata());
        const onAbort = () => call.cancel();
        signal.addEventListener("abort", onAbort, { once: true });
        let pending: Buffer | undefined;
        let busy = false;
        const drain = async () => {
          busy = true;
          while (pending) {
            const m = pending;
            pending = undefined;
            try {
              await handle(m);
            } catch (e) {
              this.#o.log.error(`${method}: update not applied`, { detail: (e as Error).message });
            }
          }
          busy = false;
        };
        call.on("data", (m: Buffer) => {
          received = true;
          wait = base;
          pending = m;
          if (!busy) draining = drain();
        });
        const finish = (e?: ServiceError) => {
          signal.removeEventListener("abort", onAbort);
          done(e);
        };
        call.once("error", (e: ServiceError) => finish(e));
        call.once("end", () => finish());
      });
      await draining;
      client.close();
      if (signal.aborted) return;
      const detail = failure ? toFailure(new WorkloadCallError(failure.code, failure.details || failure.message), method, this.#o.socketPath).message : "the agent ended the stream";
      this.#o.log.warn(`${method}: stream closed; retrying`, { detail, attempt, retry_in_ms: wait, had_answer: received });
      await defaultSleep(wait, signal);
      wait = Math.min(wait * 2, 30_000);
    }
  }

  async #refreshJwt(j: JwtSvidConfig, signal: AbortSignal): Promise<void> {
    const client = this.#client(5000, signal);
    let retry = 1000;
    try {
      while (!signal.aborted) {
        let delay: number;
        try {
          delay = jwtRefreshDelay(await this.jwtSvid(client, j), this.#now());
          retry = 1000;
        } catch (e) {
          this.#o.log.error("JWT-SVID not updated", { audience: j.audience, detail: toFailure(e, "fetch jwt", this.#o.socketPath).message, retry_in_ms: retry });
          delay = retry;
          retry = Math.min(retry * 2, 60_000);
        }
        await defaultSleep(delay, signal);
      }
    } finally {
      client.close();
    }
  }
}

function toFailure(e: unknown, what: string, socketPath: string): HelperFailure {
  if (e instanceof HelperFailure) return e;
  const f = callFailure(e, what, socketPath, 5000);
  return new HelperFailure(f.message, f.exitCode);
}
