/* eslint-disable @typescript-eslint/no-explicit-any -- token claims and attestation bodies are probed by path in assertions */
/**
 * The key broker through the Worker (Trustee RCAR 0.4.0 with the sample TEE, specs/kbs-protocol.md
 * §2): the whole handshake, both token paths, the admin calls kbs-client makes, the audit log, and
 * every bad input answered as Trustee answers it — nothing written, nothing released.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { decodeJwt } from "jose";
import { auditLog } from "../../src/durable/addresses";
import { toBase64, toBase64Url, utf8 } from "../../src/lib/encoding";
import { decryptResource, generateTeeKeyPair, teePubKeyJwk } from "../../src/lib/kbs";
import { ADMIN_TOKEN, call } from "../support/worker-client";
import { attestRequest, authRequest, cookieOf, getResource, handshake, sampleAttestation } from "../support/kbs-guest";

const KBS_ERRORS = "https://github.com/confidential-containers/kbs/errors/";
const SECRET = "bootstrap-credential: s3cr3t";

function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return call(`/kbs/v0/${path}`, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers as Record<string, string> | undefined) } });
}

/** Every /kbs/v0 error: Trustee's JSON body, its variant and status. */
async function expectKbsError(res: Response, status: number, variant: string): Promise<string> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { type: string; detail: string };
  expect(Object.keys(body).sort()).toEqual(["detail", "type"]);
  expect(body.type).toBe(`${KBS_ERRORS}${variant}`);
  expect(typeof body.detail).toBe("string");
  return body.detail;
}

async function decrypts(res: Response, h: { keys: Awaited<ReturnType<typeof generateTeeKeyPair>> }): Promise<string> {
  expect(res.status).toBe(200);
  const plain = await decryptResource(await res.json(), h.keys.keyPair.privateKey, h.keys.teePubKey);
  if (!plain.ok) throw new Error(plain.error.detail);
  return new TextDecoder().decode(plain.value);
}

beforeAll(async () => {
  const put = await admin("resource/default/key/1", { method: "POST", body: SECRET, headers: { "Content-Type": "application/octet-stream" } });
  expect(put.status).toBe(200);
}, 60_000);

