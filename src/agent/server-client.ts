/**
 * A typed client of Signet's agent API (`/agent/v1`, see README "Node attestation and the agent API").
 * Every call but attest carries `Signet-Agent-Proof`, signed over the exact body bytes sent. Every
 * answer is read with a size bound and checked by wire.ts's validators; whatever happens (server
 * down, a proxy's HTML, a truncated body, a problem document) comes back as a `ServerError` value
 * with one readable line, never as a throw.
 *
 * Requests go over `node:http`/`node:https` (src/node/http-request.ts, pooled keep-alive
 * connections), not `fetch`: Node's fetch loads undici, about 10 MB of the agent's RSS. An injected
 * `fetch` (tests) is used instead when given.
 */
import { readBodyLimited } from "../lib/bounded-body";
import { utf8 } from "../lib/encoding";
import type { Clock } from "../lib/clock";
import { err, ok, type Result } from "../lib/result";
import { createAgentProof, type AgentProofAlgorithm } from "../lib/spiffe/agent-proof";
import { createHttpTransport, type HttpAnswer, type HttpFailure, type HttpTransport } from "../node/http-request";
import { AgentSvidAnswer, BundlesAnswer, JwtSvidAnswer, Problem, SyncAnswer, X509PopChallengeAnswer, X509SvidsAnswer, type Validator } from "./wire";

export type ServerFailureReason =
  /** No answer: connection refused, DNS, TLS, timeout, a broken connection. */
  | "unreachable"
  /** The server answered 429 or 5xx: try again later. */
  | "unavailable"
  /** The server answered 4xx: it refuses this request (the problem's `code` says why). */
  | "refused"
  /** A 2xx answer the agent cannot use: not JSON, too large, not the expected shape. */
  | "bad_response";

export interface ServerError {
  readonly reason: ServerFailureReason;
  /** One line, safe to log (no tokens, no keys). */
  readonly detail: string;
  readonly path: string;
  readonly status?: number;
  /** The problem document's stable code (`agent_unauthorized`, `agent_banned`, `invalid_request`, …). */
  readonly code?: string;
}

/** What signs the agent proofs: the agent SVID and its private key. */
export interface AgentCredential {
  readonly key: CryptoKey;
  readonly alg: AgentProofAlgorithm;
  /** DER of the agent SVID (leaf). */
  readonly svid: Uint8Array;
}

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface ServerClientOptions {
  readonly server: string | URL;
  readonly clock: Clock;
  /** Sends the requests instead of node:http(s) (tests). */
  readonly fetch?: Fetch;
  /** Per request, on top of any long-poll wait (default 30 s). */
  readonly timeoutMs?: number;
  /** Told when the server's clock is found to differ from ours by more than 2 s (the offset, ms). */
  readonly onSkew?: (offsetMs: number) => void;
}

export interface SyncInput {
  /** The cursor the last complete sync ended with; without one the server sends everything (`full`). */
  readonly cursor?: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
  /** Long-poll: the server answers when something changed, or after this long (omitted when undefined). */
  readonly waitMs?: number;
  /** Ends the call early (the agent is stopping). */
  readonly signal?: AbortSignal;
}

export type AttestBody =
  | { readonly type: "join_token"; readonly token: string; readonly csr: string }
  | { readonly type: "tee"; readonly attestation_token: string; readonly csr: string }
  | { readonly type: "x509pop_response"; readonly challenge_id: string; readonly certificates: readonly string[]; readonly response: unknown; readonly csr: string };

/** The largest answer read (a sync page of 500 entries is well under 1 MiB). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

/** The client's calls, for fakes in tests. */
export type AgentApi = { [K in Exclude<keyof AgentServerClient, "serverNow">]: AgentServerClient[K] };

export class AgentServerClient {
  readonly #base: URL;
  readonly #clock: Clock;
  readonly #transport: HttpTransport;
  readonly #timeoutMs: number;
  #credential: AgentCredential | undefined;
  /** The server's clock minus ours, from answers' Date headers, when they differ by more than the header's 1 s grain. */
  #offsetMs = 0;
  readonly #onSkew: ((offsetMs: number) => void) | undefined;

  constructor(options: ServerClientOptions) {
    this.#base = new URL(options.server);
    this.#clock = options.clock;
    this.#transport = options.fetch ? fetchTransport(options.fetch) : createHttpTransport();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#onSkew = options.onSkew;
  }

  /**
   * The server's time as best known (ms): agent proofs must be within 60 s of the server's clock, so a
   * node whose clock is off still authenticates; the offset comes from each answer's Date header.
   */
  serverNow(): number {
    return this.#clock.now() + this.#offsetMs;
  }

  #learnOffset(res: HttpAnswer): void {
    const date = Date.parse(res.header("Date") ?? "");
    if (!Number.isFinite(date)) return;
    // The answer's arrival (a long-poll answers when it answers); Date has a one-second grain, so
    // offsets within 2 s are noise.
    const local = this.#clock.now();
    const offset = Math.abs(date + 500 - local) > 2_000 ? Math.round(date + 500 - local) : 0;
    if (Math.abs(offset - this.#offsetMs) > 2_000) {
      this.#offsetMs = offset;
      this.#onSkew?.(offset);
    }
  }

  /** The agent SVID that signs every call from now on. */
  setCredential(credential: AgentCredential): void {
    this.#credential = credential;
  }

  attest(body: AttestBody): Promise<Result<AgentSvidAnswer, ServerError>> {
    return this.#call("POST", "attest", body, AgentSvidAnswer, false);
  }

