/**
 * SPIFFE IDs and trust domain names (SPIFFE-ID spec §2; notes in specs/spiffe.md §1.1).
 *
 * `spiffe://<trust-domain>[/<segment>]*`. Every rule of the spec is enforced, and a few places are
 * deliberately stricter than the spec's "case-insensitive scheme and trust domain", exactly as
 * go-spiffe (`spiffeid/id.go`, `spiffeid/path.go`) is:
 *
 * - The scheme must be the literal lowercase prefix `spiffe://`. `SPIFFE://…` is rejected rather than
 *   normalised, so there is exactly one spelling of each ID and byte comparison is identity.
 * - The trust domain must already be lowercase; uppercase is rejected, not folded.
 * - Unlike go-spiffe, the 2048-byte limit on the whole ID and the 255-byte limit on the trust domain
 *   are enforced here (the spec says implementations must accept up to 2048 and should not create
 *   longer ones; we refuse to handle longer ones at all).
 *
 * Parsers never throw on hostile input; they scan left to right and report the first violation.
 *
 * Reason codes (stable; `detail` is a human sentence and may change):
 *
 * | reason                  | meaning                                                                 |
 * |-------------------------|-------------------------------------------------------------------------|
 * | `empty`                 | the input is the empty string                                           |
 * | `too_long`              | the whole ID is longer than 2048 bytes (UTF-8)                          |
 * | `wrong_scheme`          | does not start with the literal `spiffe://` (other scheme, uppercase…)  |
 * | `missing_trust_domain`  | nothing between `spiffe://` and the path / end                          |
 * | `has_userinfo`          | the authority contains `@` (`spiffe://user@td/…`)                      |
 * | `has_port`              | the authority contains `:` (`spiffe://td:8080/…`)                      |
 * | `percent_encoded`       | a `%` anywhere in the trust domain or path                              |
 * | `has_query`             | a `?` (query) anywhere after the scheme                                 |
 * | `has_fragment`          | a `#` (fragment) anywhere after the scheme                              |
 * | `bad_trust_domain_char` | a trust domain character outside `[a-z0-9._-]` (incl. uppercase, IPv6)  |
 * | `trust_domain_too_long` | the trust domain is longer than 255 bytes                               |
 * | `bad_path_char`         | a path character outside `[a-zA-Z0-9._-]` and `/`                       |
 * | `empty_segment`         | an empty path segment (`//`)                                            |
 * | `dot_segment`           | a `.` or `..` path segment                                              |
 * | `trailing_slash`        | the path ends with `/` (including `spiffe://td/`)                       |
 * | `no_leading_slash`      | `spiffeIdFromParts`: a non-empty path that does not start with `/`      |
 * | `has_path`              | `parseTrustDomain`: given a full ID that has a path                     |
 * | `no_path`               | `requireWorkloadId`: a root ID (no path); SVIDs need a path             |
 * | `foreign_trust_domain`  | `requireWorkloadId`: the ID is in another trust domain                  |
 */
import { err, ok, type Result } from "../result";

declare const trustDomainBrand: unique symbol;
declare const spiffeIdBrand: unique symbol;

/** A validated trust domain name, e.g. `example.org` (lowercase, `[a-z0-9._-]`, ≤ 255 bytes). */
export type TrustDomain = string & { readonly [trustDomainBrand]: true };
/** A validated SPIFFE ID in its one canonical spelling, e.g. `spiffe://example.org/ns/prod/sa/api`. */
export type SpiffeId = string & { readonly [spiffeIdBrand]: true };

export type SpiffeIdErrorReason =
  | "empty"
  | "too_long"
  | "wrong_scheme"
  | "missing_trust_domain"
  | "has_userinfo"
  | "has_port"
  | "percent_encoded"
  | "has_query"
  | "has_fragment"
  | "bad_trust_domain_char"
  | "trust_domain_too_long"
  | "bad_path_char"
  | "empty_segment"
  | "dot_segment"
  | "trailing_slash"
  | "no_leading_slash"
  | "has_path"
  | "no_path"
  | "foreign_trust_domain";

export interface SpiffeIdError {
  readonly reason: SpiffeIdErrorReason;
  readonly detail: string;
}

/** The spec's minimum that implementations must accept, and our maximum (bytes, whole URI). */
export const MAX_SPIFFE_ID_BYTES = 2048;
/** RFC 3986 host limit, applied to the trust domain (bytes). */
export const MAX_TRUST_DOMAIN_BYTES = 255;

const SCHEME_PREFIX = "spiffe://";

const fail = (reason: SpiffeIdErrorReason, detail: string): Result<never, SpiffeIdError> => err({ reason, detail });

function isTrustDomainChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2e || // .
    c === 0x2d || // -
    c === 0x5f // _
  );
}

