/**
 * The registry's federation relationships (tables/registry.ts `federation_relationships`), as
 * functions over its database so registry.ts keeps only the RPC surface. What a bundle document may
 * hold, when to fetch again and which update is accepted live in lib/spiffe/federation.ts.
 *
 * Invariants:
 * - A relationship is keyed by its trust domain, and a bundle is written only by the fetch made for
 *   that row: the write names the trust domain, URL and creation time the fetch started from, so a
 *   bundle fetched for A never lands under B, nor under a relationship deleted and re-created meanwhile.
 * - A failed or refused fetch keeps the last good bundle and records why (no URL, no body, no secrets).
 * - The accept decision is taken against the row as stored at write time (no await in between), so
 *   two concurrent refreshes cannot roll each other back.
 */
import { readBodyLimited } from "../lib/bounded-body";
import { and, asc, count, eq, gt, inArray, lte, min } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { err, ok, type Result } from "../lib/result";
import type { SpiffeBundleDocument } from "../lib/spiffe/bundle";
import {
  decideUpdate,
  MAX_PEER_BUNDLE_BYTES,
  nextRefreshAt,
  parseBundleEndpointUrl,
  parsePeerBundle,
  type BundleEndpointProfile,
  type PeerBundle,
} from "../lib/spiffe/federation";
import { parseTrustDomain, type TrustDomain } from "../lib/spiffe/id";
import type * as schema from "./tables/registry";
import { federationRelationships as fr } from "./tables/registry";

type Db = DrizzleSqliteDODatabase<typeof schema>;
type Row = typeof fr.$inferSelect;

export const MAX_FEDERATIONS = 1000;
export const DEFAULT_FEDERATION_PAGE_SIZE = 100;
export const MAX_FEDERATION_PAGE_SIZE = 1000;
export const FETCH_TIMEOUT_MS = 10_000;
export const MAX_REDIRECTS = 3;
/** Relationships refreshed at once by the alarm. */
const REFRESH_CONCURRENCY = 8;

export interface FederationDeps {
  readonly db: Db;
  readonly fetch: (url: string, init: RequestInit) => Promise<Response>;
  readonly ownTrustDomain: TrustDomain;
  /** The permissive profile allows http bundle endpoints (a peer on localhost). */
  readonly allowHttp: boolean;
  readonly timeoutMs?: number;
}

export interface FederationStatus {
  /** Whether a good bundle has been stored (it may hold no keys: all revoked). */
  readonly hasBundle: boolean;
  /** The stored bundle's spiffe_sequence as the peer sent it (undefined: none stored, or absent). */
  readonly sequence: number | undefined;
  readonly x509Authorities: number;
  readonly jwtAuthorities: number;
  readonly lastFetchAt: number | undefined;
  readonly lastSuccessAt: number | undefined;
  readonly lastError: string | undefined;
  readonly consecutiveFailures: number;
  readonly nextRefreshAt: number;
}

export interface FederationRelationship {
  readonly trustDomain: string;
  readonly bundleEndpointUrl: string;
  readonly profile: BundleEndpointProfile;
  /** ms. */
  readonly createdAt: number;
  readonly status: FederationStatus;
  /** The last good bundle (getFederation and refresh only; lists leave it out). */
  readonly bundle?: SpiffeBundleDocument;
}

export interface FederationFailure {
  readonly reason:
    | "invalid_trust_domain"
    | "invalid_bundle_endpoint_url"
    | "unsupported_bundle_endpoint_profile"
    | "federation_exists"
    | "federation_not_found"
    | "too_many_federations"
    | "invalid_page_token"
    | "invalid_request"
    | "registry_misconfigured";
  readonly detail: string;
}

export interface CreateFederationInput {
  readonly trustDomain: string;
  readonly bundleEndpointUrl: string;
  readonly profile: string;
  readonly now: number;
}

export type RefreshOutcome = "updated" | "unchanged" | "refused" | "failed";

export interface RefreshResult {
  readonly outcome: RefreshOutcome;
  /** Why it was refused or failed. */
  readonly detail?: string;
  readonly relationship: FederationRelationship;
}

const fail = (reason: FederationFailure["reason"], detail: string) => err<FederationFailure>({ reason, detail });