describe("the RCAR handshake (sample TEE, permissive profile)", () => {
  it("auth → attest → resource with the session cookie: the JWE decrypts as a guest decrypts it", async () => {
    const auth = await authRequest();
    expect(auth.status).toBe(200);
    const setCookie = auth.headers.get("Set-Cookie")!;
    expect(setCookie).toMatch(/^kbs-session-id=[0-9a-f]{32}; Expires=[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const challenge = (await auth.json()) as { nonce: string; "extra-params": unknown };
    expect(challenge["extra-params"]).toBe("");
    expect(challenge.nonce).toMatch(/^[A-Za-z0-9+/]{43}=$/);

    const keys = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
    const attest = await attestRequest(cookieOf(auth), await sampleAttestation(challenge.nonce, keys));
    expect(attest.status).toBe(200);
    expect(attest.headers.get("Set-Cookie")).toContain(cookieOf(auth));
    const { token } = (await attest.json()) as { token: string };
    const claims = decodeJwt(token) as Record<string, any>;
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.eat_profile).toBe("tag:github.com,2024:confidential-containers/Trustee");
    const cpu0 = claims.submods.cpu0;
    expect(cpu0["ear.veraison.annotated-evidence"].runtime_data_claims["tee-pubkey"]).toEqual(teePubKeyJwk(keys.teePubKey));
    expect(cpu0["ear.veraison.annotated-evidence"].sample).toBeDefined();
    // Sample evidence with no reference values is never affirming.
    expect(cpu0["ear.status"]).not.toBe("affirming");

    expect(await decrypts(await getResource("default/key/1", { cookie: cookieOf(auth) }), { keys })).toBe(SECRET);
  });

  it("the Bearer path: the token alone reads the resource; a tampered, foreign or expired-looking token does not", async () => {
    const h = await handshake();
    const { token } = (await h.attest.json()) as { token: string };
    expect(await decrypts(await getResource("default/key/1", { bearer: token }), h)).toBe(SECRET);

    const [head, payload, sig] = token.split(".") as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0))));
    claims.submods.cpu0["ear.status"] = "affirming";
    const forged = `${head}.${toBase64Url(utf8(JSON.stringify(claims)))}.${sig}`;
    await expectKbsError(await getResource("default/key/1", { bearer: forged }), 401, "TokenVerifierError");
    const foreignKey = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])) as CryptoKeyPair;
    const foreignSig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, foreignKey.privateKey, utf8(`${head}.${payload}`)));
    await expectKbsError(await getResource("default/key/1", { bearer: `${head}.${payload}.${toBase64Url(foreignSig)}` }), 401, "TokenVerifierError");
    await expectKbsError(await getResource("default/key/1", { bearer: "not-a-token" }), 401, "TokenVerifierError");
    // A cookie of a session that is not attested does not hide a good Bearer token (Trustee's order).
    const fresh = cookieOf(await authRequest());
    expect(await decrypts(await getResource("default/key/1", { cookie: fresh, bearer: token }), h)).toBe(SECRET);
    await expectKbsError(await getResource("default/key/1", { cookie: fresh }), 401, "TokenNotFound");
    await expectKbsError(await getResource("default/key/1"), 401, "TokenNotFound");
  });

  // 1,000 concurrent attests run against `npm run dev` in test/e2e/kbs.test.ts: the Workers test pool
  // serves concurrent in-process requests in quadratic time (1,000 trivial 404s take minutes).
  it("a challenge is consumed once: the same cookie cannot attest twice, and 100 concurrent attests give exactly one token", async () => {
    const h = await handshake();
    expect(h.attest.status).toBe(200);
    const again = await attestRequest(h.cookie, await sampleAttestation(h.nonce, h.keys));
    expect(await expectKbsError(again, 401, "AttestationError")).toBe("Attestation error: RCAR handshake Attest failed");

    const auth = await authRequest();
    const cookie = cookieOf(auth);
    const { nonce } = (await auth.json()) as { nonce: string };
    const keys = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
    const body = JSON.stringify(await sampleAttestation(nonce, keys));
    // 999 refusals are logged; keep them off the test output.
    const quiet = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const results = await Promise.all(Array.from({ length: 100 }, () => attestRequest(cookie, body)));
    quiet.mockRestore();
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBe(1);
    expect(statuses.filter((s) => s === 401).length).toBe(99);
    await Promise.all(results.map((r) => r.arrayBuffer()));
  }, 60_000);
});

describe("bad input on /auth", () => {
  it.each([
    ["version 0.3.0", { version: "0.3.0", tee: "sample", "extra-params": "" }, "KBS Client Protocol Version Mismatch: expect =0.4.0 while the request is 0.3.0"],
    ["a pre-release", { version: "0.4.0-rc1", tee: "sample", "extra-params": "" }, "Protocol Version Mismatch"],
    ["a TEE this broker does not verify", { version: "0.4.0", tee: "az-snp-vtpm", "extra-params": "" }, "not supported"],
    ["an unmapped policy selector", { version: "0.4.0", tee: "sample", "extra-params": { "policy-selector": "gpu-strict" } }, "Auth failed"],
  ])("%s: 401 AttestationError", async (_name, body, detail) => {
    expect(await expectKbsError(await authRequest(body), 401, "AttestationError")).toContain(detail);
  });

  it.each([
    ["not JSON", "{"],
    ["an unknown TEE name", { version: "0.4.0", tee: "quantum", "extra-params": "" }],
    ["no extra-params", { version: "0.4.0", tee: "sample" }],
    ["a number as version", { version: 4, tee: "sample", "extra-params": "" }],
  ])("%s: 401 SerdeError, no session", async (_name, body) => {
    const res = await authRequest(body);
    expect(res.headers.get("Set-Cookie")).toBeNull();
    await expectKbsError(res, 401, "SerdeError");
  });

  it("a client past its rate: 429 with Retry-After and a Trustee error body", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, () => authRequest(undefined, { "CF-Connecting-IP": "198.51.100.7" })));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.headers.get("Retry-After")).toBe("10");
    await expectKbsError(limited[0]!, 429, "AttestationError");
    // Another client is not affected.
    expect((await authRequest(undefined, { "CF-Connecting-IP": "198.51.100.8" })).status).toBe(200);
    await Promise.all(results.map((r) => r.arrayBuffer().catch(() => undefined)));
  });
});

