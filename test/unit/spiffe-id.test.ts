import { prng } from "../support/prng";
import { describe, expect, it } from "vitest";
import {
  MAX_SPIFFE_ID_BYTES,
  MAX_TRUST_DOMAIN_BYTES,
  isMemberOf,
  parseSpiffeId,
  parseTrustDomain,
  pathOf,
  requireWorkloadId,
  spiffeIdFromParts,
  trustDomainId,
  trustDomainOf,
  type SpiffeIdErrorReason,
  type TrustDomain,
} from "../../src/lib/spiffe/id";

const PREFIX = "spiffe://example.org/";

function td(s: string): TrustDomain {
  const r = parseTrustDomain(s);
  if (!r.ok) throw new Error(`test setup: ${r.error.detail}`);
  return r.value;
}

describe("parseSpiffeId", () => {
  it.each([
    ["root ID", "spiffe://example.org"],
    ["simple path", "spiffe://example.org/workload"],
    ["multi-segment path", "spiffe://example.org/ns/prod/sa/api"],
    ["all trust domain chars", "spiffe://a-b_c.0-9/x"],
    ["all path chars", "spiffe://example.org/AZaz09.-_"],
    ["IPv4-looking trust domain (not excluded by the spec)", "spiffe://10.0.0.1/a"],
    ["single-char trust domain", "spiffe://a"],
    ["'...' is an ordinary segment", "spiffe://example.org/.../a"],
    ["'.a' and 'a.' are ordinary segments", "spiffe://example.org/.a/a./..b"],
    ["uppercase path (path is case-sensitive)", "spiffe://example.org/Foo/BAR"],
    ["exactly 2048 bytes", PREFIX + "a".repeat(MAX_SPIFFE_ID_BYTES - PREFIX.length)],
    ["trust domain of exactly 255 bytes", `spiffe://${"a".repeat(MAX_TRUST_DOMAIN_BYTES)}/x`],
  ])("accepts %s", (_name, input) => {
    const r = parseSpiffeId(input);
    expect(r).toEqual({ ok: true, value: input });
  });

  it("the 2048-byte case really is 2048 bytes", () => {
    const s = PREFIX + "a".repeat(MAX_SPIFFE_ID_BYTES - PREFIX.length);
    expect(new TextEncoder().encode(s).length).toBe(2048);
  });

  it.each<[string, string, SpiffeIdErrorReason]>([
    // scheme
    ["empty string", "", "empty"],
    ["no scheme", "example.org/a", "wrong_scheme"],
    ["other scheme", "https://example.org/a", "wrong_scheme"],
    ["uppercase scheme", "SPIFFE://example.org/a", "wrong_scheme"],
    ["mixed-case scheme", "Spiffe://example.org/a", "wrong_scheme"],
    ["single slash", "spiffe:/example.org/a", "wrong_scheme"],
    ["no slashes", "spiffe:example.org", "wrong_scheme"],
    ["leading whitespace", " spiffe://example.org/a", "wrong_scheme"],
    ["scheme only, no colon", "spiffe", "wrong_scheme"],
    // trust domain
    ["nothing after scheme", "spiffe://", "missing_trust_domain"],
    ["path but no trust domain", "spiffe:///a", "missing_trust_domain"],
    ["uppercase trust domain", "spiffe://Example.org/a", "bad_trust_domain_char"],
    ["all-uppercase trust domain", "spiffe://EXAMPLE.ORG", "bad_trust_domain_char"],
    ["unicode trust domain", "spiffe://exämple.org/a", "bad_trust_domain_char"],
    ["emoji trust domain", "spiffe://ex😀.org/a", "bad_trust_domain_char"],
    ["space in trust domain", "spiffe://exa mple.org/a", "bad_trust_domain_char"],
    ["tab in trust domain", "spiffe://example.org\t/a", "bad_trust_domain_char"],
    ["trailing newline after root", "spiffe://example.org\n", "bad_trust_domain_char"],
    ["IPv6 literal", "spiffe://[::1]/a", "bad_trust_domain_char"],
    ["plus in trust domain", "spiffe://a+b.org/a", "bad_trust_domain_char"],
    ["backslash in trust domain", "spiffe://example.org\\a", "bad_trust_domain_char"],
    ["NUL in trust domain", "spiffe://exa\u0000mple.org", "bad_trust_domain_char"],
    ["port", "spiffe://example.org:8080/a", "has_port"],
    ["empty port", "spiffe://example.org:/a", "has_port"],
    ["userinfo", "spiffe://user@example.org/a", "has_userinfo"],
    ["userinfo with password", "spiffe://user:pw@example.org/a", "has_userinfo"],
    ["percent-encoded trust domain", "spiffe://ex%41mple.org/a", "percent_encoded"],
    ["trust domain of 256 bytes", `spiffe://${"a".repeat(MAX_TRUST_DOMAIN_BYTES + 1)}/x`, "trust_domain_too_long"],
    // query and fragment
    ["query on root", "spiffe://example.org?q", "has_query"],
    ["query after path", "spiffe://example.org/a?q", "has_query"],
    ["empty query", "spiffe://example.org/a?", "has_query"],
    ["fragment on root", "spiffe://example.org#f", "has_fragment"],
    ["fragment after path", "spiffe://example.org/a#f", "has_fragment"],
    // path
    ["trailing slash on root", "spiffe://example.org/", "trailing_slash"],
    ["trailing slash on path", "spiffe://example.org/a/", "trailing_slash"],
    ["empty segment", "spiffe://example.org//a", "empty_segment"],
    ["empty segment mid-path", "spiffe://example.org/a//b", "empty_segment"],
    ["'.' segment", "spiffe://example.org/./a", "dot_segment"],
    ["'..' segment", "spiffe://example.org/../a", "dot_segment"],
    ["'.' segment mid-path", "spiffe://example.org/a/./b", "dot_segment"],
    ["'..' segment mid-path", "spiffe://example.org/a/../b", "dot_segment"],
    ["final '.' segment", "spiffe://example.org/a/.", "dot_segment"],
    ["final '..' segment", "spiffe://example.org/a/..", "dot_segment"],
    ["percent-encoded slash", "spiffe://example.org/a%2Fb", "percent_encoded"],
    ["percent-encoded char", "spiffe://example.org/%41", "percent_encoded"],
    ["space in path", "spiffe://example.org/a b", "bad_path_char"],
    ["trailing space", "spiffe://example.org/a ", "bad_path_char"],
    ["trailing newline", "spiffe://example.org/a\n", "bad_path_char"],
    ["unicode in path", "spiffe://example.org/café", "bad_path_char"],
    ["colon in path", "spiffe://example.org/a:b", "bad_path_char"],
    ["at-sign in path", "spiffe://example.org/a@b", "bad_path_char"],
    ["tilde in path", "spiffe://example.org/~a", "bad_path_char"],
    ["backslash in path", "spiffe://example.org/a\\b", "bad_path_char"],
    // length
    ["2049 bytes", PREFIX + "a".repeat(MAX_SPIFFE_ID_BYTES - PREFIX.length + 1), "too_long"],
    ["2049 bytes via multi-byte chars", PREFIX + "a".repeat(MAX_SPIFFE_ID_BYTES - PREFIX.length - 1) + "é", "too_long"],
    ["1 MB", PREFIX + "a".repeat(1 << 20), "too_long"],
  ])("rejects %s", (_name, input, reason) => {
    const r = parseSpiffeId(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.reason).toBe(reason);
      expect(r.error.detail).toMatch(/\S/);
    }
  });

  it("throws TypeError on a non-string (caller misuse)", () => {
    expect(() => parseSpiffeId(undefined as unknown as string)).toThrow(TypeError);
    expect(() => parseSpiffeId(42 as unknown as string)).toThrow(TypeError);
  });
});