function toRelationship(row: Row, withBundle: boolean): FederationRelationship {
  const bundle = row.bundleJson === null ? undefined : (JSON.parse(row.bundleJson) as SpiffeBundleDocument);
  const count = (use: string) => bundle?.keys.filter((k) => k.use === use).length ?? 0;
  return {
    trustDomain: row.trustDomain,
    bundleEndpointUrl: row.bundleEndpointUrl,
    profile: row.profile,
    createdAt: row.createdAt,
    status: {
      hasBundle: bundle !== undefined,
      sequence: bundle === undefined ? undefined : (row.sequence ?? undefined),
      x509Authorities: count("x509-svid"),
      jwtAuthorities: count("jwt-svid"),
      lastFetchAt: row.lastFetchAt ?? undefined,
      lastSuccessAt: row.lastSuccessAt ?? undefined,
      lastError: row.lastError ?? undefined,
      consecutiveFailures: row.consecutiveFailures,
      nextRefreshAt: row.nextRefreshAt,
    },
    ...(withBundle && bundle !== undefined ? { bundle } : {}),
  };
}

function peerTrustDomain(s: unknown, own: TrustDomain): Result<TrustDomain, FederationFailure> {
  if (typeof s !== "string") return fail("invalid_trust_domain", "the trust domain must be a string");
  const td = parseTrustDomain(s);
  if (!td.ok) return fail("invalid_trust_domain", `${JSON.stringify(s.slice(0, 64))} is not a trust domain name: ${td.error.detail}`);
  if (td.value === own) return fail("invalid_trust_domain", `${td.value} is this server's own trust domain; federate with other trust domains only`);
  return ok(td.value);
}

/** Validates and stores a relationship (its first fetch is the caller's next step). */
export function createRelationship(deps: FederationDeps, input: CreateFederationInput): Result<FederationRelationship, FederationFailure> {
  const td = peerTrustDomain(input.trustDomain, deps.ownTrustDomain);
  if (!td.ok) return td;
  if (input.profile === "https_spiffe") {
    return fail("unsupported_bundle_endpoint_profile", "the https_spiffe profile is not supported: Signet federates over https_web (the endpoint's certificate from a public CA), which needs no bootstrap bundle");
  }
  if (input.profile !== "https_web") return fail("unsupported_bundle_endpoint_profile", "the bundle endpoint profile must be https_web");
  const url = parseBundleEndpointUrl(input.bundleEndpointUrl, deps.allowHttp);
  if (!url.ok) return fail("invalid_bundle_endpoint_url", url.error.detail);
  const row = { trustDomain: td.value, bundleEndpointUrl: url.value, profile: "https_web" as const, createdAt: input.now, consecutiveFailures: 0, nextRefreshAt: input.now };
  const stored = deps.db.select({ n: count() }).from(fr).get()?.n ?? 0;
  if (stored >= MAX_FEDERATIONS) return fail("too_many_federations", `at most ${MAX_FEDERATIONS} federation relationships`);
  const inserted = deps.db.insert(fr).values(row).onConflictDoNothing().returning().get();
  if (!inserted) return fail("federation_exists", `a federation relationship with ${td.value} exists; delete it first to change it`);
  return ok(toRelationship(inserted, true));
}

export function getRelationship(db: Db, trustDomain: string): Result<FederationRelationship, FederationFailure> {
  const row = typeof trustDomain === "string" ? db.select().from(fr).where(eq(fr.trustDomain, trustDomain)).get() : undefined;
  return row ? ok(toRelationship(row, true)) : fail("federation_not_found", `no federation relationship with ${String(trustDomain).slice(0, 255)}`);
}

export function deleteRelationship(db: Db, trustDomain: string): Result<{ trustDomain: string }, FederationFailure> {
  const gone = typeof trustDomain === "string" ? db.delete(fr).where(eq(fr.trustDomain, trustDomain)).returning({ td: fr.trustDomain }).get() : undefined;
  return gone ? ok({ trustDomain: gone.td }) : fail("federation_not_found", `no federation relationship with ${String(trustDomain).slice(0, 255)}`);
}

