/**
 * gRPC over HTTP/2 (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) for unary and
 * server-streaming methods, on node:http2 in cleartext with prior knowledge (h2c): what the Workload
 * API needs of gRPC and nothing else, so the agent loads no gRPC library.
 *
 * Connections are accepted elsewhere (server.ts reads the peer's kernel credentials first) and handed
 * in with `accept(socket, context)`; every call of that connection carries that context, found by its
 * HTTP/2 session, never by anything the caller sends. Behaviour follows grpc-js's server where the
 * protocol leaves a choice (status codes and messages), so clients see what they saw from grpc-js:
 *
 * - a content-type not starting with `application/grpc` → HTTP 415, no gRPC status (as grpc-js);
 *   a method other than POST → HTTP 405 with INTERNAL (grpc-go's answer; grpc-js does not check);
 *   an unknown path → UNIMPLEMENTED in a trailers-only response;
 * - request messages: the 5-byte prefix (compressed flag, big-endian length); a length over
 *   `maxRequestBytes` → RESOURCE_EXHAUSTED at once; the flag set with `grpc-encoding` gzip or deflate
 *   is inflated (at most `maxRequestBytes` out), with identity or none it is INTERNAL (the spec calls
 *   it a protocol error), with another encoding UNIMPLEMENTED; a flag other than 0/1 → INTERNAL;
 * - exactly one request message, taken when the client half-closes: none or a second one →
 *   UNIMPLEMENTED, a partial one → INTERNAL, one the method's decoder refuses → INTERNAL;
 * - `grpc-timeout` is honoured: DEADLINE_EXCEEDED when it passes (a malformed one is INTERNAL);
 * - answers: `:status 200`, `content-type: application/grpc+proto`, framed messages, then trailers
 *   `grpc-status` / `grpc-message` (percent-encoded); an end before any message is trailers-only.
 *
 * A caller that reads slowly cannot make the server buffer without bound: `send` reports a full
 * stream buffer, and the streams of server.ts then hold back (one full state replaces the next) until
 * the stream drains. Every parse of what a caller sends is bounded and ends in a status, never a throw.
 */
import * as http2 from "node:http2";
import type { Socket } from "node:net";
import { gunzipSync, inflateSync } from "node:zlib";
import { Status, type StatusCode } from "./grpc-status";

/** A method of the table the server is built with, keyed by its path (`/Service/Method`). */
export interface GrpcMethod<Ctx> {
  readonly responseStream: boolean;
  /** The request message's bytes to its value; a throw is INTERNAL "Error deserializing request". */
  readonly decode: (message: Buffer) => unknown;
  /** Runs once the request is in; the call ends when the handler calls `end` (or the caller goes). */
  readonly handle: (call: GrpcCall<Ctx>, request: unknown) => void;
}

export type CallEnd = "status" | "cancelled";

export interface GrpcCall<Ctx> {
  readonly path: string;
  /** What `accept` was given for this call's connection. */
  readonly context: Ctx;
  /** The request's HTTP/2 headers: gRPC metadata keys are lowercase header names. */
  readonly metadata: http2.IncomingHttpHeaders;
  /** True once a status was sent or the stream went away. */
  readonly ended: boolean;
  /**
   * Sends one response message (the response headers go first, with the first one). False when the
   * stream's buffer is full (a slow reader): `onDrain` says when more may be sent. After the end: false.
   */
  send(message: Buffer): boolean;
  /** Ends the call: trailers after messages, a trailers-only response before any. Later calls do nothing. */
  end(code: StatusCode, details?: string): void;
  /** Once, when the call ends for any reason: its status sent, or the stream gone (cancel, reset, close). */
  onEnd(listener: (how: CallEnd) => void): void;
  onDrain(listener: () => void): void;
}

export interface GrpcServerOptions {
  /** The largest request message accepted, compressed or not (RESOURCE_EXHAUSTED above it). */
  readonly maxRequestBytes: number;
  /** Concurrent streams one connection may open (the HTTP/2 setting). */
  readonly maxConcurrentStreams?: number;
  /** Called with a handler's throw (the call then ends INTERNAL). */
  readonly onError?: (path: string, error: unknown) => void;
}

