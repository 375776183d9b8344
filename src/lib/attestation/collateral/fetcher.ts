/**
 * Collateral from vendor services (AMD KDS, Intel PCS or an operator's PCCS), cached and refreshed
 * before it expires, without retry storms:
 *
 * - an answer is stored only once it verified as its request says (signatures and chains to the
 *   pinned vendor roots, and for the very key asked for: chip and TCB, FMSPC, CA); an answer that
 *   does not verify is a failed fetch;
 * - a stored item is trusted only once it verified in this instance (memoised by its exact bytes):
 *   a row that does not verify (written by an older version, or against a since-revoked signer) is
 *   deleted, never served and never compared with;
 * - a cached item is served until `expiresAt − refreshMargin`; inside the margin a refresh is tried
 *   and, if it fails, the still-valid item is served;
 * - a failed fetch opens a back-off window for that key (Retry-After when the service sends one on
 *   429/503, else 1 min doubling to 1 h); inside the window nothing is fetched and callers get
 *   `collateral_unavailable` at once (KDS rate-limits: go-sev-guest's retry loop is what we avoid);
 * - a 429/503 also pauses the whole host (keys derive from evidence, so per-key windows alone would
 *   let many distinct chips or TCBs keep hitting a service that asked us to slow down);
 * - concurrent callers for one key share one request;
 * - no rollback: an item issued before the verified item stored under its key never replaces it;
 * - uploaded items (air-gapped) are judged by `admit` exactly as fetched answers are, and served
 *   like them.
 *
 * Pure: the store, `fetch` and the clock are injected.
 */
import { readBodyLimited } from "../../bounded-body";
import { err, ok, type Result } from "../../result";
import type { Clock } from "../../clock";
import { BoundedCache } from "../../bounded-cache";
import { bytesEqual } from "../../x509/der-reader";

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
  deleteItem(key: string): Promise<void> | void;
  getBackoff(key: string): Promise<BackoffState | undefined> | BackoffState | undefined;
  putBackoff(key: string, state: BackoffState | undefined): Promise<void> | void;
}

export interface CollateralError {
  readonly reason: "collateral_unavailable" | "collateral_invalid";
  readonly detail: string;
}

/** What verifying an item established. */
export interface VerifiedCollateral {
  /** The key the item belongs under, from what it says it is for (product, chip and TCB; FMSPC; CA). */
  readonly key: string;
  /** When it stops being usable (nextUpdate, certificate notAfter), ms. */
  readonly expiresAt: number;
  /** When it was issued (CRL thisUpdate, issueDate): an item issued earlier never replaces it. */
  readonly issuedAt?: number | undefined;
}

/** Verifies an item (a body and its kept headers) to the pinned vendor roots; the reason it does not, as text. */
export type CollateralVerifier = (body: Uint8Array, headers: Readonly<Record<string, string>>) => Promise<Result<VerifiedCollateral, string>>;

export interface CollateralRequest {
  readonly key: string;
  readonly url: string;
  /** Response headers to keep with the body (lower-case). */
  readonly keepHeaders?: readonly string[];
  /** Verifies an answer, and a stored item, for this key; an item for another key is refused. */
  readonly verify: CollateralVerifier;
  /** Refresh at the latest this long after the last fetch (CRLs: revocations must not wait a year). */
  readonly maxAgeMs?: number;
}

/** An item that may be stored under `key`. */
export interface Admitted {
  readonly key: string;
  readonly item: CollateralItem;
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
/** Stored items whose verification is remembered (keys derive from evidence: bounded). */
const VERIFIED_ITEMS = 1024;

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

interface Trusted {
  readonly item: CollateralItem;
  readonly verified: VerifiedCollateral;
}

/** An admitted item, or the verified stored one it is older than. */
type Judgement = { readonly newer: true; readonly admitted: Admitted } | { readonly newer: false; readonly stored: CollateralItem };

export class CollateralFetcher {
  readonly #opts: Required<Omit<FetcherOptions, "store" | "fetch" | "clock">> & FetcherOptions;
  readonly #inFlight = new Map<string, Promise<Result<CollateralItem, CollateralError>>>();
  readonly #verified = new BoundedCache<Trusted>(VERIFIED_ITEMS);

  constructor(opts: FetcherOptions) {
    this.#opts = { refreshMarginMs: 24 * 60 * MINUTE, maxBytes: 1024 * 1024, timeoutMs: 10_000, ...opts };
  }

