import { describe, expect, it } from "vitest";
import { parseConfig, parseSecrets } from "../../src/lib/config";

describe("parseConfig", () => {
  it("defaults", () => {
    const c = parseConfig({});
    expect(c.ok && c.value).toEqual({
      trustDomain: "example.org",
      profile: "permissive",
      oidcIssuer: undefined,
      caKeyType: "ec-p256",
      caTtl: 86400,
      defaultX509SvidTtl: 3600,
      defaultJwtSvidTtl: 300,
      bundleRefreshHint: 300,
    });
  });

  it.each([
    [{ TRUST_DOMAIN: "Example.org" }, "TRUST_DOMAIN"],
    [{ TRUST_DOMAIN: "spiffe://example.org/path" }, "TRUST_DOMAIN"],
    [{ SIGNET_PROFILE: "lax" }, "SIGNET_PROFILE"],
    [{ CA_KEY_TYPE: "ed25519" }, "CA_KEY_TYPE"],
    [{ CA_TTL: "30m" }, "CA_TTL"],
    [{ CA_TTL: "forever" }, "CA_TTL"],
    [{ DEFAULT_JWT_SVID_TTL: "0s" }, "DEFAULT_JWT_SVID_TTL"],
    [{ OIDC_ISSUER: "not a url" }, "OIDC_ISSUER"],
    [{ OIDC_ISSUER: "https://signet.example.com/" }, "OIDC_ISSUER"],
    [{ OIDC_ISSUER: "https://signet.example.com/prefix" }, "OIDC_ISSUER"],
    [{ OIDC_ISSUER: "https://signet.example.com?x=1" }, "OIDC_ISSUER"],
    [{ OIDC_ISSUER: "https://u:p@signet.example.com" }, "OIDC_ISSUER"],
    [{ OIDC_ISSUER: "http://signet.example.com", SIGNET_PROFILE: "restricted" }, "OIDC_ISSUER"],
  ])("rejects %o naming the setting", (vars, setting) => {
    const c = parseConfig(vars);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.error.detail).toContain(setting);
  });

  it("accepts an https origin as issuer, and http only when permissive", () => {
    expect(parseConfig({ OIDC_ISSUER: "https://signet.example.com" })).toMatchObject({ ok: true, value: { oidcIssuer: "https://signet.example.com" } });
    expect(parseConfig({ OIDC_ISSUER: "http://127.0.0.1:8787" })).toMatchObject({ ok: true });
  });
});

describe("parseSecrets", () => {
  it.each([
    [{}, "SIGNET_ADMIN_TOKEN"],
    [{ SIGNET_ADMIN_TOKEN: "short", SIGNET_KEK: "3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs" }, "SIGNET_ADMIN_TOKEN"],
    [{ SIGNET_ADMIN_TOKEN: "x".repeat(32) }, "SIGNET_KEK"],
    [{ SIGNET_ADMIN_TOKEN: "x".repeat(32), SIGNET_KEK: "AAAA" }, "SIGNET_KEK"],
  ])("rejects %o", (vars, name) => {
    const s = parseSecrets(vars);
    expect(s.ok).toBe(false);
    if (!s.ok) {
      expect(s.error.detail).toContain(name);
      // Never echoes a value.
      expect(s.error.detail).not.toContain("short");
    }
  });

  it("accepts a 32-byte base64url KEK", () => {
    const s = parseSecrets({ SIGNET_ADMIN_TOKEN: "x".repeat(32), SIGNET_KEK: "3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs" });
    expect(s.ok && s.value.kek.length).toBe(32);
  });
});