const RESPONSE_HEADERS = {
  [http2.constants.HTTP2_HEADER_STATUS]: 200,
  [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
} as const;
const TRAILERS_ONLY_HEADERS = { [http2.constants.HTTP2_HEADER_STATUS]: 200, [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto" } as const;

/** Timers longer than this overflow setTimeout; such deadlines are as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** `grpc-message`: percent-encoded UTF-8, every byte outside 0x20–0x7E and `%` itself escaped. */
export function encodeGrpcMessage(details: string): string {
  let plain = true;
  for (let i = 0; i < details.length; i++) {
    const c = details.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return details;
  let out = "";
  for (const b of Buffer.from(details, "utf8")) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

/** Milliseconds of a `grpc-timeout` value (1–8 digits and a unit), or undefined when malformed. */
export function parseGrpcTimeout(value: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Math.ceil(Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!);
}

class StatusError {
  constructor(
    readonly code: StatusCode,
    readonly details: string,
  ) {}
}

/**
 * Length-prefixed request messages off the stream's DATA, at most `max` bytes each. `push` returns a
 * StatusError as soon as the bytes in are not one acceptable request; nothing is buffered beyond one
 * message and one chunk.
 */
class RequestReader {
  #chunks: Buffer[] = [];
  #have = 0;
  readonly messages: { readonly flag: number; readonly body: Buffer }[] = [];

  constructor(
    readonly path: string,
    readonly kind: string,
    readonly max: number,
  ) {}

  get partial(): boolean {
    return this.#have > 0;
  }

  push(chunk: Buffer): StatusError | undefined {
    if (chunk.length === 0) return undefined;
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    while (this.#have >= 5) {
      let head = this.#chunks[0]!;
      if (head.length < 5) {
        head = Buffer.concat(this.#chunks, this.#have);
        this.#chunks = [head];
      }
      const length = head.readUInt32BE(1);
      if (length > this.max) return new StatusError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs ${this.max})`);
      if (this.#have < 5 + length) return undefined;
      const all = this.#chunks.length === 1 ? head : Buffer.concat(this.#chunks, this.#have);
      this.messages.push({ flag: all[0]!, body: all.subarray(5, 5 + length) });
      const rest = all.subarray(5 + length);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#have = rest.length;
      if (this.messages.length > 1) return new StatusError(Status.UNIMPLEMENTED, `Received a second request message for ${this.kind} method ${this.path}`);
    }
    return undefined;
  }
}

function decompress(flag: number, body: Buffer, encoding: string, max: number): Buffer | StatusError {
  if (flag === 0) return body;
  if (flag !== 1) return new StatusError(Status.INTERNAL, `Received a message with an unknown compressed flag ${flag}`);
  if (encoding === "identity") return new StatusError(Status.INTERNAL, "Received a compressed message without a grpc-encoding");
  if (encoding !== "gzip" && encoding !== "deflate") return new StatusError(Status.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${encoding}"`);
  try {
    return encoding === "gzip" ? gunzipSync(body, { maxOutputLength: max }) : inflateSync(body, { maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") return new StatusError(Status.RESOURCE_EXHAUSTED, `Received message that decompresses to a size larger than ${max}`);
    return new StatusError(Status.INTERNAL, "Failed to decompress message");
  }
}

function headerValue(headers: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return typeof v === "string" ? v : Array.isArray(v) ? v.join(",") : undefined;
}

class Call<Ctx> implements GrpcCall<Ctx> {
  #headersSent = false;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;
  #endListeners: ((how: CallEnd) => void)[] = [];
  #drainListeners: (() => void)[] | undefined;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly path: string,
    readonly context: Ctx,
    readonly metadata: http2.IncomingHttpHeaders,
  ) {
    stream.once("close", () => this.#finish("cancelled"));
  }

  get ended(): boolean {
    return this.#ended;
  }

  deadline(ms: number): void {
    if (ms > MAX_TIMER_MS) return;
    this.#timer = setTimeout(() => this.end(Status.DEADLINE_EXCEEDED, "Deadline exceeded"), ms);
  }

  send(message: Buffer): boolean {
    if (this.#ended || this.stream.destroyed) return false;
    if (!this.#headersSent) {
      this.#headersSent = true;
      this.stream.respond({ ...RESPONSE_HEADERS }, { waitForTrailers: true });
    }
    const framed = Buffer.allocUnsafe(5 + message.length);
    framed[0] = 0;
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, 5);
    return this.stream.write(framed);
  }

  end(code: StatusCode, details = ""): void {
    if (this.#ended) return;
    const stream = this.stream;
    if (!stream.destroyed && !stream.closed) {
      const trailers: http2.OutgoingHttpHeaders = { "grpc-status": String(code) };
      if (details !== "") trailers["grpc-message"] = encodeGrpcMessage(details);
      try {
        if (this.#headersSent) {
          stream.once("wantTrailers", () => {
            try {
              stream.sendTrailers(trailers);
            } catch {
              // The stream went away meanwhile: nothing left to tell.
            }
          });
          stream.end();
        } else {
          stream.respond({ ...TRAILERS_ONLY_HEADERS, ...trailers }, { endStream: true });
        }
      } catch {
        stream.destroy();
      }
      // Whatever the caller still sends is read and dropped.
      stream.resume();
    }
    this.#finish("status");
  }

  onEnd(listener: (how: CallEnd) => void): void {
    if (this.#ended) return;
    this.#endListeners.push(listener);
  }

  onDrain(listener: () => void): void {
    if (this.#drainListeners === undefined) {
      this.#drainListeners = [];
      this.stream.on("drain", () => {
        if (this.#ended) return;
        for (const l of this.#drainListeners!) l();
      });
    }
    this.#drainListeners.push(listener);
  }

  #finish(how: CallEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const listeners = this.#endListeners;
    this.#endListeners = [];
    for (const l of listeners) l(how);
  }
}

/** A gRPC server for one method table; connections come in through `accept`. */
export class GrpcServer<Ctx> {
  readonly #h2: http2.Http2Server;
  readonly #contexts = new WeakMap<http2.Http2Session, Ctx>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #calls = new Set<Call<Ctx>>();
  /** The context of the connection being handed to node:http2 (its 'session' event is synchronous). */
  #accepting: { readonly context: Ctx } | undefined;
  #closing = false;

  constructor(
    readonly methods: ReadonlyMap<string, GrpcMethod<Ctx>>,
    readonly options: GrpcServerOptions,
  ) {
    this.#h2 = http2.createServer({ settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 1000 } });
    this.#h2.on("session", (session: http2.ServerHttp2Session) => {
      const accepting = this.#accepting;
      session.on("error", () => undefined);
      if (accepting === undefined || this.#closing) {
        session.destroy();
        return;
      }
      this.#contexts.set(session, accepting.context);
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
    });
    this.#h2.on("sessionError", () => undefined);
    this.#h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => this.#onStream(stream, headers));
  }

  /** Serves gRPC on an accepted socket; every call on it gets `context`. */
  accept(socket: Socket, context: Ctx): void {
    this.#accepting = { context };
    try {
      this.#h2.emit("connection", socket);
    } finally {
      this.#accepting = undefined;
    }
  }

  /**
   * Ends every open call with `code` (clients retry UNAVAILABLE), sends GOAWAY on every connection
   * and destroys those still open after `graceMs`.
   */
  async close(code: StatusCode, details: string, graceMs = 1000): Promise<void> {
    this.#closing = true;
    for (const call of [...this.#calls]) call.end(code, details);
    const sessions = [...this.#sessions];
    const closed = sessions.map((s) => new Promise<void>((resolve) => (s.closed || s.destroyed ? resolve() : s.once("close", () => resolve()))));
    for (const s of sessions) {
      try {
        s.close();
      } catch {
        s.destroy();
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const s of sessions) if (!s.destroyed) s.destroy();
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    // Errors of a stream come with its 'close', which ends its call.
    stream.on("error", () => undefined);
    const session = stream.session;
    const context = session ? this.#contexts.get(session) : undefined;
    if (context === undefined || this.#closing) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const contentType = headers[http2.constants.HTTP2_HEADER_CONTENT_TYPE];
    if (typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      stream.respond({ [http2.constants.HTTP2_HEADER_STATUS]: http2.constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE }, { endStream: true });
      stream.resume();
      return;
    }
    const httpMethod = headers[http2.constants.HTTP2_HEADER_METHOD];
    if (httpMethod !== "POST") {
      stream.respond(
        { [http2.constants.HTTP2_HEADER_STATUS]: http2.constants.HTTP_STATUS_METHOD_NOT_ALLOWED, "grpc-status": String(Status.INTERNAL), "grpc-message": encodeGrpcMessage(`Received a HTTP request with method ${String(httpMethod)}, must use POST`) },
        { endStream: true },
      );
      stream.resume();
      return;
    }
    const rawPath = headers[http2.constants.HTTP2_HEADER_PATH];
    const path = typeof rawPath === "string" ? rawPath : "";
    const call = new Call(stream, path, context, headers);
    const method = this.methods.get(path);
    if (method === undefined) {
      call.end(Status.UNIMPLEMENTED, `The server does not implement the method ${path}`);
      return;
    }
    this.#calls.add(call);
    call.onEnd(() => this.#calls.delete(call));
    const timeout = headerValue(headers, "grpc-timeout");
    if (timeout !== undefined) {
      const ms = parseGrpcTimeout(timeout);
      if (ms === undefined) {
        call.end(Status.INTERNAL, `Invalid grpc-timeout value "${timeout}"`);
        return;
      }
      call.deadline(ms);
    }
    const reader = new RequestReader(path, method.responseStream ? "server streaming" : "unary", this.options.maxRequestBytes);
    stream.on("data", (chunk: Buffer) => {
      if (call.ended) return;
      const error = reader.push(chunk);
      if (error) call.end(error.code, error.details);
    });
    stream.once("end", () => {
      if (call.ended) return;
      const request = this.#request(reader, headerValue(headers, "grpc-encoding") ?? "identity", method);
      if (request instanceof StatusError) {
        call.end(request.code, request.details);
        return;
      }
      try {
        method.handle(call, request.value);
      } catch (e) {
        this.options.onError?.(path, e);
        call.end(Status.INTERNAL, "internal error");
      }
    });
  }

  #request(reader: RequestReader, encoding: string, method: GrpcMethod<Ctx>): { value: unknown } | StatusError {
    const [message] = reader.messages;
    if (reader.partial) return new StatusError(Status.INTERNAL, `Received an incomplete request message for ${reader.kind} method ${reader.path}`);
    if (message === undefined) return new StatusError(Status.UNIMPLEMENTED, `Received no request message for ${reader.kind} method ${reader.path}`);
    const body = decompress(message.flag, message.body, encoding, this.options.maxRequestBytes);
    if (body instanceof StatusError) return body;
    try {
      return { value: method.decode(body) };
    } catch {
      return new StatusError(Status.INTERNAL, "Error deserializing request");
    }
  }
}
