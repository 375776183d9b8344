import { describe, expect, it } from "vitest";
import {
  MAX_DNS_LABEL_LENGTH,
  MAX_DNS_NAME_LENGTH,
  parseDnsName,
  parseDnsNames,
  type DnsNameErrorReason,
} from "../../src/lib/spiffe/dns-name";

/** `n` characters made of 63-char labels joined by dots, ending in a letter label. */
function nameOfLength(n: number): string {
  const labels: string[] = [];
  let len = 0;
  while (len < n) {
    const room = n - len - (labels.length > 0 ? 1 : 0);
    const l = Math.min(MAX_DNS_LABEL_LENGTH, room);
    labels.push("a".repeat(l));
    len += l + (labels.length > 1 ? 1 : 0);
  }
  return labels.join(".");
}

describe("parseDnsName", () => {
  it.each([
    ["simple", "example.com", "example.com"],
    ["single label", "localhost", "localhost"],
    ["subdomain", "api.prod.example.com", "api.prod.example.com"],
    ["digits and hyphens inside labels", "a-1.b2-c.example.com", "a-1.b2-c.example.com"],
    ["label starting with a digit (RFC 1123)", "1password.com", "1password.com"],
    ["numeric labels before an alphabetic TLD", "1.2.3.com", "1.2.3.com"],
    ["uppercase is lowercased", "API.Example.COM", "api.example.com"],
    ["wildcard", "*.example.com", "*.example.com"],
    ["uppercase wildcard name", "*.EXAMPLE.com", "*.example.com"],
    ["A-label (punycode)", "xn--bcher-kva.example", "xn--bcher-kva.example"],
    ["63-char label", `${"a".repeat(63)}.com`, `${"a".repeat(63)}.com`],
    ["253 chars", nameOfLength(MAX_DNS_NAME_LENGTH), nameOfLength(MAX_DNS_NAME_LENGTH)],
    ["single-char labels", "a.b.c", "a.b.c"],
  ])("accepts %s", (_name, input, expected) => {
    expect(parseDnsName(input)).toEqual({ ok: true, value: expected });
  });

  it("the boundary helpers produce the intended lengths", () => {
    expect(nameOfLength(253)).toHaveLength(253);
    expect(nameOfLength(254)).toHaveLength(254);
  });

  it.each<[string, string, DnsNameErrorReason]>([
    ["empty", "", "empty"],
    ["254 chars", nameOfLength(MAX_DNS_NAME_LENGTH + 1), "too_long"],
    ["huge", "a".repeat(1 << 20), "too_long"],
    ["trailing dot", "example.com.", "trailing_dot"],
    ["only a dot", ".", "trailing_dot"],
    ["leading dot", ".example.com", "empty_label"],
    ["double dot", "example..com", "empty_label"],
    ["64-char label", `${"a".repeat(64)}.com`, "label_too_long"],
    ["underscore", "_acme.example.com", "bad_char"],
    ["space", "exa mple.com", "bad_char"],
    ["leading whitespace", " example.com", "bad_char"],
    ["trailing newline", "example.com\n", "bad_char"],
    ["unicode (U-label)", "bücher.example", "bad_char"],
    ["emoji", "😀.example.com", "bad_char"],
    ["port", "example.com:443", "bad_char"],
    ["slash", "example.com/a", "bad_char"],
    ["at-sign", "user@example.com", "bad_char"],
    ["leading hyphen", "-a.example.com", "hyphen_edge"],
    ["trailing hyphen", "a-.example.com", "hyphen_edge"],
    ["hyphen-only label", "-.example.com", "hyphen_edge"],
    ["hyphen at TLD end", "example.co-", "hyphen_edge"],
    ["partial wildcard", "a*.example.com", "bad_wildcard"],
    ["wildcard in middle label", "api.*.example.com", "bad_wildcard"],
    ["double wildcard", "*.*.example.com", "bad_wildcard"],
    ["wildcard without dot", "*example.com", "bad_wildcard"],
    ["bare wildcard", "*", "wildcard_too_broad"],
    ["wildcard on a TLD", "*.com", "wildcard_too_broad"],
    ["wildcard then trailing dot", "*.", "trailing_dot"],
    ["IPv4", "1.2.3.4", "ip_literal"],
    ["out-of-range IPv4", "256.1.1.1", "ip_literal"],
    ["numeric single label", "12345", "ip_literal"],
    ["numeric TLD", "example.123", "ip_literal"],
    ["wildcard over numeric TLD", "*.1.2.3", "ip_literal"],
    ["IPv6", "::1", "ip_literal"],
    ["bracketed IPv6", "[fe80::1]", "ip_literal"],
    ["IPv4-mapped IPv6", "::ffff:1.2.3.4", "ip_literal"],
  ])("rejects %s", (_name, input, reason) => {
    const r = parseDnsName(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.reason).toBe(reason);
      expect(r.error.detail).toMatch(/\S/);
    }
  });

  it("throws TypeError on a non-string (caller misuse)", () => {
    expect(() => parseDnsName(null as unknown as string)).toThrow(TypeError);
  });

  it("20,000 random strings never throw; accepted names are lowercase LDH", () => {
    let seed = 0xd115;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const alphabet = [..."abcXYZ019-.*_:[] \t", "é", "😀", "\u0000", "\ud800", "example", ".com"];
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const len = Math.floor(next() * 30);
      let s = "";
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(next() * alphabet.length)]!;
      const r = parseDnsName(s);
      if (r.ok) {
        accepted++;
        expect(r.value).toBe(s.toLowerCase());
        expect(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(r.value)).toBe(true);
      } else {
        expect(r.error.detail.length).toBeGreaterThan(0);
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });
});

describe("parseDnsNames (the DNS SANs of one certificate)", () => {
  it("keeps names equal after lowercasing once, lowercased, where the first spelling was", () => {
    const r = parseDnsNames(["API.example.org", "b.example.org", "api.example.org", "B.EXAMPLE.ORG", "*.X.example.org", "*.x.example.org", "Api.Example.Org"]);
    expect(r).toEqual({ ok: true, value: ["api.example.org", "b.example.org", "*.x.example.org"] });
  });

  it("keeps distinct names in their order, and an empty list empty", () => {
    expect(parseDnsNames(["c.example.org", "a.example.org", "b.example.org"])).toEqual({ ok: true, value: ["c.example.org", "a.example.org", "b.example.org"] });
    expect(parseDnsNames([])).toEqual({ ok: true, value: [] });
  });

  it("refuses the list at its first invalid name, saying which", () => {
    const r = parseDnsNames(["a.example.org", "A.example.org", "bad_name", "-x.example.org"]);
    expect(r).toMatchObject({ ok: false, error: { index: 2, input: "bad_name", reason: "bad_char" } });
  });
});
