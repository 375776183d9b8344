/**
 * Configuration that is accepted but wrong is refused at the edge (issue 7 §4), and /healthz asks the
 * certificate authority (§2). The app runs in-process with an env that differs from wrangler.toml.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/workers/app";
import { call, problemOf } from "../support/worker-client";

const app = createApp();

function withVars(vars: Record<string, string>): Env {
  return { ...env, ...vars } as Env;
}

async function get(url: string, e: Env): Promise<Response> {
  return app.fetch(new Request(url), e);
}

describe("the restricted profile", () => {
  const restricted = withVars({ SIGNET_PROFILE: "restricted" });

  it("without OIDC_ISSUER, discovery does not follow the Host header: 503 service_misconfigured", async () => {
    const res = await get("http://evil.example/.well-known/openid-configuration", restricted);
    expect(res.status).toBe(503);
    const problem = await problemOf(res);
    expect(problem.code).toBe("service_misconfigured");
    expect(JSON.stringify(problem)).not.toContain("evil.example");
    expect(JSON.stringify(problem)).not.toContain("OIDC_ISSUER");
    for (const path of ["/keys", "/bundle", "/healthz"]) expect((await get(`http://evil.example${path}`, restricted)).status).toBe(503);
  });

  it("with an https issuer, discovery names exactly that issuer whatever the Host", async () => {
    const e = withVars({ SIGNET_PROFILE: "restricted", OIDC_ISSUER: "https://signet.example.com" });
    const res = await get("http://evil.example/.well-known/openid-configuration", e);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ issuer: "https://signet.example.com", jwks_uri: "https://signet.example.com/keys" });
  });

  it("an http PCCS is refused", async () => {
    const e = withVars({ SIGNET_PROFILE: "restricted", OIDC_ISSUER: "https://signet.example.com", INTEL_PCS_URL: "http://pccs.internal:8081" });
    expect((await problemOf(await get("https://signet.example.com/healthz", e))).code).toBe("service_misconfigured");
  });
});

describe("SVID defaults longer than the CA lifetime", () => {
  it("are refused at start, not at the first mint", async () => {
    const e = withVars({ CA_TTL: "2h", DEFAULT_X509_SVID_TTL: "3h" });
    const res = await get("https://signet.test/healthz", e);
    expect(res.status).toBe(503);
    expect((await problemOf(res)).code).toBe("service_misconfigured");
  });
});

describe("/healthz", () => {
  it("is 200 with the trust domain and the published sequence when the CA can sign", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; trust_domain: string; spiffe_sequence: number };
    expect(body).toMatchObject({ status: "ok", trust_domain: "example.org" });
    expect(body.spiffe_sequence).toBeGreaterThanOrEqual(1);
  });

  it("is 503 service_misconfigured when the CA cannot sign, without saying why", async () => {
    const ca = env.CA;
    const unwell = {
      idFromName: (name: string) => ca.idFromName(name),
      get: () => ({ health: async () => ({ ok: false, error: { reason: "ca_misconfigured", detail: "SIGNET_KEK does not open the stored key" } }) }),
    };
    const res = await get("https://signet.test/healthz", { ...env, CA: unwell } as unknown as Env);
    expect(res.status).toBe(503);
    const problem = await problemOf(res);
    expect(problem.code).toBe("service_misconfigured");
    expect(problem.detail).not.toContain("SIGNET_KEK");
  });
});
