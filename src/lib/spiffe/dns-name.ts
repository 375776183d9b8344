/**
 * DNS names for the dNSName SANs of X509-SVIDs (registration entries' `dns_names`; SPIRE copies them
 * into the SVID and uses the first as the subject CN, specs/spiffe.md §2.3).
 *
 * Accepted: RFC 1123 host names in RFC 5280 "preferred name syntax", ASCII only (an internationalised
 * name must be given in its A-label form, `xn--…`), with one optional leading `*.` wildcard label.
 * The result is lowercased, so equal names compare equal. A certificate's list of names goes through
 * `parseDnsNames`, which keeps names equal after lowercasing once (a SAN never lists a name twice).
 *
 * - Labels: letters, digits and `-`; 1–63 characters; not starting or ending with `-`.
 * - Whole name: at most 253 characters (the wire limit of 255 octets minus length prefixes).
 * - No trailing dot: a SAN is never written in absolute form.
 * - A wildcard may only be the whole left-most label and must be followed by at least two labels:
 *   `*.com` would match a whole public suffix (CA/Browser Forum BR §3.2.2.6 forbids such names; we have
 *   no public-suffix list, so we refuse the always-wrong single-label case).
 * - IP addresses are not DNS names: a name whose last label is all digits (`1.2.3.4`, `10`) cannot be
 *   a host name (no top-level domain is numeric), and anything that looks like an IPv6 literal is
 *   refused the same way. IP SANs are a different SAN type.
 *
 * Reason codes (stable):
 *
 * | reason               | meaning                                                        |
 * |----------------------|----------------------------------------------------------------|
 * | `empty`              | the input is the empty string                                  |
 * | `too_long`           | longer than 253 characters                                     |
 * | `trailing_dot`       | ends with `.` (absolute form)                                  |
 * | `empty_label`        | an empty label (leading dot, `..`)                             |
 * | `label_too_long`     | a label longer than 63 characters                              |
 * | `bad_char`           | a character other than letters, digits, `-`, `.` (and `*.`)    |
 * | `hyphen_edge`        | a label starts or ends with `-`                                |
 * | `bad_wildcard`       | `*` anywhere but as the whole left-most label                  |
 * | `wildcard_too_broad` | a wildcard followed by fewer than two labels (`*.com`, `*`)    |
 * | `ip_literal`         | an IPv4 or IPv6 address, or a name with an all-numeric last label |
 */
import { err, ok, type Result } from "../result";

declare const dnsNameBrand: unique symbol;

/** A validated, lowercased DNS name (optionally `*.`-wildcarded) fit for a dNSName SAN. */
export type DnsName = string & { readonly [dnsNameBrand]: true };

export type DnsNameErrorReason =
  | "empty"
  | "too_long"
  | "trailing_dot"
  | "empty_label"
  | "label_too_long"
  | "bad_char"
  | "hyphen_edge"
  | "bad_wildcard"
  | "wildcard_too_broad"
  | "ip_literal";

export interface DnsNameError {
  readonly reason: DnsNameErrorReason;
  readonly detail: string;
}

export const MAX_DNS_NAME_LENGTH = 253;
export const MAX_DNS_LABEL_LENGTH = 63;

const fail = (reason: DnsNameErrorReason, detail: string): Result<never, DnsNameError> => err({ reason, detail });

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isLetter = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** `::1`, `[fe80::1]`, `::ffff:1.2.3.4`: hex digits, dots and at least one `:`, optionally bracketed. */
function looksLikeIpv6(s: string): boolean {
  const inner = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  if (!inner.includes(":")) return false;
  for (let i = 0; i < inner.length; i++) {
    const c = inner.charCodeAt(i);
    if (!(isHex(c) || c === 0x3a || c === 0x2e)) return false;
  }
  return true;
}

function describeChar(s: string, i: number): string {
  const cp = s.codePointAt(i) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return cp > 0x20 && cp < 0x7f ? `'${String.fromCodePoint(cp)}' (${hex})` : hex;
}

/** Parses a dNSName SAN value; returns it lowercased. Never throws on hostile input. */
export function parseDnsName(s: string): Result<DnsName, DnsNameError> {
  if (typeof s !== "string") throw new TypeError(`parseDnsName: expected a string, got ${typeof s}`);
  if (s.length === 0) return fail("empty", "the DNS name is empty");
  if (s.length > MAX_DNS_NAME_LENGTH) {
    return fail("too_long", `the DNS name is ${s.length} characters; the limit is ${MAX_DNS_NAME_LENGTH}`);
  }
  if (looksLikeIpv6(s)) return fail("ip_literal", "an IPv6 address is not a DNS name (use an IP SAN)");
  if (s.endsWith(".")) return fail("trailing_dot", "the DNS name must not end with '.'");

  const labels = s.split(".");
  let first = 0;
  if (labels[0] === "*") {
    if (labels.length < 3) {
      return fail("wildcard_too_broad", "a wildcard must be followed by at least two labels (e.g. '*.example.com')");
    }
    first = 1;
  }

  let offset = first === 1 ? 2 : 0;
  for (let li = first; li < labels.length; li++) {
    const label = labels[li] ?? "";
    if (label.length === 0) return fail("empty_label", `empty label at offset ${offset}`);
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (isLetter(c) || isDigit(c) || c === 0x2d) continue;
      if (c === 0x2a) {
        return fail("bad_wildcard", "'*' is only allowed as the whole left-most label ('*.example.com')");
      }
      const hint = c > 0x7f ? "; internationalised names must be given in A-label form ('xn--…')" : "";
      return fail("bad_char", `character ${describeChar(label, i)} at offset ${offset + i} is not allowed${hint}`);
    }
    if (label.length > MAX_DNS_LABEL_LENGTH) {
      return fail("label_too_long", `label at offset ${offset} is ${label.length} characters; the limit is ${MAX_DNS_LABEL_LENGTH}`);
    }
    if (label.charCodeAt(0) === 0x2d || label.charCodeAt(label.length - 1) === 0x2d) {
      return fail("hyphen_edge", `label at offset ${offset} starts or ends with '-'`);
    }
    offset += label.length + 1;
  }

  const last = labels[labels.length - 1] ?? "";
  let numeric = true;
  for (let i = 0; i < last.length && numeric; i++) numeric = isDigit(last.charCodeAt(i));
  if (numeric) {
    return fail("ip_literal", "an all-numeric last label is an IP address, not a host name (use an IP SAN)");
  }
  return ok(s.toLowerCase() as DnsName);
}

export interface DnsNameListError extends DnsNameError {
  /** Position of the first invalid name in the input list, and the name as given. */
  readonly index: number;
  readonly input: string;
}

/**
 * Parses the dNSName SANs of one certificate. Names equal after lowercasing (`API.example.org`,
 * `api.example.org`) are one name: each is kept once, lowercased, where its first spelling was.
 */
export function parseDnsNames(names: readonly string[]): Result<DnsName[], DnsNameListError> {
  const unique = new Set<DnsName>();
  for (const [index, input] of names.entries()) {
    const name = parseDnsName(input);
    if (!name.ok) return err({ ...name.error, index, input });
    unique.add(name.value);
  }
  return ok([...unique]);
}