/** In trust-domain order; the page token is the last trust domain of the previous page. */
export function listRelationships(db: Db, input: { readonly pageSize?: number; readonly pageToken?: string }): Result<{ relationships: FederationRelationship[]; nextPageToken: string | undefined }, FederationFailure> {
  const size = input.pageSize ?? DEFAULT_FEDERATION_PAGE_SIZE;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_FEDERATION_PAGE_SIZE) return fail("invalid_request", `page_size must be from 1 to ${MAX_FEDERATION_PAGE_SIZE}`);
  if (input.pageToken !== undefined && (typeof input.pageToken !== "string" || !parseTrustDomain(input.pageToken).ok)) {
    return fail("invalid_page_token", "not a page token this server handed out");
  }
  const rows = db
    .select()
    .from(fr)
    .where(input.pageToken === undefined ? undefined : gt(fr.trustDomain, input.pageToken))
    .orderBy(asc(fr.trustDomain))
    .limit(size + 1)
    .all();
  const page = rows.slice(0, size).map((r) => toRelationship(r, false));
  return ok({ relationships: page, nextPageToken: rows.length > size ? page[page.length - 1]!.trustDomain : undefined });
}

/** The last good bundle of each requested trust domain that has one (others are absent). */
export function federatedBundles(db: Db, trustDomains: readonly string[]): Result<{ bundles: { trustDomain: string; bundle: SpiffeBundleDocument }[] }, FederationFailure> {
  if (!Array.isArray(trustDomains) || trustDomains.length > MAX_FEDERATIONS) return fail("invalid_request", `ask for at most ${MAX_FEDERATIONS} trust domains`);
  const wanted = [...new Set(trustDomains.filter((t): t is string => typeof t === "string"))];
  const bundles: { trustDomain: string; bundle: SpiffeBundleDocument }[] = [];
  // 90 per statement stays under the 100 bound parameters a statement may have.
  for (let i = 0; i < wanted.length; i += 90) {
    const rows = db
      .select({ td: fr.trustDomain, json: fr.bundleJson })
      .from(fr)
      .where(inArray(fr.trustDomain, wanted.slice(i, i + 90)))
      .all();
    for (const r of rows) if (r.json !== null) bundles.push({ trustDomain: r.td, bundle: JSON.parse(r.json) as SpiffeBundleDocument });
  }
  bundles.sort((a, b) => (a.trustDomain < b.trustDomain ? -1 : a.trustDomain > b.trustDomain ? 1 : 0));
  return ok({ bundles });
}

/** The earliest next_refresh_at of all relationships (for the alarm), if any. */
export function earliestRefresh(db: Db): number | undefined {
  const row = db.select({ at: min(fr.nextRefreshAt) }).from(fr).get();
  return row?.at ?? undefined;
}

/** Fetches and stores one relationship's bundle now (`force`: accept any valid document; admin only). */
export async function refreshRelationship(deps: FederationDeps, trustDomain: string, options: { readonly now: () => number; readonly force?: boolean }): Promise<Result<RefreshResult, FederationFailure>> {
  const start = typeof trustDomain === "string" ? deps.db.select().from(fr).where(eq(fr.trustDomain, trustDomain)).get() : undefined;
  if (!start) return fail("federation_not_found", `no federation relationship with ${String(trustDomain).slice(0, 255)}`);
  const fetched = await fetchPeerBundle(deps, start.bundleEndpointUrl);
  return ok(recordFetch(deps.db, start, fetched, options.now(), options.force === true));
}

/** Refreshes every relationship due at `now`, a few at a time; returns how many were tried. */
export async function refreshDue(deps: FederationDeps, now: () => number): Promise<number> {
  const due = deps.db.select({ td: fr.trustDomain }).from(fr).where(lte(fr.nextRefreshAt, now())).orderBy(asc(fr.nextRefreshAt)).all();
  let next = 0;
  const worker = async () => {
    while (next < due.length) {
      const td = due[next++]!.td;
      await refreshRelationship(deps, td, { now });
    }
  };
  await Promise.all(Array.from({ length: Math.min(REFRESH_CONCURRENCY, due.length) }, worker));
  return due.length;
}

/**
 * Writes a fetch's outcome into the row it was made for (same trust domain, URL and creation time),
 * deciding against the row as it is now. Synchronous: nothing else runs in between.
 */
