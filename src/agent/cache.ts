/**
 * The agent's in-memory state (implements state.ts's AgentState for the Workload API): the synced
 * registration entries, one X.509-SVID with its private key per workload entry, the bundles, and the
 * JWT-SVID cache. Nothing here is written to disk.
 *
 * Invariants:
 * - only the sync loop writes (applyEntries, putSvid, dropSvid, setBundles, markReady); the Workload
 *   API reads and subscribes;
 * - an SVID is served only while its entry is held (removing an entry removes its SVID);
 * - node entries (parented to `spiffe://<td>/signet/server`) are kept out: they name groups of
 *   agents, not workloads (the server does not send them; SPIRE's agent would not serve them either);
 * - subscribers hear of a change once per `flush()` (the loop flushes after each step), not per write;
 * - `version()` moves on every change of SVIDs or bundles (at the write, not the flush), and what the
 *   Workload API asks per caller (its identities, its matching entries) is kept per caller selector
 *   array until the SVIDs or the entries change.
 */
import type { Clock } from "../lib/clock";
import type { ParsedCertificate } from "../lib/x509/cert-reader";
import type { AgentState, JwtSvid, StateChange, TrustBundle, X509Identity } from "./state";
import { JwtSvidCache, type JwtMinter } from "./jwt-cache";
import type { WireEntry } from "./wire";

/** An SVID as the loop keeps it: what the Workload API serves plus when to rotate it. */
export interface CachedSvid {
  readonly entryId: string;
  readonly chain: readonly Uint8Array[];
  readonly privateKeyPkcs8: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  /** Sign a new one from here on (half-life with jitter), ms. */
  readonly rotateAt: number;
  /** What of the entry the SVID was issued for (spiffe_id, dns_names, x509_svid_ttl). */
  readonly issuedFor: string;
  /** The issuing authority's SPKI (base64), or undefined when no authority of the bundle was found. */
  readonly authority: string | undefined;
}

export interface BundleSet {
  readonly bundles: ReadonlyMap<string, TrustBundle>;
  /** The own trust domain's authorities, parsed (to find which one signed an SVID). */
  readonly ownAuthorities: readonly ParsedCertificate[];
  /** Their SPKIs, base64. */
  readonly ownAuthorityKeys: ReadonlySet<string>;
  /** Changes when anything in the bundles does. */
  readonly fingerprint: string;
}

/** What of an entry its X.509-SVID depends on: a change here needs a new SVID. */
export function svidFingerprint(e: WireEntry): string {
  return JSON.stringify([e.spiffe_id, [...e.dns_names].sort(), e.x509_svid_ttl]);
}

export function selectorStrings(e: WireEntry): string[] {
  return e.selectors.map((s) => `${s.type}:${s.value}`);
}

export class AgentCache implements AgentState {
  readonly trustDomain: string;
  readonly #serverId: string;
  readonly #clock: Clock;
  readonly #entries = new Map<string, WireEntry>();
  readonly #svids = new Map<string, CachedSvid>();
  #identities: X509Identity[] | undefined = [];
  #bundles: BundleSet = { bundles: new Map(), ownAuthorities: [], ownAuthorityKeys: new Set(), fingerprint: "" };
  #ready = false;
  readonly #listeners = new Set<(change: StateChange) => void>();
  readonly #dirty = new Set<StateChange>();
  readonly #jwt: JwtSvidCache;
  #version = 0;
  /** Entries oldest first with their selectors as strings; undefined after any entry changed. */
  #sorted: { readonly entry: WireEntry; readonly selectors: readonly string[] }[] | undefined;
  /** Per caller selector array (the Workload API passes one array per connection): its identities. */
  #identitiesFor = new WeakMap<readonly string[], readonly X509Identity[]>();
  /** Per caller selector array: the entries it matches, oldest first. */
  #entriesFor = new WeakMap<readonly string[], readonly WireEntry[]>();

  constructor(options: { readonly trustDomain: string; readonly clock: Clock; readonly mintJwtSvid: JwtMinter }) {
    this.trustDomain = options.trustDomain;
    this.#serverId = `spiffe://${options.trustDomain}/signet/server`;
    this.#clock = options.clock;
    this.#jwt = new JwtSvidCache(options.clock, options.mintJwtSvid);
  }

  // ------------------------------------------------------------------ AgentState (read side)

  ready(): boolean {
    return this.#ready;
  }

  x509IdentitiesFor(callerSelectors: readonly string[]): readonly X509Identity[] {
    const kept = this.#identitiesFor.get(callerSelectors);
    if (kept) return kept;
    const have = new Set(callerSelectors);
    const found = this.#allIdentities().filter((i) => i.selectors.length > 0 && i.selectors.every((s) => have.has(s)));
    this.#identitiesFor.set(callerSelectors, found);
    return found;
  }

  version(): number {
    return this.#version;
  }

  bundles(): ReadonlyMap<string, TrustBundle> {
    return this.#bundles.bundles;
  }