function isPathSegmentChar(c: number): boolean {
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a); // plus A-Z
}

/** UTF-8 length without allocating; lone surrogates count as U+FFFD (3 bytes), as TextEncoder does. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function describeChar(s: string, i: number): string {
  const cp = s.codePointAt(i) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return cp > 0x20 && cp < 0x7f ? `'${String.fromCodePoint(cp)}' (${hex})` : hex;
}

/**
 * Validates a bare trust domain name `s[start, end)`. `s` is the whole input, so that errors can
 * refer to positions in it. Order: userinfo, then per-character (port, percent, query, fragment,
 * other), then length.
 */
function checkTrustDomain(s: string, start: number, end: number): Result<void, SpiffeIdError> {
  if (end === start) return fail("missing_trust_domain", "the trust domain is empty");
  // `user:pass@host` would otherwise be reported as a port; the userinfo is the real problem.
  const at = s.indexOf("@", start);
  if (at !== -1 && at < end) return fail("has_userinfo", "the trust domain must not contain userinfo ('@')");
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (isTrustDomainChar(c)) continue;
    switch (c) {
      case 0x3a: // :
        return fail("has_port", "the trust domain must not contain a port (':')");
      case 0x25: // %
        return fail("percent_encoded", "percent-encoding is not allowed in a trust domain");
      case 0x3f: // ?
        return fail("has_query", "a SPIFFE ID must not have a query ('?')");
      case 0x23: // #
        return fail("has_fragment", "a SPIFFE ID must not have a fragment ('#')");
    }
    const hint = c >= 0x41 && c <= 0x5a ? "; trust domains must be lowercase" : "";
    return fail(
      "bad_trust_domain_char",
      `trust domain character ${describeChar(s, i)} at offset ${i} is not in [a-z0-9._-]${hint}`,
    );
  }
  // All characters are ASCII here, so UTF-16 length equals byte length.
  if (end - start > MAX_TRUST_DOMAIN_BYTES) {
    return fail("trust_domain_too_long", `the trust domain is ${end - start} bytes; the limit is ${MAX_TRUST_DOMAIN_BYTES}`);
  }
  return ok(undefined);
}

/** Validates a path `s[start, end)` that is empty or starts with `/` (go-spiffe `ValidatePath`). */
function checkPath(s: string, start: number, end: number): Result<void, SpiffeIdError> {
  let segStart = start; // index of the '/' that opens the current segment
  for (let i = start + 1; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 0x2f; // treat the end as a closing '/'
    if (c === 0x2f) {
      const len = i - segStart - 1;
      if (len === 0) {
        return i === end
          ? fail("trailing_slash", "the path must not end with '/'")
          : fail("empty_segment", `empty path segment ('//') at offset ${segStart}`);
      }
      if ((len === 1 || len === 2) && s.slice(segStart + 1, i) === ".".repeat(len)) {
        return fail("dot_segment", `path segment '${".".repeat(len)}' at offset ${segStart + 1} is not allowed`);
      }
      segStart = i;
      continue;
    }
    if (isPathSegmentChar(c)) continue;
    switch (c) {
      case 0x25:
        return fail("percent_encoded", "percent-encoding is not allowed in a SPIFFE ID path");
      case 0x3f:
        return fail("has_query", "a SPIFFE ID must not have a query ('?')");
      case 0x23:
        return fail("has_fragment", "a SPIFFE ID must not have a fragment ('#')");
    }
    return fail("bad_path_char", `path character ${describeChar(s, i)} at offset ${i} is not in [a-zA-Z0-9._-]`);
  }
  return ok(undefined);
}

function requireString(s: unknown, fn: string): asserts s is string {
  if (typeof s !== "string") throw new TypeError(`${fn}: expected a string, got ${typeof s}`);
}

/**
 * Parses and validates a SPIFFE ID. The accepted string is returned unchanged (there is nothing to
 * normalise: any non-canonical spelling is rejected).
 */
