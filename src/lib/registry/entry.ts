/**
 * Registration entries (SPIRE's model, specs/spiffe.md §2.4) and the validation of an entry as an
 * admin gives it, before the registry stores it. Pure: the trust domain and the time are parameters.
 *
 * Rules (SPIRE's entry API, and a few bounds of ours):
 * - `spiffe_id`: a workload ID (with a path) in our trust domain, not under the reserved `/signet`
 *   path (the server's and agents' IDs; SPIRE reserves `/spire`).
 * - `parent_id`: an ID with a path in our trust domain: an agent ID, a node entry's ID, or the
 *   server ID `spiffe://<td>/signet/server` for node entries. Not the entry's own `spiffe_id`.
 * - `selectors`: 1–32, canonical (see selectors.ts).
 * - `x509_svid_ttl`, `jwt_svid_ttl`: whole seconds, 0 (the server's default) to 2^31−1 (SPIRE's int32).
 * - `dns_names`: DNS names (dns-name.ts), at most 32 after removing repeats.
 * - `federates_with`: up to 32 trust domains, not our own; deduplicated and sorted.
 * - `hint`: at most 1024 characters (SPIRE's limit).
 * - `expires_at`: unix seconds in the future, or 0 for never.
 *
 * Reasons name the wire error each maps to (`invalid_spiffe_id`, `foreign_trust_domain`, …).
 */
import { err, ok, type Result } from "../result";
import { parseDnsNames, type DnsName } from "../spiffe/dns-name";
import { parseSpiffeId, parseTrustDomain, pathOf, trustDomainOf, type SpiffeId, type TrustDomain } from "../spiffe/id";
import { isReservedPath, parseEntryId, serverIdOf, type EntryId } from "./ids";
import { canonicalSelectors, type Selector } from "./selectors";

/** An entry as an admin gives it (camelCase; the wire schema maps snake_case onto this). */
export interface EntryInput {
  /** A caller-chosen id (SPIRE allows one); otherwise the registry makes a UUID. */
  readonly id?: string;
  readonly spiffeId: string;
  readonly parentId: string;
  readonly selectors: readonly Selector[];
  readonly x509SvidTtl?: number;
  readonly jwtSvidTtl?: number;
  readonly federatesWith?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly admin?: boolean;
  readonly downstream?: boolean;
  readonly hint?: string;
  /** Unix seconds; 0 or absent = never. */
  readonly expiresAt?: number;
}

/** The validated fields of an entry, in canonical form. */
export interface EntryFields {
  readonly spiffeId: SpiffeId;
  readonly parentId: SpiffeId;
  readonly selectors: readonly Selector[];
  readonly x509SvidTtl: number;
  readonly jwtSvidTtl: number;
  readonly federatesWith: readonly TrustDomain[];
  readonly dnsNames: readonly DnsName[];
  readonly admin: boolean;
  readonly downstream: boolean;
  readonly hint: string;
  readonly expiresAt: number;
}

/** A stored entry. Times are unix seconds, as SPIRE's. */
export interface Entry extends EntryFields {
  readonly id: string;
  readonly revisionNumber: number;
  readonly createdAt: number;
}

export type EntryErrorReason =
  | "invalid_entry_id"
  | "invalid_spiffe_id"
  | "foreign_trust_domain"
  | "invalid_selector"
  | "invalid_ttl"
  | "invalid_dns_name"
  | "entry_loop"
  | "invalid_entry";

export interface EntryError {
  readonly reason: EntryErrorReason;
  readonly detail: string;
}

export const MAX_ENTRY_TTL_SECONDS = 2_147_483_647;
export const MAX_HINT_LENGTH = 1024;
export const MAX_ENTRY_DNS_NAMES = 32;
export const MAX_FEDERATES_WITH = 32;

export interface ValidateEntryOptions {
  readonly trustDomain: TrustDomain;
  /** `expires_at` must be after this; undefined when it is not being set (an update that keeps it). */
  readonly nowSeconds: number | undefined;
}

const fail = (reason: EntryErrorReason, detail: string): Result<never, EntryError> => err({ reason, detail });

function memberId(s: unknown, field: string, td: TrustDomain): Result<SpiffeId, EntryError> {
  if (typeof s !== "string") return fail("invalid_spiffe_id", `${field} is required`);
  const id = parseSpiffeId(s);
  if (!id.ok) return fail("invalid_spiffe_id", `${field}: ${id.error.detail}`);
  if (trustDomainOf(id.value) !== td) return fail("foreign_trust_domain", `${field} is in trust domain '${trustDomainOf(id.value)}', not '${td}'`);
  if (pathOf(id.value) === "") return fail("invalid_spiffe_id", `${field} must have a path; the root ID names the trust domain`);
  return ok(id.value);
}

