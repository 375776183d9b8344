/**
 * Wire shapes of /admin/v1/federation (snake_case lives only here). The schemas check types and
 * coarse sizes; the trust domain, the URL and the profile are checked by the registry
 * (durable/registry-federation.ts, lib/spiffe/federation.ts), each with its own error code. Times
 * are unix seconds, as for entries.
 */
import { z } from "zod";
import { MAX_FEDERATION_PAGE_SIZE, type FederationRelationship, type RefreshResult } from "../../durable/registry-federation";

/** `POST /admin/v1/federation`: the three parameters SPIFFE Federation §5 says a relationship needs. */
export const CreateFederationBody = z.strictObject({
  trust_domain: z.string().max(1024),
  bundle_endpoint_url: z.string().max(4096),
  /** Checked by the registry, so that https_spiffe gets its own answer. */
  bundle_endpoint_profile: z.string().max(64),
});

/** `POST /admin/v1/federation/{td}/refresh` (the body is optional). */
export const RefreshFederationBody = z.strictObject({ force: z.boolean().optional() });

export const ListFederationsQuery = z.strictObject({
  page_size: z
    .string()
    .regex(/^[0-9]{1,4}$/, `must be a decimal number from 1 to ${MAX_FEDERATION_PAGE_SIZE}`)
    .transform(Number)
    .pipe(z.number().min(1, `must be from 1 to ${MAX_FEDERATION_PAGE_SIZE}`).max(MAX_FEDERATION_PAGE_SIZE, `must be from 1 to ${MAX_FEDERATION_PAGE_SIZE}`))
    .optional(),
  page_token: z.string().max(512).optional(),
});

const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.floor(ms / 1000));

/**
 * A relationship as the API sends it. `bundle_status`: `current` (a bundle, and the last fetch
 * succeeded), `stale` (a bundle kept after the last fetch failed or was refused), `missing` (no
 * bundle fetched yet). `trust_domain_bundle` (SPIRE's name) is the last good bundle, when asked for.
 */
export function toWireFederation(r: FederationRelationship): Record<string, unknown> {
  const s = r.status;
  return {
    trust_domain: r.trustDomain,
    bundle_endpoint_url: r.bundleEndpointUrl,
    bundle_endpoint_profile: r.profile,
    created_at: seconds(r.createdAt),
    bundle_status: !s.hasBundle ? "missing" : s.lastError === undefined ? "current" : "stale",
    spiffe_sequence: s.sequence ?? null,
    x509_authorities: s.x509Authorities,
    jwt_authorities: s.jwtAuthorities,
    last_fetch_at: seconds(s.lastFetchAt),
    last_success_at: seconds(s.lastSuccessAt),
    last_error: s.lastError ?? null,
    consecutive_failures: s.consecutiveFailures,
    next_refresh_at: seconds(s.nextRefreshAt),
    ...(r.bundle !== undefined ? { trust_domain_bundle: r.bundle } : {}),
  };
}

/** The answer to create and refresh: the relationship and what the fetch just made did. */
export function toWireRefresh(r: RefreshResult): Record<string, unknown> {
  return { federation: toWireFederation(r.relationship), refresh: { outcome: r.outcome, ...(r.detail !== undefined ? { detail: r.detail } : {}) } };
}
