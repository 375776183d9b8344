/**
 * Collateral from vendor services (AMD KDS, Intel PCS or an operator's PCCS), cached and refreshed
 * before it expires, without retry storms:
 *
 * - a cached item is served until `expiresAt − refreshMargin`; inside the margin a refresh is tried
 *   and, if it fails, the still-valid item is served;
 * - a failed fetch opens a back-off window for that key (Retry-After when the service sends one on
 *   429/503, else 1 min doubling to 1 h); inside the window nothing is fetched and callers get
 *   `collateral_unavailable` at once (KDS rate-limits: go-sev-guest's retry loop is what we avoid);
 * - a 429/503 also pauses the whole host (keys derive from evidence, so per-key windows alone would
 *   let many distinct chips or TCBs keep hitting a service that asked us to slow down);
 * - concurrent callers for one key share one request;
 * - uploaded items (air-gapped) are served like fetched ones and replaced only by a newer upload or,
 *   once expired, by a successful fetch.
 *
 * Pure: the store, `fetch` and the clock are injected.
 */
import { err, ok, type Result } from "../../result";
import type { Clock } from "../../clock";

export interface CollateralItem {
  readonly body: Uint8Array;
  /** Response headers that carry collateral (issuer chains), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly fetchedAt: number;
  /** When the item stops being usable (nextUpdate, certificate notAfter), ms. */
  readonly expiresAt: number;
  readonly source: "fetched" | "uploaded";
}

export interface BackoffState {
  readonly failures: number;
  readonly nextAttemptAt: number;
}

/** Where items and back-off windows live (the CollateralStore Durable Object's tables). */
export interface CollateralStoreApi {
  getItem(key: string): Promise<CollateralItem | undefined> | CollateralItem | undefined;
  putItem(key: string, item: CollateralItem): Promise<void> | void;
  getBackoff(key: string): Promise<BackoffState | undefined> | BackoffState | undefined;
  putBackoff(key: string, state: BackoffState | undefined): Promise<void> | void;
}

export interface CollateralError {
  readonly reason: "collateral_unavailable" | "collateral_invalid";
  readonly detail: string;
}

export interface CollateralRequest {
  readonly key: string;
  readonly url: string;
  /** Response headers to keep with the body (lower-case). */
  readonly keepHeaders?: readonly string[];
  /** Validates a response and says when it expires; an error result rejects it (nothing stored). */
  readonly expiry: (body: Uint8Array, headers: Readonly<Record<string, string>>) => Result<number, string> | Promise<Result<number, string>>;
  /** Refresh at the latest this long after the last fetch (CRLs: revocations must not wait a year). */
  readonly maxAgeMs?: number;
  /**
   * Issue time of a body (CRL thisUpdate, TCB Info issueDate): a response older than what is stored
   * never replaces it (no rollback to a CRL from before a revocation).
   */
  readonly issuedAt?: (body: Uint8Array) => number | undefined;
}

export interface FetcherOptions {
  readonly store: CollateralStoreApi;
  readonly fetch: (url: string, init?: RequestInit) => Promise<Response>;
  readonly clock: Clock;
  /** Refresh this long before expiry (default 24 h). */
  readonly refreshMarginMs?: number;
  /** Largest response accepted (default 1 MiB). */
  readonly maxBytes?: number;
  /** Per-request time limit (default 10 s). */
  readonly timeoutMs?: number;
}

const MINUTE = 60_000;
export const MAX_BACKOFF_MS = 60 * MINUTE;

/** Next back-off window after `failures` consecutive failures (1 min, 2, 4, … capped at 1 h). */
export function backoffAfter(failures: number, now: number, retryAfterMs?: number): BackoffState {
  const exponential = Math.min(MINUTE * 2 ** Math.max(0, failures - 1), MAX_BACKOFF_MS);
  const wait = retryAfterMs !== undefined ? Math.min(Math.max(retryAfterMs, MINUTE), 24 * MAX_BACKOFF_MS) : exponential;
  return { failures, nextAttemptAt: now + wait };
}

