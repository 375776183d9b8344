/**
 * The sync loop (SPIRE's pkg/agent/manager/sync.go, with Signet's calls; specs/spiffe.md §2.5). One
 * round, from whatever state the cache is in:
 *
 *   1. drop SVIDs that have expired; renew the agent SVID if its rotation point has passed;
 *   2. sync entries from the cursor the last sync ended with (none: a full sync), page by page: a
 *      full sync replaces what is held, a delta brings new or changed entries and removed ids; when
 *      nothing is due, as a long-poll (`wait_ms`) that the server answers as soon as something
 *      changes, so a new entry reaches its workload without waiting for a tick;
 *   3. fetch the bundles (own and federated);
 *   4. sign, in batches of ≤ 500 CSRs, every workload entry whose SVID is missing, past its rotation
 *      point (half-life ± 10 %, fixed per SVID), issued for another SPIFFE ID, DNS names or TTL, or
 *      issued by an authority no longer in the bundle; new keys each time, in memory only.
 *
 * After a round that succeeds the cache holds exactly the server's authorized entries and a fresh
 * SVID for each (the property tests check this from random states). Between rounds the loop waits
 * at least `minIntervalMs` (1 s), so a server that ignores `wait_ms` is polled once a second; after
 * a failure it backs off exponentially with jitter, and the cache keeps serving what it holds.
 */
import type { Clock } from "../lib/clock";
import { err, ok, type Result } from "../lib/result";
import { AgentFatalError, rotationTime, type AgentIdentity } from "./agent-identity";
import { bundleSetFrom } from "./bundles";
import { svidFingerprint, type AgentCache } from "./cache";
import { workloadKeysAndCsrs } from "./csr";
import type { Logger } from "./log";
import type { AgentApi, ServerError } from "./server-client";
import { issuingAuthority, readIssuedSvid } from "./svid";
import type { WireEntry } from "./wire";