describe("parseTrustDomain", () => {
  it.each([
    ["bare name", "example.org", "example.org"],
    ["ID of the trust domain", "spiffe://example.org", "example.org"],
    ["all allowed chars", "a-b_c.0-9", "a-b_c.0-9"],
    ["255 bytes", "a".repeat(255), "a".repeat(255)],
    ["255 bytes as ID", `spiffe://${"a".repeat(255)}`, "a".repeat(255)],
  ])("accepts %s", (_name, input, expected) => {
    expect(parseTrustDomain(input)).toEqual({ ok: true, value: expected });
  });

  it.each<[string, string, SpiffeIdErrorReason]>([
    ["empty", "", "empty"],
    ["uppercase", "Example.org", "bad_trust_domain_char"],
    ["unicode", "exämple.org", "bad_trust_domain_char"],
    ["whitespace", " example.org", "bad_trust_domain_char"],
    ["slash without scheme", "example.org/a", "bad_trust_domain_char"],
    ["port", "example.org:8080", "has_port"],
    ["userinfo", "user@example.org", "has_userinfo"],
    ["percent", "ex%41mple.org", "percent_encoded"],
    ["256 bytes", "a".repeat(256), "trust_domain_too_long"],
    ["huge", "a".repeat(100_000), "trust_domain_too_long"],
    ["ID with a path", "spiffe://example.org/a", "has_path"],
    ["ID with trailing slash", "spiffe://example.org/", "trailing_slash"],
    ["uppercase scheme", "SPIFFE://example.org", "wrong_scheme"],
    ["other scheme", "https://example.org", "wrong_scheme"],
    ["single-slash scheme", "spiffe:/example.org", "wrong_scheme"],
    ["ID with empty trust domain", "spiffe://", "missing_trust_domain"],
    ["ID with port", "spiffe://example.org:1", "has_port"],
  ])("rejects %s", (_name, input, reason) => {
    const r = parseTrustDomain(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe(reason);
  });
});

describe("helpers", () => {
  const id = (s: string) => {
    const r = parseSpiffeId(s);
    if (!r.ok) throw new Error(r.error.detail);
    return r.value;
  };

  it.each([
    ["spiffe://example.org", "example.org", ""],
    ["spiffe://example.org/a", "example.org", "/a"],
    ["spiffe://example.org/a/b/c", "example.org", "/a/b/c"],
  ])("trustDomainOf / pathOf %s", (input, expectedTd, expectedPath) => {
    expect(trustDomainOf(id(input))).toBe(expectedTd);
    expect(pathOf(id(input))).toBe(expectedPath);
  });

  it("isMemberOf compares whole trust domain names", () => {
    expect(isMemberOf(id("spiffe://example.org/a"), td("example.org"))).toBe(true);
    expect(isMemberOf(id("spiffe://example.org"), td("example.org"))).toBe(true);
    expect(isMemberOf(id("spiffe://example.org.evil/a"), td("example.org"))).toBe(false);
    expect(isMemberOf(id("spiffe://sub.example.org/a"), td("example.org"))).toBe(false);
    expect(isMemberOf(id("spiffe://example.or/a"), td("example.org"))).toBe(false);
  });

  it("trustDomainId is the root ID", () => {
    const root = trustDomainId(td("example.org"));
    expect(root).toBe("spiffe://example.org");
    expect(parseSpiffeId(root).ok).toBe(true);
    expect(pathOf(root)).toBe("");
  });

  it.each([
    ["", "spiffe://example.org"],
    ["/a", "spiffe://example.org/a"],
    ["/ns/prod/sa/api", "spiffe://example.org/ns/prod/sa/api"],
  ])("spiffeIdFromParts(example.org, %j)", (path, expected) => {
    expect(spiffeIdFromParts(td("example.org"), path)).toEqual({ ok: true, value: expected });
  });

  it.each<[string, string, string, SpiffeIdErrorReason]>([
    ["no leading slash", "example.org", "a", "no_leading_slash"],
    ["no leading slash (would glue onto the trust domain)", "example.org", ".evil/a", "no_leading_slash"],
    ["trailing slash", "example.org", "/", "trailing_slash"],
    ["dot segment", "example.org", "/a/..", "dot_segment"],
    ["empty segment", "example.org", "//a", "empty_segment"],
    ["query", "example.org", "/a?x", "has_query"],
    ["percent", "example.org", "/a%2F", "percent_encoded"],
    ["too long", "example.org", "/" + "a".repeat(2048), "too_long"],
    ["unbranded bad trust domain", "Example.org", "/a", "bad_trust_domain_char"],
    ["unbranded trust domain given as ID", "spiffe://example.org", "/a", "has_port"],
    ["unbranded trust domain with path", "example.org/x", "/a", "bad_trust_domain_char"],
  ])("spiffeIdFromParts rejects %s", (_name, tdInput, path, reason) => {
    const r = spiffeIdFromParts(tdInput as TrustDomain, path);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe(reason);
  });

  it.each<[string, string, SpiffeIdErrorReason | null]>([
    ["spiffe://example.org/workload", "example.org", null],
    ["spiffe://example.org", "example.org", "no_path"],
    ["spiffe://other.org/workload", "example.org", "foreign_trust_domain"],
    ["spiffe://example.org.evil/workload", "example.org", "foreign_trust_domain"],
    ["spiffe://example.org/", "example.org", "trailing_slash"],
    ["SPIFFE://example.org/a", "example.org", "wrong_scheme"],
  ])("requireWorkloadId(%s, %s)", (input, tdInput, reason) => {
    const r = requireWorkloadId(input, td(tdInput));
    if (reason === null) expect(r).toEqual({ ok: true, value: input });
    else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.reason).toBe(reason);
    }
  });
});