/** Retry-After as seconds or an HTTP date → ms from now. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export class CollateralFetcher {
  readonly #opts: Required<Omit<FetcherOptions, "store" | "fetch" | "clock">> & FetcherOptions;
  readonly #inFlight = new Map<string, Promise<Result<CollateralItem, CollateralError>>>();

  constructor(opts: FetcherOptions) {
    this.#opts = { refreshMarginMs: 24 * 60 * MINUTE, maxBytes: 1024 * 1024, timeoutMs: 10_000, ...opts };
  }

  async get(req: CollateralRequest): Promise<Result<CollateralItem, CollateralError>> {
    const { store, clock, refreshMarginMs } = this.#opts;
    const now = clock.now();
    const cached = await store.getItem(req.key);
    const usable = cached !== undefined && now < cached.expiresAt;
    const refreshAt = usable ? Math.min(cached.expiresAt - refreshMarginMs, cached.fetchedAt + (req.maxAgeMs ?? Infinity)) : 0;
    if (usable && now < refreshAt) return ok(cached);
    const backoff = await store.getBackoff(req.key);
    const hostPause = await store.getBackoff(hostKey(req.url));
    for (const [what, window] of [[req.key, backoff], [hostKey(req.url), hostPause]] as const) {
      if (window && now < window.nextAttemptAt) {
        return usable ? ok(cached) : err({ reason: "collateral_unavailable", detail: `${what}: fetching paused until ${new Date(window.nextAttemptAt).toISOString()} after ${window.failures} failure(s)` });
      }
    }
    const refreshed = await this.#singleFlight(req, backoff?.failures ?? 0);
    if (refreshed.ok || !usable) return refreshed;
    return ok(cached);
  }

  #singleFlight(req: CollateralRequest, failures: number): Promise<Result<CollateralItem, CollateralError>> {
    let pending = this.#inFlight.get(req.key);
    if (!pending) {
      pending = this.#fetchAndStore(req, failures).finally(() => this.#inFlight.delete(req.key));
      this.#inFlight.set(req.key, pending);
    }
    return pending;
  }

  async #fetchAndStore(req: CollateralRequest, failures: number): Promise<Result<CollateralItem, CollateralError>> {
    const { store, clock } = this.#opts;
    const fail = async (detail: string, retryAfterMs?: number): Promise<Result<CollateralItem, CollateralError>> => {
      await store.putBackoff(req.key, backoffAfter(failures + 1, clock.now(), retryAfterMs));
      return err({ reason: "collateral_unavailable", detail: `${req.key}: ${detail}` });
    };
    let response: Response;
    try {
      response = await this.#opts.fetch(req.url, { signal: AbortSignal.timeout(this.#opts.timeoutMs), redirect: "follow" });
    } catch (e) {
      return fail(`request failed (${e instanceof Error ? e.name : "error"})`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      if (response.status === 429 || response.status === 503) {
        const retryAfter = parseRetryAfter(response.headers.get("Retry-After"), clock.now());
        const host = await store.getBackoff(hostKey(req.url));
        await store.putBackoff(hostKey(req.url), backoffAfter((host?.failures ?? 0) + 1, clock.now(), retryAfter));
        return fail(`HTTP ${response.status}`, retryAfter);
      }
      return fail(`HTTP ${response.status}`);
    }
    const body = await readLimited(response, this.#opts.maxBytes);
    if (!body) return fail(`response larger than ${this.#opts.maxBytes} bytes`);
    const headers: Record<string, string> = {};
    for (const name of req.keepHeaders ?? []) {
      const v = response.headers.get(name);
      if (v !== null) headers[name.toLowerCase()] = v;
    }
    const expiresAt = await req.expiry(body, headers);
    if (!expiresAt.ok) return fail(`invalid response: ${expiresAt.error}`);
    const now = clock.now();
    if (expiresAt.value <= now) return fail("the service returned expired collateral");
    const stored = await store.getItem(req.key);
    if (stored && req.issuedAt && now < stored.expiresAt && (req.issuedAt(stored.body) ?? 0) > (req.issuedAt(body) ?? 0)) {
      // The service sent something older than what we hold: keep ours, and look again later.
      const kept: CollateralItem = { ...stored, fetchedAt: now };
      await store.putItem(req.key, kept);
      await store.putBackoff(req.key, undefined);
      return ok(kept);
    }
    const item: CollateralItem = { body, headers, fetchedAt: now, expiresAt: expiresAt.value, source: "fetched" };
    await store.putItem(req.key, item);
    await store.putBackoff(req.key, undefined);
    await store.putBackoff(hostKey(req.url), undefined);
    return ok(item);
  }
}

/** The back-off key of a whole service. */
function hostKey(url: string): string {
  try {
    return `host:${new URL(url).host}`;
  } catch {
    return `host:${url}`;
  }
}

/** Reads at most `maxBytes`, counting as it streams (a missing or false Content-Length cannot bypass it). */
async function readLimited(response: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get("Content-Length") ?? "0");
  if (declared > maxBytes || !response.body) {
    await response.body?.cancel();
    return response.body ? undefined : new Uint8Array(0);
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