describe("bad input on /attest: 401 'RCAR handshake Attest failed', never which check", () => {
  const generic = "Attestation error: RCAR handshake Attest failed";

  it.each([
    ["report data of another nonce", async (a: Record<string, any>) => ({ ...a, "tee-evidence": { ...a["tee-evidence"], primary_evidence: { svn: "1", report_data: toBase64(new Uint8Array(48)) } } })],
    ["a nonce that is not the session's", async (a: Record<string, any>) => ({ ...a, "runtime-data": { ...a["runtime-data"], nonce: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" } })],
    ["another TEE key than the one bound", async (a: Record<string, any>) => ({ ...a, "runtime-data": { ...a["runtime-data"], "tee-pubkey": teePubKeyJwk((await generateTeeKeyPair("ECDH-ES+A256KW-P256")).teePubKey) } })],
    ["an RSA1_5 key", async (a: Record<string, any>) => ({ ...a, "runtime-data": { ...a["runtime-data"], "tee-pubkey": { kty: "RSA", alg: "RSA1_5", n: "AQAB", e: "AQAB" } } })],
    ["malformed evidence", async (a: Record<string, any>) => ({ ...a, "tee-evidence": { ...a["tee-evidence"], primary_evidence: { quote: "AAAA" } } })],
    ["additional device evidence", async (a: Record<string, any>) => ({ ...a, "tee-evidence": { ...a["tee-evidence"], additional_evidence: '{"sampledevice":{}}' } })],
    ["init-data that is not TOML", async (a: Record<string, any>) => ({ ...a, "init-data": { format: "json", body: "{}" } })],
    ["not an Attestation", async () => ({ hello: "world" })],
  ])("%s", async (_name, tamper) => {
    const auth = await authRequest();
    const cookie = cookieOf(auth);
    const { nonce } = (await auth.json()) as { nonce: string };
    const keys = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
    const res = await attestRequest(cookie, await tamper(await sampleAttestation(nonce, keys)));
    expect(await expectKbsError(res, 401, "AttestationError")).toBe(generic);
    // The session got no token: its cookie reads nothing.
    await expectKbsError(await getResource("default/key/1", { cookie }), 401, "TokenNotFound");
  });

  it("evidence of another TEE than the session's (SNP evidence in a sample session)", async () => {
    const auth = await authRequest();
    const cookie = cookieOf(auth);
    const { nonce } = (await auth.json()) as { nonce: string };
    const body = await sampleAttestation(nonce, await generateTeeKeyPair("ECDH-ES+A256KW-P256"));
    (body["tee-evidence"] as Record<string, unknown>).primary_evidence = { attestation_report: { version: 3 }, cert_chain: null };
    expect(await expectKbsError(await attestRequest(cookie, body), 401, "AttestationError")).toBe(generic);
  });

  it("an expired session: /attest after 5 minutes is refused, and an attested session's cookie stops reading", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    try {
      const late = await authRequest();
      const lateCookie = cookieOf(late);
      const { nonce } = (await late.json()) as { nonce: string };
      const h = await handshake();
      expect(h.attest.status).toBe(200);
      vi.setSystemTime(start + 5 * 60_000 + 1000);
      const body = await sampleAttestation(nonce, await generateTeeKeyPair("ECDH-ES+A256KW-P256"));
      expect(await expectKbsError(await attestRequest(lateCookie, body), 401, "AttestationError")).toBe(generic);
      await expectKbsError(await getResource("default/key/1", { cookie: h.cookie }), 401, "TokenNotFound");
    } finally {
      vi.useRealTimers();
    }
  });

  it("no cookie, a malformed cookie, a cookie of no session", async () => {
    const keys = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
    const body = await sampleAttestation("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", keys);
    for (const cookie of [undefined, "kbs-session-id=../../x", `kbs-session-id=${"0".repeat(32)}`]) {
      expect(await expectKbsError(await attestRequest(cookie, body), 401, "AttestationError")).toBe(generic);
    }
  });
});

describe("resources", () => {
  it.each(["default/key", "default/key/1/extra", "default/%2e%2e/1", "default/.hidden/1", "a/b/c%00", ""])("path %j: 404 InvalidRequestPath", async (path) => {
    await expectKbsError(await getResource(path), 404, "InvalidRequestPath");
  });

  it("a missing resource: 401 PluginInternalError, as Trustee", async () => {
    const h = await handshake();
    await expectKbsError(await getResource("default/key/missing", { cookie: h.cookie }), 401, "PluginInternalError");
  });

  it("a resource policy that requires affirming tokens denies the sample TEE (PolicyDeny), and allow-all lets it read", async () => {
    const h = await handshake();
    const set = (policy: unknown) => admin("resource-policy", { method: "POST", body: JSON.stringify({ policy: toBase64Url(utf8(JSON.stringify(policy))) }) });
    expect((await set({ version: 1, rules: [{ paths: ["*/*/*"], allow: [{ status: ["affirming"] }] }] })).status).toBe(200);
    expect(await expectKbsError(await getResource("default/key/1", { cookie: h.cookie }), 401, "PolicyDeny")).toBe("Access denied by policy");
    expect((await set({ version: 1, rules: [{ paths: ["default/*/*"], allow: [{ tee: ["sample"] }] }] })).status).toBe(200);
    expect(await decrypts(await getResource("default/key/1", { cookie: h.cookie }), h)).toBe(SECRET);
    const list = await admin("resource-policy");
    expect(await list.json()).toEqual(["resource-policy"]);
  });

  it("every release and every attestation is in the audit log, without secret bytes", async () => {
    const h = await handshake();
    await getResource("default/key/1", { cookie: h.cookie });
    const page = await auditLog(env).list({ limit: 1000 });
    if (!page.ok) throw new Error(page.error.detail);
    const session = h.cookie.split("=")[1]!;
    const mine = page.value.records.filter((r) => r.sessionId === session);
    expect(mine.map((r) => `${r.kind}:${r.outcome}`).sort()).toEqual(["attestation:accepted", "release:released"]);
    const attestation = mine.find((r) => r.kind === "attestation")!;
    expect(attestation).toMatchObject({ tee: "sample", policyId: "default" });
    expect(attestation.evidenceDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(mine.find((r) => r.kind === "release")).toMatchObject({ resourcePath: "default/key/1" });
    expect(JSON.stringify(page.value.records)).not.toContain("s3cr3t");
    expect(page.value.records.some((r) => r.kind === "attestation" && r.outcome === "denied" && r.reason !== undefined)).toBe(true);
  });
});

describe("admin calls (as kbs-client makes them)", () => {
  it("need the admin token: 401 AdminAuthAccess, nothing written", async () => {
    const res = await call("/kbs/v0/resource/default/key/evil", { method: "POST", body: "x" });
    await expectKbsError(res, 401, "AdminAuthAccess");
    for (const [path, method] of [["resource/default/key/1", "DELETE"], ["resource-policy", "GET"], ["attestation-policy", "POST"], ["reference-value", "POST"], ["reference-value/x", "GET"]] as const) {
      await expectKbsError(await call(`/kbs/v0/${path}`, { method, ...(method === "POST" ? { body: "{}" } : {}) }), 401, "AdminAuthAccess");
    }
    const h = await handshake();
    await expectKbsError(await getResource("default/key/evil", { cookie: h.cookie }), 401, "PluginInternalError");
  });

  it("attestation policies are JSON (type json); Rego is refused with a clear reason", async () => {
    const policy = toBase64Url(utf8(JSON.stringify({ version: 1, sample: { launch_digests: ["abcde"] } })));
    expect((await admin("attestation-policy", { method: "POST", body: JSON.stringify({ type: "json", policy_id: "default_cpu", policy }) })).status).toBe(200);
    const rego = toBase64Url(utf8("package policy\ndefault allow := true"));
    expect(await expectKbsError(await admin("attestation-policy", { method: "POST", body: JSON.stringify({ type: "rego", policy_id: "default_cpu", policy: rego }) }), 401, "ParsePolicyError")).toMatch(/JSON/);
    await expectKbsError(await admin("attestation-policy", { method: "POST", body: JSON.stringify({ type: "json", policy: toBase64Url(utf8('{"version":2}')) }) }), 401, "ParsePolicyError");
    // With the sample launch digest as a reference value, a sample guest's executables are affirmed.
    const h = await handshake();
    const claims = decodeJwt(((await h.attest.json()) as { token: string }).token) as Record<string, any>;
    expect(claims.submods.cpu0["ear.trustworthiness-vector"].executables).toBe(2);
  });

  it("reference values round-trip; a missing one is 401 RvpsError", async () => {
    const payload = toBase64(utf8(JSON.stringify({ snp_launch_measurement: ["ab".repeat(48)] })));
    expect((await admin("reference-value", { method: "POST", body: JSON.stringify({ version: "0.1.0", type: "sample", payload }) })).status).toBe(200);
    expect(await (await admin("reference-value/snp_launch_measurement")).json()).toEqual(["ab".repeat(48)]);
    await expectKbsError(await admin("reference-value/nope"), 401, "RvpsError");
    await expectKbsError(await admin("reference-value", { method: "POST", body: JSON.stringify({ version: "0.2.0", type: "sample", payload }) }), 401, "SerdeError");
  });

  it("DELETE removes a resource; deleting again is 401 PluginInternalError", async () => {
    expect((await admin("resource/default/key/tmp", { method: "POST", body: "t" })).status).toBe(200);
    expect((await admin("resource/default/key/tmp", { method: "DELETE" })).status).toBe(200);
    await expectKbsError(await admin("resource/default/key/tmp", { method: "DELETE" }), 401, "PluginInternalError");
  });
});

describe("the surface", () => {
  it("an unknown plugin is 404 PluginNotFound; an oversized body is 413 with a Trustee body", async () => {
    await expectKbsError(await call("/kbs/v0/nebula-ca/credential"), 404, "PluginNotFound");
    await expectKbsError(await authRequest("x".repeat(3 * 1024 * 1024)), 413, "HTTPFailed");
  });
});

describe("attestation-token keys and profiles", () => {
  it("GET /attestation/keys verifies the tokens /attest issues; those keys are in neither the bundle nor /keys", async () => {
    const h = await handshake();
    const { token } = (await h.attest.json()) as { token: string };
    const jwks = (await (await call("/attestation/keys")).json()) as { keys: { kid: string }[] };
    const { jwtVerify, createLocalJWKSet } = await import("jose");
    await jwtVerify(token, createLocalJWKSet(jwks as never), { issuer: "signet-attestation-service:example.org" });
    const svidKeys = JSON.stringify([await (await call("/keys")).json(), await (await call("/bundle")).json()]);
    for (const k of jwks.keys) expect(svidKeys).not.toContain(k.kid);
  });

  it("the restricted profile refuses the sample TEE at /auth", async () => {
    const { createApp } = await import("../../src/workers/app");
    const restricted = { ...env, SIGNET_PROFILE: "restricted", OIDC_ISSUER: "https://signet.example.com" } as Env;
    const res = await createApp().fetch(
      new Request("https://signet.example.com/kbs/v0/auth", { method: "POST", headers: { "CF-Connecting-IP": "2001:db8:1::1" }, body: JSON.stringify({ version: "0.4.0", tee: "sample", "extra-params": "" }) }),
      restricted,
    );
    expect(await expectKbsError(res, 401, "AttestationError")).toContain("not supported");
  });
});
