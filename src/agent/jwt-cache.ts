/**
 * JWT-SVIDs the agent has minted, per (SPIFFE ID, audiences as a sorted set), as SPIRE's agent keeps
 * them (pkg/agent/manager/cache/jwt_cache.go): served from the cache until half their lifetime has
 * passed, then minted again; while the server cannot be reached a cached one is served until it
 * expires. Concurrent requests for the same key share one mint. Bounded: expired tokens go first,
 * then the oldest.
 */
import type { Clock } from "../lib/clock";
import { decodeJwsJsonPart } from "../lib/jws-parts";
import type { Result } from "../lib/result";
import type { ServerError } from "./server-client";
import type { JwtSvid } from "./state";
import type { JwtSvidAnswer } from "./wire";

export type JwtMinter = (entryId: string, audience: readonly string[]) => Promise<Result<JwtSvidAnswer, ServerError>>;

interface Cached {
  readonly svid: JwtSvid;
  /** Mint again from here on (ms). */
  readonly refreshAt: number;
}

export const MAX_CACHED_JWT_SVIDS = 4096;

/** Unique, sorted: `aud` order and repetition do not make another token. */
export function audienceSet(audiences: readonly string[]): string[] {
  return [...new Set(audiences)].sort();
}

export class JwtSvidCache {
  readonly #clock: Clock;
  readonly #mint: JwtMinter;
  readonly #max: number;
  readonly #cached = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<JwtSvid>>();

  constructor(clock: Clock, mint: JwtMinter, max = MAX_CACHED_JWT_SVIDS) {
    this.#clock = clock;
    this.#mint = mint;
    this.#max = max;
  }

  get size(): number {
    return this.#cached.size;
  }

  /** A JWT-SVID for `entryId` (SPIFFE ID `spiffeId`) with these audiences; rejects with a readable Error. */
  async get(entryId: string, spiffeId: string, hint: string, audiences: readonly string[]): Promise<JwtSvid> {
    const aud = audienceSet(audiences);
    const key = JSON.stringify([spiffeId, aud]);
    const now = this.#clock.now();
    const cached = this.#cached.get(key);
    if (cached && now < cached.refreshAt) return { ...cached.svid, hint };
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#fetch(key, entryId, spiffeId, aud, hint, cached).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return { ...(await pending), hint };
  }

  /** Forgets the tokens of SPIFFE IDs the agent no longer holds an entry for. */
  retain(spiffeIds: ReadonlySet<string>): void {
    for (const [key, c] of this.#cached) if (!spiffeIds.has(c.svid.spiffeId)) this.#cached.delete(key);
  }

  async #fetch(key: string, entryId: string, spiffeId: string, aud: string[], hint: string, stale: Cached | undefined): Promise<JwtSvid> {
    const minted = await this.#mint(entryId, aud);
    const now = this.#clock.now();
    if (!minted.ok) {
      if (stale && now < stale.svid.expiresAt) return stale.svid;
      throw new Error(`cannot mint a JWT-SVID: ${minted.error.detail}`);
    }
    if (minted.value.spiffe_id !== spiffeId) throw new Error("cannot mint a JWT-SVID: the server answered for another SPIFFE ID");
    const expiresAt = minted.value.expires_at * 1000;
    const iat = decodeJwsJsonPart(minted.value.token.split(".")[1] ?? "")?.iat;
    const issuedAt = typeof iat === "number" && Number.isFinite(iat) && iat * 1000 <= expiresAt ? iat * 1000 : now;
    const svid: JwtSvid = { spiffeId: minted.value.spiffe_id, token: minted.value.token, hint, expiresAt };
    this.#store(key, { svid, refreshAt: issuedAt + (expiresAt - issuedAt) / 2 }, now);
    return svid;
  }

  #store(key: string, value: Cached, now: number): void {
    this.#cached.delete(key);
    if (this.#cached.size >= this.#max) {
      for (const [k, c] of this.#cached) if (now >= c.svid.expiresAt) this.#cached.delete(k);
      for (const k of this.#cached.keys()) {
        if (this.#cached.size < this.#max) break;
        this.#cached.delete(k);
      }
    }
    this.#cached.set(key, value);
  }
}