  async get(req: CollateralRequest): Promise<Result<CollateralItem, CollateralError>> {
    const { store, clock, refreshMarginMs } = this.#opts;
    const now = clock.now();
    const cached = (await this.#trusted(req.key, req.verify))?.item;
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

  /**
   * An item obtained out of band (an admin upload), judged exactly as a fetched answer is: it must
   * verify, be unexpired, and not be older than the verified item stored under its key. Nothing is
   * stored: the caller puts `item` under `key` (several in one transaction).
   */
  async admit(verify: CollateralVerifier, body: Uint8Array, headers: Readonly<Record<string, string>>): Promise<Result<Admitted, string>> {
    const judged = await this.#judge(verify, body, headers, "uploaded");
    if (!judged.ok) return judged;
    return judged.value.newer ? ok(judged.value.admitted) : err("older than the one already stored");
  }

  /** The stored item under `key` if it verifies (once per instance and exact bytes); one that does not is deleted. */
  async #trusted(key: string, verify: CollateralVerifier): Promise<Trusted | undefined> {
    const item = await this.#opts.store.getItem(key);
    if (!item) return undefined;
    const known = this.#verified.get(key);
    if (known && sameContent(known.item, item)) return { item: { ...item, expiresAt: known.verified.expiresAt }, verified: known.verified };
    const verified = await verify(item.body, item.headers);
    if (!verified.ok || verified.value.key !== key) {
      // Unless someone stored a new item meanwhile.
      const current = await this.#opts.store.getItem(key);
      if (current && sameContent(current, item)) await this.#opts.store.deleteItem(key);
      return undefined;
    }
    // Its own expiry, not the stored one (a row an older version wrote may say anything).
    const trusted = { item: { ...item, expiresAt: verified.value.expiresAt }, verified: verified.value };
    this.#verified.set(key, trusted);
    return trusted;
  }

  /** Verification, expiry and the rollback guard, for an answer or an upload. */
  async #judge(verify: CollateralVerifier, body: Uint8Array, headers: Readonly<Record<string, string>>, source: CollateralItem["source"], expectedKey?: string): Promise<Result<Judgement, string>> {
    const verified = await verify(body, headers);
    if (!verified.ok) return verified;
    const v = verified.value;
    if (expectedKey !== undefined && v.key !== expectedKey) return err(`it is for ${v.key}, not ${expectedKey}`);
    const now = this.#opts.clock.now();
    if (v.expiresAt <= now) return err(`expired at ${new Date(v.expiresAt).toISOString()}`);
    const stored = await this.#trusted(v.key, verify);
    if (stored && now < stored.item.expiresAt && (stored.verified.issuedAt ?? 0) > (v.issuedAt ?? 0)) return ok({ newer: false, stored: stored.item });
    const item: CollateralItem = { body, headers, fetchedAt: now, expiresAt: v.expiresAt, source };
    this.#verified.set(v.key, { item, verified: v });
    return ok({ newer: true, admitted: { key: v.key, item } });
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
    const body = await readBodyLimited(response, this.#opts.maxBytes);
    if (!body) return fail(`response larger than ${this.#opts.maxBytes} bytes`);
    const headers: Record<string, string> = {};
    for (const name of req.keepHeaders ?? []) {
      const v = response.headers.get(name);
      if (v !== null) headers[name.toLowerCase()] = v;
    }
    const judged = await this.#judge(req.verify, body, headers, "fetched", req.key);
    if (!judged.ok) return fail(`invalid response: ${judged.error}`);
    let item: CollateralItem;
    if (judged.value.newer) {
      item = judged.value.admitted.item;
      await store.putBackoff(hostKey(req.url), undefined);
    } else {
      // The service sent something older than what we hold: keep ours, and look again later.
      item = { ...judged.value.stored, fetchedAt: clock.now() };
    }
    await store.putItem(req.key, item);
    await store.putBackoff(req.key, undefined);
    return ok(item);
  }
}

/** Same bytes and headers (what verification looked at). */
function sameContent(a: CollateralItem, b: CollateralItem): boolean {
  if (!bytesEqual(a.body, b.body)) return false;
  const ak = Object.keys(a.headers);
  return ak.length === Object.keys(b.headers).length && ak.every((k) => a.headers[k] === b.headers[k]);
}

/** The back-off key of a whole service. */
function hostKey(url: string): string {
  try {
    return `host:${new URL(url).host}`;
  } catch {
    return `host:${url}`;
  }
}

