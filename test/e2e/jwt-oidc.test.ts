/**
 * JWT-SVIDs minted by the real CLI, validated as an OIDC relying party would: discovery document,
 * then the JWKS it points at, through jose (and PyJWT when the machine has it).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { findPyJwt, run, signetOk, tempDir } from "../support/e2e-process";

const url = inject("signetUrl");

interface Discovery {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly id_token_signing_alg_values_supported?: string[];
}

let discovery: Discovery;
let jwks: JWTVerifyGetKey;

beforeAll(async () => {
  const res = await fetch(`${url}/.well-known/openid-configuration`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  discovery = (await res.json()) as Discovery;
  jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
});

async function mint(alg: "ES256" | "RS256", spiffeId: string, audiences: readonly string[], ttl?: string): Promise<string> {
  const args = ["jwt", "mint", "--spiffe-id", spiffeId, "--alg", alg, ...audiences.flatMap((a) => ["--audience", a])];
  if (ttl !== undefined) args.push("--ttl", ttl);
  const stdout = await signetOk(url, args);
  expect(stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
  return stdout.trim();
}

describe("OIDC discovery", () => {
  it("names the server's own origin as the issuer, exactly", () => {
    expect(discovery.issuer).toBe(url);
    expect(discovery.issuer).toBe(new URL(url).origin);
    expect(discovery.issuer.endsWith("/")).toBe(false);
  });

  it("points jwks_uri at a JWKS on the same origin", async () => {
    expect(new URL(discovery.jwks_uri).origin).toBe(url);
    const set = (await (await fetch(discovery.jwks_uri)).json()) as { keys: { kid?: string; alg?: string; d?: unknown }[] };
    expect(set.keys.length).toBeGreaterThan(0);
    for (const key of set.keys) {
      expect(typeof key.kid).toBe("string");
      expect(key.d).toBeUndefined();
    }
    expect(discovery.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(["ES256", "RS256"]));
  });
});

describe.each(["ES256", "RS256"] as const)("a JWT-SVID signed with %s", (alg) => {
  const spiffeId = `spiffe://example.org/e2e/jwt/${alg.toLowerCase()}`;
  let token: string;

  beforeAll(async () => {
    token = await mint(alg, spiffeId, ["https://api.example.com", "spiffe://example.org/db"], "2m");
  });

  it("verifies through discovery and the JWKS, with the claims of a JWT-SVID", async () => {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: discovery.issuer,
      audience: "https://api.example.com",
      algorithms: [alg],
    });
    expect(protectedHeader.alg).toBe(alg);
    expect(typeof protectedHeader.kid).toBe("string");
    expect(payload.sub).toBe(spiffeId);
    expect(payload.iss).toBe(url);
    expect(payload.aud).toEqual(["https://api.example.com", "spiffe://example.org/db"]);
    expect(Number.isSafeInteger(payload.exp)).toBe(true);
    expect(Number.isSafeInteger(payload.iat)).toBe(true);
    const now = Math.floor(Date.now() / 1000);
    expect(Math.abs(payload.iat! - now)).toBeLessThan(120);
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it("verifies for its second audience too", async () => {
    const { payload } = await jwtVerify(token, jwks, { issuer: discovery.issuer, audience: "spiffe://example.org/db" });
    expect(payload.sub).toBe(spiffeId);
  });

  it("is refused for another audience", async () => {
    const attempt = jwtVerify(token, jwks, { issuer: discovery.issuer, audience: "https://other.example.com" });
    await expect(attempt).rejects.toBeInstanceOf(errors.JWTClaimValidationFailed);
    await expect(attempt).rejects.toMatchObject({ claim: "aud" });
  });

  it("is refused for another issuer", async () => {
    const attempt = jwtVerify(token, jwks, { issuer: `${url}/`, audience: "https://api.example.com" });
    await expect(attempt).rejects.toMatchObject({ claim: "iss" });
  });

  it("is refused when its payload is tampered with", async () => {
    const [h, p, s] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>;
    claims.sub = "spiffe://example.org/admin";
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
    await expect(jwtVerify(forged, jwks, { issuer: discovery.issuer, audience: "https://api.example.com" })).rejects.toBeInstanceOf(
      errors.JWSSignatureVerificationFailed,
    );
  });

  it("is refused when its signature is altered", async () => {
    const [h, p, s] = token.split(".") as [string, string, string];
    const sig = Buffer.from(s, "base64url");
    const i = sig.length >> 1;
    sig[i] = sig[i]! ^ 0x01;
    const forged = `${h}.${p}.${sig.toString("base64url")}`;
    await expect(jwtVerify(forged, jwks, { issuer: discovery.issuer, audience: "https://api.example.com" })).rejects.toBeInstanceOf(
      errors.JWSSignatureVerificationFailed,
    );
  });

  it("is refused with its algorithm swapped in the header", async () => {
    const [, p, s] = token.split(".") as [string, string, string];
    const header = { ...decodeProtectedHeader(token), alg: alg === "ES256" ? "RS256" : "ES256" };
    const forged = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${p}.${s}`;
    await expect(jwtVerify(forged, jwks, { issuer: discovery.issuer, audience: "https://api.example.com" })).rejects.toThrow();
  });
});

// ---- An independent relying party in another language: PyJWT, when this machine has it. ----

const python = findPyJwt();

const PY_VERIFY = `
import json, sys
import jwt

token, jwks_uri, issuer, audience, alg = sys.argv[1:6]
key = jwt.PyJWKClient(jwks_uri).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=[alg], audience=audience, issuer=issuer,
                    options={"require": ["sub", "aud", "exp", "iat"]})
try:
    jwt.decode(token, key.key, algorithms=[alg], audience="https://other.example.com", issuer=issuer)
    wrong_audience = "accepted"
except jwt.InvalidAudienceError:
    wrong_audience = "refused"
head, body, sig = token.split(".")
flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
try:
    jwt.decode(head + "." + body + "." + flipped, key.key, algorithms=[alg], audience=audience, issuer=issuer)
    tampered = "accepted"
except jwt.InvalidSignatureError:
    tampered = "refused"
print(json.dumps({"claims": claims, "wrong_audience": wrong_audience, "tampered": tampered}))
`;

describe.skipIf(python === undefined)("PyJWT as the relying party", () => {
  let dir: { path: string; remove(): Promise<void> };
  beforeAll(async () => {
    dir = await tempDir("signet-e2e-pyjwt-");
    await writeFile(join(dir.path, "verify.py"), PY_VERIFY);
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it.each(["ES256", "RS256"] as const)("verifies an %s JWT-SVID through the discovered JWKS", async (alg) => {
    const spiffeId = `spiffe://example.org/e2e/pyjwt/${alg.toLowerCase()}`;
    const token = await mint(alg, spiffeId, ["https://api.example.com"]);
    const r = await run(python!, [join(dir.path, "verify.py"), token, discovery.jwks_uri, discovery.issuer, "https://api.example.com", alg]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { claims: Record<string, unknown>; wrong_audience: string; tampered: string };
    expect(out.claims.sub).toBe(spiffeId);
    expect(out.claims.iss).toBe(url);
    expect(out.claims.aud).toEqual(["https://api.example.com"]);
    expect(out.wrong_audience).toBe("refused");
    expect(out.tampered).toBe("refused");
  });
});
