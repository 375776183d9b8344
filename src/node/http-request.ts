/**
 * One HTTP(S) exchange over `node:http`/`node:https`, for clients that must stay small: Node's
 * `fetch` loads undici on first use (about 10 MB of RSS), this loads nothing beyond Node's own HTTP
 * stack. A request is sent whole (method, URL, headers, body bytes), redirects are never followed,
 * and the answer's body is read under a byte bound: counted as it streams, a Content-Length over the
 * bound is refused before reading, and the connection is destroyed on overflow. One deadline covers
 * the whole exchange (connect, wait, body); an AbortSignal ends it early. Connections are kept alive
 * and reused (one pool per transport); TLS uses Node's default CAs (and NODE_EXTRA_CA_CERTS).
 * Nothing here throws: every failure comes back as a short code.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { err, ok, type Result } from "../lib/result";

export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent with its Content-Length; none for undefined. */
  readonly body?: Uint8Array;
  /** The deadline for the whole exchange, body included. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** The largest body read; a larger one reads as "too_large". */
  readonly maxBodyBytes: number;
}

export interface HttpAnswer {
  readonly status: number;
  /** A header's value by case-insensitive name (repeated headers joined with ", "). */
  header(name: string): string | undefined;
  /** Every line of a header, as sent (Set-Cookie cannot be joined). */
  headerLines(name: string): readonly string[];
  /** The body, or why there is none: larger than the bound, or broken off (connection lost, deadline or abort mid-body). */
  readonly body: Uint8Array | "too_large" | "broken";
}

export interface HttpFailure {
  /** "timed out", "aborted", an OS or TLS code (ECONNREFUSED, ENOTFOUND, ECONNRESET, CERT_HAS_EXPIRED, …), or the error's message. */
  readonly code: string;
}

/** No answer at all is a failure; an answer (any status) is a value. */
export type HttpTransport = (request: HttpRequest) => Promise<Result<HttpAnswer, HttpFailure>>;

export interface NodeHttpTransport extends HttpTransport {
  /** Closes the pooled connections (tests; an idle pooled connection never keeps the process alive). */
  close(): void;
}

/** How long an idle pooled connection is kept (undici's default; a server's `Keep-Alive: timeout=` hint shortens it). */
const IDLE_MS = 4_000;

export function createHttpTransport(options: { readonly idleMs?: number } = {}): NodeHttpTransport {
  const idle = options.idleMs ?? IDLE_MS;
  const http = new HttpAgent({ keepAlive: true, timeout: idle });
  const https = new HttpsAgent({ keepAlive: true, timeout: idle });
  const transport = (request: HttpRequest) => {
    if (request.url.protocol === "http:") return exchange(request, httpRequest, http, true);
    if (request.url.protocol === "https:") return exchange(request, httpsRequest, https, true);
    return Promise.resolve(err({ code: `unsupported protocol ${request.url.protocol}` }));
  };
  return Object.assign(transport, {
    close() {
      http.destroy();
      https.destroy();
    },
  });
}

type RequestFn = (url: URL, options: RequestOptions) => ClientRequest;

function exchange(request: HttpRequest, send: RequestFn, agent: HttpAgent, mayRetry: boolean): Promise<Result<HttpAnswer, HttpFailure>> {
  const { signal, body, maxBodyBytes } = request;
  if (signal?.aborted) return Promise.resolve(err({ code: "aborted" }));
  return new Promise((resolve) => {
    let req: ClientRequest | undefined;
    let answered: Omit<HttpAnswer, "body"> | undefined;
    let settled = false;
    const settle = (r: Result<HttpAnswer, HttpFailure> | Promise<Result<HttpAnswer, HttpFailure>>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(r);
    };
    /** Ends the exchange early: before an answer it failed with `code`, after one its body is `bodyOutcome`. */
    const end = (code: string, bodyOutcome: "too_large" | "broken" = "broken") => {
      if (settled) return;
      settle(answered ? ok({ ...answered, body: bodyOutcome }) : err({ code }));
      req?.destroy();
    };
    const onAbort = () => end("aborted");
    const timer = setTimeout(() => end("timed out"), request.timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const headers = body === undefined ? { ...request.headers } : { ...request.headers, "Content-Length": String(body.byteLength) };
      req = send(request.url, { method: request.method, headers, agent });
    } catch (e) {
      // An invalid header name or value is refused before anything is sent.
      settle(err({ code: codeOf(e) }));
      return;
    }
    const sent = req;
    sent.on("error", (e) => {
      // A pooled connection the server closed while idle fails at once, before it answers: the server
      // never saw this request, so it goes once more over a new connection (Node's advice for `reusedSocket`).
      const code = codeOf(e);
      if (!settled && !answered && mayRetry && sent.reusedSocket && (code === "ECONNRESET" || code === "EPIPE")) {
        settle(exchange(request, send, agent, false));
        return;
      }
      end(code);
    });
    sent.on("response", (res: IncomingMessage) => {
      answered = { status: res.statusCode ?? 0, header: headerGetter(res), headerLines: headerLinesGetter(res) };
      res.on("error", () => end(""));
      // Closed without an end: the body broke off (a no-op after `end`).
      res.on("close", () => end(""));
      const declared = Number(res.headers["content-length"] ?? "0");
      if (declared > maxBodyBytes) return end("", "too_large");
      const chunks: Buffer[] = [];
      let total = 0;
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        total += chunk.length;
        if (total > maxBodyBytes) return end("", "too_large");
        chunks.push(chunk);
      });
      res.on("end", () => {
        if (!res.complete) return end("");
        const bytes = Buffer.concat(chunks, total);
        settle(ok({ ...answered!, body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) }));
      });
    });
    sent.end(body);
  });
}

function headerGetter(res: IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const v = res.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(", ") : v;
  };
}

function headerLinesGetter(res: IncomingMessage): (name: string) => readonly string[] {
  return (name) => {
    const v = res.headers[name.toLowerCase()];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  };
}

/** An OS or TLS error's code, else its message. */
function codeOf(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && code !== "" ? code : e.message;
  }
  return "unknown error";
}