function recordFetch(db: Db, start: Row, fetched: Result<PeerBundle, string>, now: number, force: boolean): RefreshResult {
  const same = and(eq(fr.trustDomain, start.trustDomain), eq(fr.bundleEndpointUrl, start.bundleEndpointUrl), eq(fr.createdAt, start.createdAt));
  const row = db.select().from(fr).where(same).get();
  if (!row) {
    // Deleted (or re-created) while the fetch was under way: nothing to record.
    return { outcome: "failed", detail: "the relationship was deleted during the fetch", relationship: toRelationship(start, false) };
  }
  const failed = (outcome: "failed" | "refused", detail: string): RefreshResult => {
    const failures = row.consecutiveFailures + 1;
    const updated = db
      .update(fr)
      .set({ lastFetchAt: now, lastError: detail, consecutiveFailures: failures, nextRefreshAt: nextRefreshAt({ now, refreshHint: undefined, consecutiveFailures: failures }) })
      .where(same)
      .returning()
      .get()!;
    return { outcome, detail, relationship: toRelationship(updated, true) };
  };
  if (!fetched.ok) return failed("failed", fetched.error);
  const peer = fetched.value;
  const stored = row.bundleJson === null ? undefined : { sequence: row.sequence ?? 0, keys: (JSON.parse(row.bundleJson) as SpiffeBundleDocument).keys };
  const decision = decideUpdate(stored, { sequence: peer.document.spiffe_sequence, keys: peer.document.keys }, { force });
  if (!decision.accept && decision.why !== "unchanged") return failed("refused", decision.detail);
  const success = { lastFetchAt: now, lastSuccessAt: now, lastError: null, consecutiveFailures: 0, nextRefreshAt: nextRefreshAt({ now, refreshHint: peer.refreshHint, consecutiveFailures: 0 }) };
  const set = decision.accept ? { ...success, bundleJson: JSON.stringify(peer.document), sequence: peer.sequence ?? null } : success;
  const updated = db.update(fr).set(set).where(same).returning().get()!;
  return { outcome: decision.accept ? "updated" : "unchanged", relationship: toRelationship(updated, true) };
}

/**
 * GET the bundle endpoint: a timeout over the whole exchange, redirects followed by hand (at most
 * MAX_REDIRECTS, each target checked as the configured URL was, never stored), HTTP 200 only, the
 * body read up to MAX_PEER_BUNDLE_BYTES. Errors name what went wrong, never the URL or the body.
 */
async function fetchPeerBundle(deps: FederationDeps, url: string): Promise<Result<PeerBundle, string>> {
  const timeoutMs = deps.timeoutMs ?? FETCH_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let target = url;
  try {
    for (let hop = 0; ; hop++) {
      const res = await deps.fetch(target, { method: "GET", headers: { Accept: "application/json" }, redirect: "manual", signal });
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        const location = res.headers.get("Location");
        if (hop >= MAX_REDIRECTS) return err(`more than ${MAX_REDIRECTS} redirects`);
        if (location === null) return err(`HTTP ${res.status} without a Location`);
        let next: string;
        try {
          next = new URL(location, target).href;
        } catch {
          return err(`HTTP ${res.status} to an invalid Location`);
        }
        const checked = parseBundleEndpointUrl(next, deps.allowHttp);
        if (!checked.ok) return err(`redirected to a URL the https_web profile does not allow (${checked.error.detail})`);
        target = checked.value;
        continue;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        return err(`the bundle endpoint answered HTTP ${res.status}`);
      }
      const body = await readBodyLimited(res, MAX_PEER_BUNDLE_BYTES);
      if (!body) return err(`the bundle is larger than ${MAX_PEER_BUNDLE_BYTES} bytes`);
      const parsed = parsePeerBundle(body);
      return parsed.ok ? parsed : err(`invalid bundle: ${parsed.error.detail}`);
    }
  } catch (e) {
    if (signal.aborted || (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError"))) return err(`no answer within ${timeoutMs / 1000} s`);
    return err(`the bundle endpoint could not be reached (${e instanceof Error ? e.name : "error"})`);
  }
}