function ttl(value: number | undefined, field: string): Result<number, EntryError> {
  if (value === undefined) return ok(0);
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_ENTRY_TTL_SECONDS) {
    return fail("invalid_ttl", `${field} must be a whole number of seconds from 0 to ${MAX_ENTRY_TTL_SECONDS}`);
  }
  return ok(value);
}

function federatesWith(list: readonly string[], td: TrustDomain): Result<TrustDomain[], EntryError> {
  const out = new Set<TrustDomain>();
  for (const [i, s] of list.entries()) {
    const parsed = typeof s === "string" ? parseTrustDomain(s) : undefined;
    if (!parsed?.ok) return fail("invalid_entry", `federates_with[${i}] is not a trust domain${parsed ? `: ${parsed.error.detail}` : ""}`);
    if (parsed.value === td) return fail("invalid_entry", `federates_with[${i}] is this trust domain; an entry federates with other trust domains`);
    out.add(parsed.value);
  }
  if (out.size > MAX_FEDERATES_WITH) return fail("invalid_entry", `federates_with lists more than ${MAX_FEDERATES_WITH} trust domains`);
  return ok([...out].sort());
}

/** Validates an entry id if one is given (a caller-chosen id). */
export function validateEntryId(id: string | undefined): Result<EntryId | undefined, EntryError> {
  if (id === undefined) return ok(undefined);
  const parsed = parseEntryId(id);
  return parsed.ok ? parsed : fail("invalid_entry_id", parsed.error.detail);
}

/** Validates an entry's fields and puts them in canonical form. */
export function validateEntry(input: EntryInput, options: ValidateEntryOptions): Result<EntryFields, EntryError> {
  const td = options.trustDomain;
  const spiffeId = memberId(input.spiffeId, "spiffe_id", td);
  if (!spiffeId.ok) return spiffeId;
  if (isReservedPath(pathOf(spiffeId.value))) {
    return fail("invalid_spiffe_id", `spiffe_id: the path /signet is reserved for the server and its agents`);
  }
  const parentId = memberId(input.parentId, "parent_id", td);
  if (!parentId.ok) return parentId;
  if (parentId.value === spiffeId.value) return fail("entry_loop", "parent_id is the entry's own spiffe_id");

  if (!Array.isArray(input.selectors)) return fail("invalid_selector", "selectors must be a list");
  const selectors = canonicalSelectors(input.selectors);
  if (!selectors.ok) return fail("invalid_selector", selectors.error.detail);

  const x509 = ttl(input.x509SvidTtl, "x509_svid_ttl");
  if (!x509.ok) return x509;
  const jwt = ttl(input.jwtSvidTtl, "jwt_svid_ttl");
  if (!jwt.ok) return jwt;

  const dns = parseDnsNames(input.dnsNames ?? []);
  if (!dns.ok) return fail("invalid_dns_name", `dns_names[${dns.error.index}]: ${dns.error.detail}`);
  if (dns.value.length > MAX_ENTRY_DNS_NAMES) return fail("invalid_dns_name", `at most ${MAX_ENTRY_DNS_NAMES} distinct DNS names are allowed`);

  const federated = federatesWith(input.federatesWith ?? [], td);
  if (!federated.ok) return federated;

  const hint = input.hint ?? "";
  if (typeof hint !== "string" || hint.length > MAX_HINT_LENGTH) return fail("invalid_entry", `hint must be at most ${MAX_HINT_LENGTH} characters`);

  const expiresAt = input.expiresAt ?? 0;
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) return fail("invalid_entry", "expires_at must be unix seconds, or 0 for never");
  if (expiresAt !== 0 && options.nowSeconds !== undefined && expiresAt <= options.nowSeconds) return fail("invalid_entry", "expires_at is in the past");

  return ok({
    spiffeId: spiffeId.value,
    parentId: parentId.value,
    selectors: selectors.value,
    x509SvidTtl: x509.value,
    jwtSvidTtl: jwt.value,
    federatesWith: federated.value,
    dnsNames: dns.value,
    admin: input.admin === true,
    downstream: input.downstream === true,
    hint,
    expiresAt,
  });
}

/** Whether an entry is a node entry (an alias): parented to the server's ID. */
export function isNodeEntry(entry: Pick<EntryFields, "parentId">, td: TrustDomain): boolean {
  return entry.parentId === serverIdOf(td);
}

