/**
 * HTTP to the Signet server: JSON in, JSON out, and every way that can go wrong mapped to a
 * `CliFailure` (never thrown). Redirects are not followed, so the admin token only ever goes to
 * the configured origin.
 */
import { err, ok, type Result } from "../lib/result";
import { failure, oneLine, type CliFailure } from "./failure";

export interface ClientOptions {
  /** Base URL ending in `/` (see `resolveServer`). */
  readonly server: URL;
  readonly fetch: typeof fetch;
  readonly timeoutMs?: number;
}

export interface RequestInput {
  readonly method: "GET" | "POST" | "DELETE";
  /** Relative to the server base, without a leading slash: `admin/v1/svids/x509`. */
  readonly path: string;
  readonly body?: unknown;
  /** Sent as `Authorization: Bearer …` when present. */
  readonly token?: string;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export class SignetClient {
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.#options = options;
  }

  get server(): URL {
    return this.#options.server;
  }

  /** Performs the request; a 2xx answer must be JSON (204 is null), anything else becomes a failure. */
  async requestJson(input: RequestInput): Promise<Result<unknown, CliFailure>> {
    const url = new URL(input.path, this.#options.server);
    const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
    if (input.body !== undefined) headers["content-type"] = "application/json";
    if (input.token !== undefined) headers.authorization = `Bearer ${input.token}`;
    const redact = (s: string): string => (input.token ? s.split(input.token).join("[redacted]") : s);

    let res: Response;
    let text: string;
    try {
      res = await this.#options.fetch(url, {
        method: input.method,
        headers,
        body: input.body === undefined ? null : JSON.stringify(input.body),
        redirect: "manual",
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
      text = await res.text();
    } catch (e) {
      return err(failure("unreachable", `cannot reach ${url.origin}: ${redact(describeNetworkError(e))}`));
    }

    if (res.status < 200 || res.status > 299) return err(failure("rejected", describeErrorAnswer(res, text)));
    // 204 No Content (an eviction): nothing to parse.
    if (res.status === 204) return ok(null);

    try {
      return ok(JSON.parse(text) as unknown);
    } catch {
      const type = res.headers.get("content-type") ?? "no content type";
      return err(failure("bad_response", `the server's answer to ${input.method} ${url.pathname} is not JSON (${oneLine(type, 100)})`));
    }
  }
}

/** The most specific reason Node's fetch gives: `connect ECONNREFUSED 127.0.0.1:1`, a timeout, … */
function describeNetworkError(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === "TimeoutError") return "timed out";
    const cause = (e as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as NodeJS.ErrnoException).code;
      const msg = oneLine(cause.message, 200);
      return code && !msg.includes(code) ? `${msg} (${code})` : msg;
    }
    return oneLine(e.message, 200);
  }
  return "network error";
}

/**
 * One line for a non-2xx answer. RFC 9457 problem details show as
 * `<title>: <detail> (code <code>, HTTP <status>)`.
 */
export function describeErrorAnswer(res: Response, text: string): string {
  const status = `HTTP ${res.status}${res.statusText ? ` ${oneLine(res.statusText, 60)}` : ""}`;
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get("location");
    return `the server redirected (${status}${location ? ` to ${oneLine(location, 200)}` : ""}); check --server`;
  }
  const problem = parseProblem(text);
  if (!problem) return `the server answered ${status}`;
  const title = problem.title ?? (oneLine(res.statusText, 60) || "error");
  const head = problem.detail && problem.detail !== title ? `${title}: ${problem.detail}` : title;
  const tags = [problem.code ? `code ${problem.code}` : undefined, `HTTP ${res.status}`].filter((t) => t !== undefined);
  return `${oneLine(head)} (${tags.join(", ")})`;
}

interface Problem {
  readonly title?: string;
  readonly detail?: string;
  readonly code?: string;
}

function parseProblem(text: string): Problem | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const pick = (k: string): string | undefined => {
    const v = (body as Record<string, unknown>)[k];
    return typeof v === "string" && v !== "" ? oneLine(v, 300) : undefined;
  };
  const problem = { title: pick("title"), detail: pick("detail"), code: pick("code") };
  return problem.title || problem.detail || problem.code ? problem : undefined;
}