  x509PopChallenge(certificates: readonly string[]): Promise<Result<X509PopChallengeAnswer, ServerError>> {
    return this.#call("POST", "attest", { type: "x509pop", certificates }, X509PopChallengeAnswer, false);
  }

  renew(csr: string): Promise<Result<AgentSvidAnswer, ServerError>> {
    return this.#call("POST", "renew", { csr }, AgentSvidAnswer);
  }

  syncEntries(input: SyncInput): Promise<Result<SyncAnswer, ServerError>> {
    const body = {
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
      ...(input.pageSize === undefined ? {} : { page_size: input.pageSize }),
      ...(input.pageToken === undefined ? {} : { page_token: input.pageToken }),
      ...(input.waitMs === undefined ? {} : { wait_ms: input.waitMs }),
    };
    return this.#call("POST", "entries/sync", body, SyncAnswer, true, input.waitMs ?? 0, input.signal);
  }

  signX509Svids(requests: readonly { readonly entry_id: string; readonly csr: string }[]): Promise<Result<X509SvidsAnswer, ServerError>> {
    return this.#call("POST", "svids/x509", { requests }, X509SvidsAnswer);
  }

  signJwtSvid(entryId: string, audience: readonly string[]): Promise<Result<JwtSvidAnswer, ServerError>> {
    return this.#call("POST", "svids/jwt", { entry_id: entryId, audience }, JwtSvidAnswer);
  }

  bundles(): Promise<Result<BundlesAnswer, ServerError>> {
    return this.#call("GET", "bundles", undefined, BundlesAnswer);
  }

  async #call<T>(method: string, name: string, body: unknown, validate: Validator<T>, proved = true, waitMs = 0, signal?: AbortSignal): Promise<Result<T, ServerError>> {
    const url = new URL(`agent/v1/${name}`, this.#base);
    const path = url.pathname;
    const fail = (reason: ServerFailureReason, detail: string, more: { status?: number; code?: string } = {}) => err<ServerError>({ reason, detail, path, ...more });
    const bytes = body === undefined ? new Uint8Array() : utf8(JSON.stringify(body));
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (proved) {
      const c = this.#credential;
      if (!c) throw new TypeError("the agent has no SVID yet: attest first");
      headers["Signet-Agent-Proof"] = await createAgentProof(c.key, c.alg, c.svid, { method, path, body: bytes, now: this.serverNow() });
    }
    const sent = await this.#transport({
      method,
      url,
      headers,
      ...(body === undefined ? {} : { body: bytes }),
      timeoutMs: this.#timeoutMs + waitMs,
      ...(signal ? { signal } : {}),
      maxBodyBytes: MAX_ANSWER_BYTES,
    });
    if (!sent.ok) return fail("unreachable", `${this.#base.origin} cannot be reached: ${oneLine(sent.error.code)}`);
    const res = sent.value;
    this.#learnOffset(res);
    const success = res.status >= 200 && res.status < 300;
    if (typeof res.body === "string") return fail(success ? "bad_response" : "unavailable", `the answer (HTTP ${res.status}) is unreadable or larger than ${MAX_ANSWER_BYTES} bytes`, { status: res.status });
    const json = parseJson(res.body);
    if (!success) {
      const problem = Problem(json);
      const code = problem.ok ? problem.value.code : undefined;
      const what = problem.ok ? (problem.value.detail ?? problem.value.title) : undefined;
      const reason: ServerFailureReason = res.status === 429 || res.status >= 500 || (res.status >= 300 && res.status < 400) ? "unavailable" : "refused";
      return fail(reason, `HTTP ${res.status}${code ? ` ${code}` : ""}${what ? `: ${oneLine(what)}` : ""}`, { status: res.status, ...(code ? { code } : {}) });
    }
    const parsed = validate(json);
    if (!parsed.ok) return fail("bad_response", `the answer is not what the agent API sends (${oneLine(parsed.error)})`, { status: res.status });
    return ok(parsed.value);
  }
}

/**
 * An injected fetch as a transport: redirects not followed, one deadline over the exchange and the
 * body read (this is the only code here that touches Response, and only tests inject a fetch).
 */
function fetchTransport(f: Fetch): HttpTransport {
  return async (request) => {
    const deadline = AbortSignal.timeout(request.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, deadline]) : deadline;
    let res: Response;
    try {
      res = await f(request.url.href, { method: request.method, headers: { ...request.headers }, ...(request.body === undefined ? {} : { body: request.body as Uint8Array<ArrayBuffer> }), redirect: "manual", signal });
    } catch (e) {
      return err<HttpFailure>({ code: request.signal?.aborted ? "aborted" : describeFetchError(e) });
    }
    let body: HttpAnswer["body"];
    try {
      body = (await readBodyLimited(res, request.maxBodyBytes)) ?? "too_large";
    } catch {
      body = "broken";
    }
    return ok({ status: res.status, header: (name: string) => res.headers.get(name) ?? undefined, headerLines: (name: string) => (name.toLowerCase() === "set-cookie" ? res.headers.getSetCookie() : [res.headers.get(name)].filter((v): v is string => v !== null)), body });
  };
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

/** A fetch rejection as the transport's short code (its cause's code when it has one). */
function describeFetchError(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === "TimeoutError" || e.name === "AbortError") return "timed out";
    const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === "string") return cause.code;
    if (cause && typeof cause.message === "string") return cause.message;
    return e.message;
  }
  return "unknown error";
}

/** Text from the server or the OS, made safe for one log line. */
export function oneLine(s: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