describe("hostile input (property-style)", () => {
  const rng = prng;
  const ALPHABET = [
    ..."spiffe://", ..."abcXYZ019", ..."./-_:@%?#[]\\ \t\n", "é", "😀", "\u0000", "\ud800", "\udc00", "spiffe://", "example.org", "/..", "/.",
  ];

  it("20,000 random strings never throw and results are self-consistent", () => {
    const next = rng(0x5eed);
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const len = Math.floor(next() * 40);
      let s = n % 2 === 0 ? "spiffe://" : "";
      for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)]!;
      const r = parseSpiffeId(s);
      const t = parseTrustDomain(s);
      expect(typeof r.ok).toBe("boolean");
      expect(typeof t.ok).toBe("boolean");
      if (r.ok) {
        accepted++;
        // Anything accepted is canonical and round-trips through the helpers.
        expect(r.value).toBe(s);
        expect(/^spiffe:\/\/[a-z0-9._-]+(\/[a-zA-Z0-9._-]+)*$/.test(s)).toBe(true);
        expect(spiffeIdFromParts(trustDomainOf(r.value), pathOf(r.value))).toEqual({ ok: true, value: s });
      } else {
        expect(r.error.detail.length).toBeGreaterThan(0);
      }
    }
    // The generator must exercise the accept path too, or the consistency checks above are vacuous.
    expect(accepted).toBeGreaterThan(0);
  });
});