export function parseSpiffeId(s: string): Result<SpiffeId, SpiffeIdError> {
  requireString(s, "parseSpiffeId");
  if (s.length === 0) return fail("empty", "the SPIFFE ID is empty");
  // Each UTF-16 unit is at least one byte, so the cheap check bounds the work on huge inputs.
  if (s.length > MAX_SPIFFE_ID_BYTES || utf8Length(s) > MAX_SPIFFE_ID_BYTES) {
    return fail("too_long", `the SPIFFE ID is longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
  }
  if (!s.startsWith(SCHEME_PREFIX)) {
    return fail("wrong_scheme", "a SPIFFE ID must start with the lowercase scheme prefix 'spiffe://'");
  }
  const tdStart = SCHEME_PREFIX.length;
  let tdEnd = tdStart;
  // The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2).
  while (tdEnd < s.length) {
    const c = s.charCodeAt(tdEnd);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
    tdEnd++;
  }
  const td = checkTrustDomain(s, tdStart, tdEnd);
  if (!td.ok) return td;
  if (tdEnd < s.length) {
    const c = s.charCodeAt(tdEnd);
    if (c === 0x3f) return fail("has_query", "a SPIFFE ID must not have a query ('?')");
    if (c === 0x23) return fail("has_fragment", "a SPIFFE ID must not have a fragment ('#')");
    const path = checkPath(s, tdEnd, s.length);
    if (!path.ok) return path;
  }
  return ok(s as SpiffeId);
}

/**
 * Parses a trust domain given either as a bare name (`example.org`) or as a SPIFFE ID of the trust
 * domain itself (`spiffe://example.org`), like go-spiffe's `TrustDomainFromString`. Input containing
 * `:/` is treated as an ID. Unlike go-spiffe, an ID with a path is refused (`has_path`): a trust domain
 * setting of `spiffe://example.org/foo` is more likely a mistake than a way to name `example.org`.
 */
export function parseTrustDomain(s: string): Result<TrustDomain, SpiffeIdError> {
  requireString(s, "parseTrustDomain");
  if (s.length === 0) return fail("empty", "the trust domain is empty");
  if (s.includes(":/")) {
    const id = parseSpiffeId(s);
    if (!id.ok) return id;
    if (pathOf(id.value) !== "") {
      return fail("has_path", "expected a trust domain, got a SPIFFE ID with a path");
    }
    return ok(trustDomainOf(id.value));
  }
  if (s.length > MAX_SPIFFE_ID_BYTES) {
    // Bound the scan; anything this long fails the 255-byte rule anyway.
    return fail("trust_domain_too_long", `the trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`);
  }
  // A bare name has no path, so '/' is just a bad character (checkTrustDomain reports it).
  const td = checkTrustDomain(s, 0, s.length);
  if (!td.ok) return td;
  return ok(s as TrustDomain);
}

/** The trust domain of a validated ID. */
export function trustDomainOf(id: SpiffeId): TrustDomain {
  const slash = id.indexOf("/", SCHEME_PREFIX.length);
  return id.slice(SCHEME_PREFIX.length, slash === -1 ? undefined : slash) as TrustDomain;
}

/** The path of a validated ID: `""` for a root ID, otherwise `/seg[/seg]*`. */
export function pathOf(id: SpiffeId): string {
  const slash = id.indexOf("/", SCHEME_PREFIX.length);
  return slash === -1 ? "" : id.slice(slash);
}

/** Whether `id` belongs to trust domain `td` (exact comparison; both are canonical). */
export function isMemberOf(id: SpiffeId, td: TrustDomain): boolean {
  return trustDomainOf(id) === td;
}

/** The ID of the trust domain itself, `spiffe://<td>` (the ID a signing authority SVID carries). */
export function trustDomainId(td: TrustDomain): SpiffeId {
  return `${SCHEME_PREFIX}${td}` as SpiffeId;
}

/**
 * Builds an ID from a trust domain and a path (`""` or `/seg[/seg]*`), applying every rule, including
 * the total length limit.
 */
export function spiffeIdFromParts(td: TrustDomain, path: string): Result<SpiffeId, SpiffeIdError> {
  requireString(td, "spiffeIdFromParts");
  requireString(path, "spiffeIdFromParts");
  if (path !== "" && !path.startsWith("/")) {
    return fail("no_leading_slash", "a non-empty SPIFFE ID path must start with '/'");
  }
  // Re-validate td as a bare name too: a brand is only a compile-time promise.
  if (td.length > MAX_SPIFFE_ID_BYTES) return fail("too_long", `the SPIFFE ID is longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
  const checked = checkTrustDomain(td, 0, td.length);
  if (!checked.ok) return checked;
  return parseSpiffeId(`${SCHEME_PREFIX}${td}${path}`);
}

/**
 * Parses an ID that is to be put in (or accepted from) a workload SVID of trust domain `td`: a valid
 * ID, with a path (`no_path`: root IDs name the trust domain, not a workload; X509-SVID spec §4),
 * in `td` (`foreign_trust_domain`).
 */
export function requireWorkloadId(s: string, td: TrustDomain): Result<SpiffeId, SpiffeIdError> {
  const id = parseSpiffeId(s);
  if (!id.ok) return id;
  if (pathOf(id.value) === "") {
    return fail("no_path", "a workload SPIFFE ID must have a path; the root ID names the trust domain");
  }
  const actual = trustDomainOf(id.value);
  if (actual !== td) {
    return fail("foreign_trust_domain", `the SPIFFE ID is in trust domain '${actual}', expected '${td}'`);
  }
  return ok(id.value);
}