export interface SyncLoopOptions {
  readonly client: AgentApi;
  readonly cache: AgentCache;
  readonly identity: AgentIdentity;
  readonly clock: Clock;
  /** Uniform in [0, 1): jitter. */
  readonly random: () => number;
  readonly log: Logger;
  /** Waits `ms` or until `signal` aborts (default: a timer). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The long-poll a converged round asks for (default 20 s; 0 disables it). */
  readonly waitMs?: number;
  readonly minIntervalMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** CSRs per signing call (≤ 500, the server's limit). */
  readonly batchSize?: number;
  /** Called after a round that signed SVIDs, with how many (the agent returns freed memory then). */
  readonly afterSigning?: (signed: number) => void;
  readonly pageSize?: number;
}

/**
 * `ok`: converged; `pending`: more to do at once (the entry set moved during the round);
 * `degraded`: some SVIDs could not be signed; `failed`: a call failed, nothing more was tried.
 */
export type RoundStatus = "ok" | "pending" | "degraded" | "failed";

export interface RoundOutcome {
  readonly status: RoundStatus;
  readonly signed: number;
  readonly failedSvids: number;
  readonly error?: string;
  /** A delta sync delivered changes (then the next round may start at once: it long-polls again or finds nothing). */
  readonly changed?: boolean;
}

const MAX_PAGES = 10_000;

export function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class SyncLoop {
  readonly #o: SyncLoopOptions;
  readonly #waitMs: number;
  readonly #minIntervalMs: number;
  readonly #batchSize: number;
  #longPoll: boolean;
  /** The server's sync cursor, when it hands them out. */
  #cursor: string | undefined;
  #rounds = 0;

  constructor(options: SyncLoopOptions) {
    this.#o = options;
    this.#waitMs = options.waitMs ?? 20_000;
    this.#minIntervalMs = options.minIntervalMs ?? 1_000;
    this.#batchSize = Math.min(500, Math.max(1, options.batchSize ?? 500));
    this.#longPoll = this.#waitMs > 0;
  }

  /** Completed rounds (any status), for tests and logs. */
  get rounds(): number {
    return this.#rounds;
  }

  /** Rounds until `signal` aborts. Only an AgentFatalError ends it early (thrown). */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.#o;
    const sleep = this.#o.sleep ?? defaultSleep;
    let failures = 0;
    let status: RoundStatus = "pending";
    let hurried = false;
    while (!signal.aborted) {
      const started = clock.now();
      let outcome: RoundOutcome;
      try {
        outcome = await this.round({ wait: status === "ok" && failures === 0, signal });
      } catch (e) {
        if (e instanceof AgentFatalError) throw e;
        outcome = { status: "failed", signed: 0, failedSvids: 0, error: `unexpected: ${e instanceof Error ? e.message : String(e)}` };
      }
      status = outcome.status;
      const rest = Math.max(0, this.#minIntervalMs - (clock.now() - started));
      let delay: number;
      if (status === "ok" || status === "pending") {
        failures = 0;
        // After a delta with changes the next round starts at once (it long-polls again), so an entry
        // created meanwhile is not held back by the minimum interval; never twice in a row, so even a
        // server reporting changes on every answer is asked at most twice a second.
        const hurry: boolean = status === "ok" && outcome.changed === true && !hurried;
        hurried = hurry;
        delay = hurry ? 0 : rest;
      } else {
        failures++;
        delay = Math.max(rest, this.backoff(failures));
        log.warn(status === "failed" ? "sync round failed; serving what is cached" : "some SVIDs could not be signed", { error: outcome.error, failed_svids: outcome.failedSvids, retry_in_ms: delay });
      }
      await sleep(delay, signal);
    }
  }

  /** The wait after the n-th failure in a row: base·2^(n−1), capped, with "equal jitter" (½ to 1×). */
  backoff(failures: number): number {
    const base = this.#o.backoffBaseMs ?? 1_000;
    const max = this.#o.backoffMaxMs ?? 60_000;
    const full = Math.min(max, base * 2 ** Math.min(30, failures - 1));
    return Math.floor(full / 2 + (this.#o.random() * full) / 2);
  }

  /** One round (see the file's header). `wait`: long-poll the entry sync when nothing is due sooner. */
  async round(options: { readonly wait?: boolean; readonly signal?: AbortSignal } = {}): Promise<RoundOutcome> {
    const { cache, identity, clock } = this.#o;
    this.#rounds++;
    for (const s of [...cache.svids()]) if (clock.now() >= s.notAfter) cache.dropSvid(s.entryId);
    cache.flush();

    const fresh = await identity.ensureFresh();
    if (!fresh.ok) return { status: "failed", signed: 0, failedSvids: 0, error: fresh.error };

    const synced = await this.#syncEntries(options.wait === true ? this.#waitFor() : undefined, options.signal);
    if (options.signal?.aborted) return { status: "ok", signed: 0, failedSvids: 0 };
    cache.flush();
    if (!synced.ok) return this.#failed(synced.error, "entry sync");

    const bundles = await this.#refreshBundles();
    cache.flush();
    if (!bundles.ok) return bundles.error === undefined ? this.#failedLocally("the bundles answer is not usable") : this.#failed(bundles.error, "bundle fetch");

    const signed = await this.#signDue();
    cache.markReady();
    cache.flush();
    if (!signed.ok) return this.#failed(signed.error, "X.509-SVID signing");
    const status: RoundStatus = signed.value.failed > 0 ? "degraded" : synced.value.consistent ? "ok" : "pending";
    return { status, signed: signed.value.signed, failedSvids: signed.value.failed, changed: synced.value.changed };
  }

  /** How long the entry sync may wait: until the next rotation point, at most `waitMs`. */
  #waitFor(): number | undefined {
    if (!this.#longPoll) return undefined;
    let next = this.#o.identity.rotateAt;
    for (const s of this.#o.cache.svids()) next = Math.min(next, s.rotateAt);
    const wait = Math.min(this.#waitMs, next - this.#o.clock.now());
    return wait >= 1_000 ? Math.floor(wait) : undefined;
  }

  async #failed(e: ServerError, what: string): Promise<RoundOutcome> {
    const recovered = await this.#o.identity.recover(e, what);
    return { status: recovered.ok ? "pending" : "failed", signed: 0, failedSvids: 0, error: recovered.ok ? `${what}: re-attested` : recovered.error };
  }

  #failedLocally(error: string): RoundOutcome {
    return { status: "failed", signed: 0, failedSvids: 0, error };
  }

  async #syncEntries(waitMs: number | undefined, signal: AbortSignal | undefined): Promise<Result<{ consistent: boolean; changed: boolean }, ServerError>> {
    const { client, cache, log } = this.#o;
    const serverId = `spiffe://${cache.trustDomain}/signet/server`;
    const base = this.#cursor === undefined ? {} : { cursor: this.#cursor };
    const listed = new Set<string>();
    let pageToken: string | undefined;
    let wait = waitMs;
    let changed = false;
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const r = await client.syncEntries({ ...base, pageSize: this.#o.pageSize ?? 500, ...(pageToken ? { pageToken } : {}), ...(wait !== undefined ? { waitMs: wait, ...(signal ? { signal } : {}) } : {}) });
      if (!r.ok) {
        if (r.error.status === 400 && wait !== undefined) {
          // A server without long-poll refuses the unknown field: poll (once a second) instead.
          this.#longPoll = false;
          log.warn("the server does not long-poll entry syncs; polling instead", { detail: r.error.detail });
        } else if (r.error.status === 400) {
          // A cursor or page token the server does not honour: the next round syncs in full.
          this.#cursor = undefined;
        }
        return err(r.error);
      }
      wait = undefined;
      const page = r.value;
      cache.applyEntries(page.entries, page.removed);
      changed ||= !page.full && (page.entries.length > 0 || page.removed.length > 0);
      for (const e of page.entries) if (e.parent_id !== serverId) listed.add(e.id);
      if (page.entries.length > 0 || page.removed.length > 0) log.debug("entries synced", { changed: page.entries.length, removed: page.removed.length, held: cache.entryCount() });
      pageToken = page.next_page_token ?? undefined;
      if (pageToken) continue;
      if (page.full) cache.retainOnly(listed);
      this.#cursor = page.cursor ?? undefined;
      // Without a cursor to go on from, the next round must list everything again, at once.
      return ok({ consistent: this.#cursor !== undefined, changed });
    }
    this.#cursor = undefined;
    return ok({ consistent: false, changed });
  }

  /** Undefined error: the answer arrived but is not usable. */
  async #refreshBundles(): Promise<{ ok: true } | { ok: false; error: ServerError | undefined }> {
    const { client, cache, log } = this.#o;
    const r = await client.bundles();
    if (!r.ok) return { ok: false, error: r.error };
    const set = bundleSetFrom(r.value, cache.trustDomain);
    if (!set.ok) {
      log.error("the server's bundles are not usable", { detail: set.error });
      return { ok: false, error: undefined };
    }
    const changed = set.value.fingerprint !== cache.bundleSet().fingerprint;
    cache.setBundles(set.value);
    if (changed) log.info("bundles updated", { trust_domains: [...set.value.bundles.keys()] });
    return { ok: true };
  }

  #due(now: number): WireEntry[] {
    const { cache } = this.#o;
    const authorities = cache.bundleSet().ownAuthorityKeys;
    return cache.workloadEntries().filter((e) => {
      if (e.expires_at > 0 && e.expires_at * 1000 <= now) return false;
      const s = cache.svid(e.id);
      return !s || now >= s.rotateAt || s.issuedFor !== svidFingerprint(e) || (s.authority !== undefined && !authorities.has(s.authority));
    });
  }

  async #signDue(): Promise<Result<{ signed: number; failed: number }, ServerError>> {
    const { client, cache, clock, log, random } = this.#o;
    const due = this.#due(clock.now());
    let signed = 0;
    let failed = 0;
    let refreshed = false;
    for (let i = 0; i < due.length; i += this.#batchSize) {
      const batch = due.slice(i, i + this.#batchSize);
      const keys = await workloadKeysAndCsrs(batch.length);
      const r = await client.signX509Svids(batch.map((e, j) => ({ entry_id: e.id, csr: keys[j]!.csr })));
      if (!r.ok) return err(r.error);
      const results = new Map(r.value.results.map((x) => [x.entry_id, x]));
      for (let j = 0; j < batch.length; j++) {
        const entry = batch[j]!;
        const result = results.get(entry.id);
        if (!result || result.status !== "ok" || !("svid" in result)) {
          failed++;
          log.warn("X.509-SVID not signed", { entry_id: entry.id, spiffe_id: entry.spiffe_id, status: result?.status ?? "no result", detail: result && "detail" in result ? result.detail : undefined });
          continue;
        }
        const issued = readIssuedSvid(result.svid, entry.spiffe_id, keys[j]!.spki, clock.now());
        if (!issued.ok) {
          failed++;
          log.warn("X.509-SVID not usable", { entry_id: entry.id, spiffe_id: entry.spiffe_id, detail: issued.error });
          continue;
        }
        let authority = await issuingAuthority(issued.value.chain, cache.bundleSet().ownAuthorities);
        if (authority === undefined && !refreshed) {
          // Signed by an authority the agent has not seen yet (the CA just rotated): fetch the bundle once.
          refreshed = true;
          const b = await this.#refreshBundles();
          if (!b.ok && b.error) return err(b.error);
          authority = await issuingAuthority(issued.value.chain, cache.bundleSet().ownAuthorities);
        }
        if (authority === undefined) log.error("X.509-SVID does not chain to the bundle", { entry_id: entry.id, spiffe_id: entry.spiffe_id });
        cache.putSvid({
          entryId: entry.id,
          chain: issued.value.chain,
          privateKeyPkcs8: keys[j]!.pkcs8,
          notBefore: issued.value.notBefore,
          notAfter: issued.value.notAfter,
          rotateAt: rotationTime(issued.value.notBefore, issued.value.notAfter, random),
          issuedFor: svidFingerprint(entry),
          authority,
        });
        signed++;
      }
      cache.flush();
    }
    if (signed > 0) {
      log.info("X.509-SVIDs signed", { count: signed, held: [...cache.svids()].length });
      this.#o.afterSigning?.(signed);
    }
    return ok({ signed, failed });
  }
}