  async fetchJwtSvids(callerSelectors: readonly string[], audiences: readonly string[], spiffeId?: string): Promise<readonly JwtSvid[]> {
    if (audiences.length === 0) throw new TypeError("a JWT-SVID needs at least one audience");
    const entry = this.#matchingEntries(callerSelectors).find((e) => spiffeId === undefined || e.spiffe_id === spiffeId);
    if (!entry) return [];
    return [await this.#jwt.get(entry.id, entry.spiffe_id, entry.hint, audiences)];
  }

  subscribe(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ------------------------------------------------------------------ the sync loop's side

  entryCount(): number {
    return this.#entries.size;
  }

  workloadEntries(): readonly WireEntry[] {
    return [...this.#entries.values()];
  }

  svid(entryId: string): CachedSvid | undefined {
    return this.#svids.get(entryId);
  }

  svids(): IterableIterator<CachedSvid> {
    return this.#svids.values();
  }

  bundleSet(): BundleSet {
    return this.#bundles;
  }

  /** New or changed entries, and ids no longer authorized. Node entries are ignored. */
  applyEntries(changed: readonly WireEntry[], removed: readonly string[]): void {
    for (const id of removed) this.#removeEntry(id);
    for (const e of changed) {
      if (e.parent_id === this.#serverId) {
        this.#removeEntry(e.id);
        continue;
      }
      const before = this.#entries.get(e.id);
      this.#entries.set(e.id, e);
      this.#entriesChanged();
      // An SVID for another SPIFFE ID must not be served under this entry; other changes keep it until re-signed.
      if (before && before.spiffe_id !== e.spiffe_id) this.dropSvid(e.id);
      else if (before && this.#svids.has(e.id)) this.#touch("x509");
    }
    this.#jwt.retain(new Set([...this.#entries.values()].map((e) => e.spiffe_id)));
  }

  /** After a full sync: every entry not listed is gone. */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of [...this.#entries.keys()]) if (!ids.has(id)) this.#removeEntry(id);
  }

  putSvid(svid: CachedSvid): void {
    if (!this.#entries.has(svid.entryId)) return;
    this.#svids.set(svid.entryId, svid);
    this.#touch("x509");
  }

  dropSvid(entryId: string): void {
    if (this.#svids.delete(entryId)) this.#touch("x509");
  }

  setBundles(next: BundleSet): void {
    if (next.fingerprint === this.#bundles.fingerprint) return;
    this.#bundles = next;
    this.#touch("bundles");
  }

  markReady(): void {
    this.#ready = true;
  }

  /** Tells subscribers what changed since the last flush. A listener that throws is not the cache's problem. */
  flush(): void {
    const changes = [...this.#dirty];
    this.#dirty.clear();
    for (const change of changes) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(change);
        } catch {
          // The Workload API's listeners handle their own errors; one failing must not stop the others.
        }
      }
    }
  }

  // ------------------------------------------------------------------ internals

  #removeEntry(id: string): void {
    if (!this.#entries.delete(id)) return;
    this.#entriesChanged();
    if (this.#svids.delete(id)) this.#touch("x509");
  }

  #entriesChanged(): void {
    this.#sorted = undefined;
    this.#entriesFor = new WeakMap();
  }

  #touch(change: StateChange): void {
    if (change === "x509") {
      this.#identities = undefined;
      this.#identitiesFor = new WeakMap();
    }
    this.#version++;
    this.#dirty.add(change);
  }

  #sortedEntries(): readonly { readonly entry: WireEntry; readonly selectors: readonly string[] }[] {
    this.#sorted ??= [...this.#entries.values()]
      .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((entry) => ({ entry, selectors: selectorStrings(entry) }));
    return this.#sorted;
  }

  /** The entries whose selectors are a non-empty subset of the caller's, oldest first. */
  #matchingEntries(callerSelectors: readonly string[]): readonly WireEntry[] {
    const kept = this.#entriesFor.get(callerSelectors);
    if (kept) return kept;
    const have = new Set(callerSelectors);
    const found = this.#sortedEntries()
      .filter((e) => e.selectors.length > 0 && e.selectors.every((s) => have.has(s)))
      .map((e) => e.entry);
    this.#entriesFor.set(callerSelectors, found);
    return found;
  }

  /** Every identity, oldest entry first (the default identity of a caller is the first), rebuilt on change. */
  #allIdentities(): X509Identity[] {
    if (this.#identities) return this.#identities;
    const now = this.#clock.now();
    const out: X509Identity[] = [];
    for (const { entry: e } of this.#sortedEntries()) {
      const s = this.#svids.get(e.id);
      if (!s || now >= s.notAfter) continue;
      out.push({
        entryId: e.id,
        spiffeId: e.spiffe_id,
        hint: e.hint,
        selectors: selectorStrings(e),
        chain: s.chain,
        privateKeyPkcs8: s.privateKeyPkcs8,
        expiresAt: s.notAfter,
        federatesWith: e.federates_with.map((td) => td.replace(/^spiffe:\/\//, "")),
      });
    }
    this.#identities = out;
    return out;
  }
}
