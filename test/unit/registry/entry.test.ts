import { describe, expect, it } from "vitest";
import { MAX_ENTRY_TTL_SECONDS, validateEntry, validateEntryId, type EntryErrorReason, type EntryInput } from "../../../src/lib/registry/entry";
import type { TrustDomain } from "../../../src/lib/spiffe/id";

const TD = "example.org" as TrustDomain;
const NOW = 1_800_000_000;
const opts = { trustDomain: TD, nowSeconds: NOW };
const base: EntryInput = { spiffeId: "spiffe://example.org/ns/prod/sa/api", parentId: "spiffe://example.org/signet/agent/join_token/abc", selectors: [{ type: "unix", value: "uid:1000" }] };

describe("validateEntry: accepted", () => {
  it("a minimal workload entry gets SPIRE's defaults", () => {
    expect(validateEntry(base, opts)).toEqual({
      ok: true,
      value: { ...base, x509SvidTtl: 0, jwtSvidTtl: 0, federatesWith: [], dnsNames: [], admin: false, downstream: false, hint: "", expiresAt: 0 },
    });
  });

  it("a node entry (parented to the server's ID), every field set, in canonical form", () => {
    const r = validateEntry(
      {
        spiffeId: "spiffe://example.org/node/snp-fleet",
        parentId: "spiffe://example.org/signet/server",
        selectors: [{ type: "tee", value: "type:snp" }, { type: "snp", value: "measurement:ab" }, { type: "tee", value: "type:snp" }],
        x509SvidTtl: 3600,
        jwtSvidTtl: 300,
        federatesWith: ["spiffe://other.org", "b.example", "other.org"],
        dnsNames: ["API.example.org", "api.example.org", "*.svc.example.org"],
        admin: true,
        downstream: true,
        hint: "h".repeat(1024),
        expiresAt: NOW + 1,
      },
      opts,
    );
    expect(r).toMatchObject({
      ok: true,
      value: {
        selectors: [{ type: "snp", value: "measurement:ab" }, { type: "tee", value: "type:snp" }],
        federatesWith: ["b.example", "other.org"],
        dnsNames: ["api.example.org", "*.svc.example.org"],
        admin: true,
        downstream: true,
        expiresAt: NOW + 1,
      },
    });
  });

  it("TTL bounds: 0 and the maximum", () => {
    expect(validateEntry({ ...base, x509SvidTtl: 0, jwtSvidTtl: MAX_ENTRY_TTL_SECONDS }, opts).ok).toBe(true);
  });
});

describe("validateEntry: refused", () => {
  it.each<[string, Partial<EntryInput>, EntryErrorReason, string?]>([
    ["spiffe_id not a SPIFFE ID", { spiffeId: "https://example.org/x" }, "invalid_spiffe_id", "spiffe_id"],
    ["spiffe_id with uppercase trust domain", { spiffeId: "spiffe://Example.org/x" }, "invalid_spiffe_id"],
    ["spiffe_id with a trailing slash", { spiffeId: "spiffe://example.org/x/" }, "invalid_spiffe_id"],
    ["spiffe_id the trust domain itself", { spiffeId: "spiffe://example.org" }, "invalid_spiffe_id", "path"],
    ["spiffe_id in another trust domain", { spiffeId: "spiffe://other.org/x" }, "foreign_trust_domain"],
    ["spiffe_id the server's ID", { spiffeId: "spiffe://example.org/signet/server" }, "invalid_spiffe_id", "reserved"],
    ["spiffe_id an agent ID", { spiffeId: "spiffe://example.org/signet/agent/x" }, "invalid_spiffe_id", "reserved"],
    ["spiffe_id /signet itself", { spiffeId: "spiffe://example.org/signet" }, "invalid_spiffe_id", "reserved"],
    ["spiffe_id missing", { spiffeId: undefined as unknown as string }, "invalid_spiffe_id", "required"],
    ["parent_id in another trust domain", { parentId: "spiffe://other.org/signet/server" }, "foreign_trust_domain", "parent_id"],
    ["parent_id not a SPIFFE ID", { parentId: "spiffe://example.org//a" }, "invalid_spiffe_id", "parent_id"],
    ["parent_id the trust domain itself", { parentId: "spiffe://example.org" }, "invalid_spiffe_id", "parent_id"],
    ["parent_id the entry itself", { parentId: base.spiffeId }, "entry_loop"],
    ["no selectors", { selectors: [] }, "invalid_selector", "at least one"],
    ["an empty selector type", { selectors: [{ type: "", value: "x" }] }, "invalid_selector"],
    ["a ':' in a selector type", { selectors: [{ type: "unix:uid", value: "0" }] }, "invalid_selector"],
    ["an empty selector value", { selectors: [{ type: "unix", value: "" }] }, "invalid_selector"],
    ["selectors not a list", { selectors: "unix:uid:0" as unknown as EntryInput["selectors"] }, "invalid_selector"],
    ["a negative x509_svid_ttl", { x509SvidTtl: -1 }, "invalid_ttl", "x509_svid_ttl"],
    ["a fractional jwt_svid_ttl", { jwtSvidTtl: 1.5 }, "invalid_ttl", "jwt_svid_ttl"],
    ["a TTL over the maximum", { x509SvidTtl: MAX_ENTRY_TTL_SECONDS + 1 }, "invalid_ttl"],
    ["a NaN TTL", { jwtSvidTtl: Number.NaN }, "invalid_ttl"],
    ["a bad DNS name", { dnsNames: ["ok.example.org", "bad_name.example.org"] }, "invalid_dns_name", "dns_names[1]"],
    ["an IP as DNS name", { dnsNames: ["10.0.0.1"] }, "invalid_dns_name"],
    ["too many DNS names", { dnsNames: Array.from({ length: 33 }, (_, i) => `h${i}.example.org`) }, "invalid_dns_name"],
    ["federates_with our own trust domain", { federatesWith: ["example.org"] }, "invalid_entry", "this trust domain"],
    ["federates_with not a trust domain", { federatesWith: ["Other.org"] }, "invalid_entry", "federates_with[0]"],
    ["federates_with an ID with a path", { federatesWith: ["spiffe://other.org/x"] }, "invalid_entry"],
    ["a hint over 1024 characters", { hint: "h".repeat(1025) }, "invalid_entry", "hint"],
    ["expires_at in the past", { expiresAt: NOW - 1 }, "invalid_entry", "past"],
    ["expires_at now", { expiresAt: NOW }, "invalid_entry", "past"],
    ["expires_at negative", { expiresAt: -5 }, "invalid_entry"],
  ])("%s", (_name, change, reason, mentions) => {
    const r = validateEntry({ ...base, ...change }, opts);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.reason).toBe(reason);
    if (mentions) expect(r.error.detail).toContain(mentions);
  });

  it.each(["", "has space", "x".repeat(256)])("a caller-chosen entry id %j", (id) => {
    expect(validateEntryId(id)).toMatchObject({ ok: false, error: { reason: "invalid_entry_id" } });
  });

  it("a caller-chosen entry id that is fine, and none", () => {
    expect(validateEntryId("my-entry.1")).toEqual({ ok: true, value: "my-entry.1" });
    expect(validateEntryId(undefined)).toEqual({ ok: true, value: undefined });
  });
});
