import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig, parseSecrets } from "../../src/lib/config";

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
      collateralSources: {
        kds: "https://kdsintf.amd.com",
        pcs: "https://api.trustedservices.intel.com",
        rootCrl: "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der",
      },
      kbsPolicySelectors: {},
      x509popTrustAnchors: [],
    });
  });

  it("X509POP_CA_BUNDLE: PEM CA certificates become the x509pop trust anchors; anything else is refused", () => {
    const ca = readFileSync("test/fixtures/x509pop/ca.pem", "utf8");
    const leaf = readFileSync("test/fixtures/x509pop/agent.pem", "utf8");
    const c = parseConfig({ X509POP_CA_BUNDLE: ca });
    expect(c.ok && c.value.x509popTrustAnchors).toHaveLength(1);
    for (const [bundle, why] of [
      [leaf, "certificate 1 is not a CA certificate"],
      ["not pem", "must be PEM CERTIFICATE blocks"],
      ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "certificate 1 does not parse"],
      [ca.repeat(33), "holds at most 32 certificates"],
    ] as const) {
      expect(parseConfig({ X509POP_CA_BUNDLE: bundle })).toEqual({ ok: false, error: { reason: "invalid_config", detail: `X509POP_CA_BUNDLE ${why}` } });
    }
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
    // Restricted: the issuer is required (else it follows the request's Host header), sources are https.
    [{ SIGNET_PROFILE: "restricted" }, "OIDC_ISSUER"],
    [{ SIGNET_PROFILE: "restricted", OIDC_ISSUER: "https://s.example.com", AMD_KDS_URL: "http://kds.example" }, "AMD_KDS_URL"],
    [{ SIGNET_PROFILE: "restricted", OIDC_ISSUER: "https://s.example.com", INTEL_PCS_URL: "http://pccs.internal:8081" }, "INTEL_PCS_URL"],
    [{ SIGNET_PROFILE: "restricted", OIDC_ISSUER: "https://s.example.com", INTEL_ROOT_CA_CRL_URL: "http://crl.example/root.der" }, "INTEL_ROOT_CA_CRL_URL"],
    [{ INTEL_PCS_URL: "ftp://pccs.example" }, "INTEL_PCS_URL"],
    [{ INTEL_PCS_URL: "not a url" }, "INTEL_PCS_URL"],
    [{ INTEL_PCS_URL: "https://pccs.example/" }, "INTEL_PCS_URL"],
    [{ AMD_KDS_URL: "https://kds.example?x=1" }, "AMD_KDS_URL"],
    // A default SVID lifetime longer than the signing keys' makes every mint without a TTL fail.
    [{ CA_TTL: "2h", DEFAULT_X509_SVID_TTL: "3h" }, "DEFAULT_X509_SVID_TTL"],
    [{ CA_TTL: "1h", DEFAULT_JWT_SVID_TTL: "61m" }, "DEFAULT_JWT_SVID_TTL"],
    [{ KBS_POLICY_SELECTORS: "[]" }, "KBS_POLICY_SELECTORS"],
    [{ KBS_POLICY_SELECTORS: '{"gpu":"bad id!"}' }, "KBS_POLICY_SELECTORS"],
    [{ KBS_POLICY_SELECTORS: '{"gpu":1}' }, "KBS_POLICY_SELECTORS"],
    [{ KBS_POLICY_SELECTORS: "{" }, "KBS_POLICY_SELECTORS"],
  ])("rejects %o naming the setting", (vars, setting) => {
    const c = parseConfig(vars);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.error.detail).toContain(setting);
  });

  it("accepts an https origin as issuer, and http only when permissive", () => {
    expect(parseConfig({ OIDC_ISSUER: "https://signet.example.com" })).toMatchObject({ ok: true, value: { oidcIssuer: "https://signet.example.com" } });
    expect(parseConfig({ OIDC_ISSUER: "http://127.0.0.1:8787" })).toMatchObject({ ok: true });
  });

  it("restricted: an https issuer and https sources are enough; permissive takes an http PCCS", () => {
    expect(parseConfig({ SIGNET_PROFILE: "restricted", OIDC_ISSUER: "https://signet.example.com" })).toMatchObject({ ok: true, value: { profile: "restricted" } });
    expect(parseConfig({ INTEL_PCS_URL: "http://127.0.0.1:8081/pccs" })).toMatchObject({ ok: true, value: { collateralSources: { pcs: "http://127.0.0.1:8081/pccs" } } });
    expect(parseConfig({ CA_TTL: "1h", DEFAULT_X509_SVID_TTL: "1h", DEFAULT_JWT_SVID_TTL: "1h" }).ok).toBe(true);
    expect(parseConfig({ KBS_POLICY_SELECTORS: '{"confidential-gpu":"gpu_policy"}' })).toMatchObject({ ok: true, value: { kbsPolicySelectors: { "confidential-gpu": "gpu_policy" } } });
  });
});

describe("loadConfig", () => {
  const vars = { SIGNET_ADMIN_TOKEN: "x".repeat(32), SIGNET_KEK: "3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs" };

  it("parses once per env object and hands every reader the same value", () => {
    const env = { ...vars };
    const a = loadConfig(env);
    expect(a.ok).toBe(true);
    expect(loadConfig(env)).toBe(a);
    expect(loadConfig({ ...vars })).not.toBe(a);
  });

  it("names the wrong setting, config before secrets, never a value", () => {
    const r = loadConfig({ ...vars, CA_TTL: "10m", SIGNET_KEK: "secret-value" });
    expect(r).toMatchObject({ ok: false, error: { detail: expect.stringContaining("CA_TTL") } });
    expect(JSON.stringify(r)).not.toContain("secret-value");
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
