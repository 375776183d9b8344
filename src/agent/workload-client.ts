/**
 * A SPIFFE Workload API client over a unix socket (grpc-js, plain HTTP/2): what `signet-agent api`
 * and `healthcheck` call. Requests and responses go through api-messages.ts (this project's codec, no
 * generated code), every call carries `workload.spiffe.io: true`, and each has a deadline. Streams are
 * read for their first message only (the full state the server sends at once), then cancelled.
 *
 * Failures are `WorkloadCallError` with the gRPC status code and the server's details, or a
 * ProtobufError-derived `bad_response` when the answer is not the message it should be.
 */
import { Client, credentials, Metadata, status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import {
  decodeJwtBundlesResponse,
  decodeJwtSvidResponse,
  decodeValidateJwtSvidResponse,
  decodeX509BundlesResponse,
  decodeX509SvidResponse,
  encodeEmptyRequest,
  encodeJwtSvidRequest,
  encodeValidateJwtSvidRequest,
  type JwtSvidEntry,
  type ValidateJwtSvidResponse,
  type X509BundlesResponse,
  type X509SvidResponse,
} from "./api-messages";
import { SECURITY_HEADER } from "./workload/server";

export { status as GrpcStatus };

export class WorkloadCallError extends Error {
  override readonly name = "WorkloadCallError";
  constructor(
    /** A gRPC status code, or "bad_response" for an answer that does not decode. */
    readonly code: status | "bad_response",
    readonly details: string,
  ) {
    super(details);
  }
}

export interface WorkloadApiClientOptions {
  /** Absolute path of the agent's socket. */
  readonly socketPath: string;
  /** Per-call deadline in milliseconds (default 5000). */
  readonly timeoutMs?: number;
  /** Aborting cancels the call in flight (CANCELLED). */
  readonly signal?: AbortSignal;
}

const identity = (b: Buffer): Buffer => b;

/** Metadata with the Workload API's security header (`workload.spiffe.io: true`). */
export function workloadMetadata(): Metadata {
  const md = new Metadata();
  md.set(SECURITY_HEADER, "true");
  return md;
}

/** The grpc-js target for a socket path. */
export function unixTarget(socketPath: string): string {
  return `unix://${socketPath}`;
}

function decoded<T>(decode: (b: Buffer) => T, b: Buffer): T {
  try {
    return decode(b);
  } catch (e) {
    throw new WorkloadCallError("bad_response", `the agent's answer is not a Workload API message (${e instanceof Error ? e.message : "decode error"})`);
  }
}

function fromServiceError(e: ServiceError): WorkloadCallError {
  return new WorkloadCallError(e.code, e.details || e.message);
}

export class WorkloadApiClient {
  readonly #client: Client;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal | undefined;

  constructor(options: WorkloadApiClientOptions) {
    // No retries, and no waiting for a socket that is not there: an absent agent is an error now.
    this.#client = new Client(unixTarget(options.socketPath), credentials.createInsecure(), { "grpc.enable_retries": 0, "grpc.max_receive_message_length": 16 << 20 });
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#signal = options.signal;
  }

  close(): void {
    this.#client.close();
  }

  #deadline(): Date {
    return new Date(Date.now() + this.#timeoutMs);
  }

  /** The first message of a server stream, raw. */
  firstMessage(method: string, request: Buffer = encodeEmptyRequest(), metadata: Metadata = workloadMetadata()): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const call: ClientReadableStream<Buffer> = this.#client.makeServerStreamRequest(`/SpiffeWorkloadAPI/${method}`, identity, identity, request, metadata, { deadline: this.#deadline() });
      const onAbort = () => call.cancel();
      this.#signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        settled = true;
        this.#signal?.removeEventListener("abort", onAbort);
      };
      call.once("data", (m: Buffer) => {
        if (settled) return;
        done();
        resolve(m);
        call.cancel();
      });
      call.once("error", (e: ServiceError) => {
        if (settled) return;
        done();
        reject(fromServiceError(e));
      });
      call.once("end", () => {
        if (settled) return;
        done();
        reject(new WorkloadCallError("bad_response", "the agent ended the stream without an answer"));
      });
    });
  }

  unary(method: string, request: Buffer, metadata: Metadata = workloadMetadata()): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const call = this.#client.makeUnaryRequest(`/SpiffeWorkloadAPI/${method}`, identity, identity, request, metadata, { deadline: this.#deadline() }, (e, r) => {
        this.#signal?.removeEventListener("abort", onAbort);
        if (e) reject(fromServiceError(e));
        else if (r === undefined) reject(new WorkloadCallError("bad_response", "the agent sent no answer"));
        else resolve(r);
      });
      const onAbort = () => call.cancel();
      this.#signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async fetchX509Svid(): Promise<X509SvidResponse> {
    return decoded(decodeX509SvidResponse, await this.firstMessage("FetchX509SVID"));
  }

  async fetchX509Bundles(): Promise<X509BundlesResponse> {
    return decoded(decodeX509BundlesResponse, await this.firstMessage("FetchX509Bundles"));
  }

  async fetchJwtBundles(): Promise<ReadonlyMap<string, Uint8Array>> {
    return decoded(decodeJwtBundlesResponse, await this.firstMessage("FetchJWTBundles"));
  }

  async fetchJwtSvid(audience: readonly string[], spiffeId = ""): Promise<JwtSvidEntry[]> {
    return decoded(decodeJwtSvidResponse, await this.unary("FetchJWTSVID", encodeJwtSvidRequest(audience, spiffeId)));
  }

  async validateJwtSvid(audience: string, svid: string): Promise<ValidateJwtSvidResponse> {
    return decoded(decodeValidateJwtSvidResponse, await this.unary("ValidateJWTSVID", encodeValidateJwtSvidRequest(audience, svid)));
  }
}
