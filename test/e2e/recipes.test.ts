/**
 * The README's relying-party recipes, exercised as written (issue 11): the Vault and AWS code blocks
 * are read from README.md, their token commands run against `npm run dev` (the example host replaced by
 * the dev server's origin), and each token is checked the way that relying party checks it, with PyJWT
 * as the verifier: Vault's JWT auth (discovery `issuer` equal to `oidc_discovery_url` byte for byte,
 * `bound_issuer`, the algorithms of `jwt_supported_algs` — RS256 only when unset, as go-oidc's verifier
 * behind Vault defaults — `bound_audiences`, `bound_subject`), and AWS STS (`iss` equal to the provider
 * URL, `aud` among the client ids, the trust policy's `sub`, RS/ES 256–512, integer times, at most 100
 * JWKS keys).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { findPyJwt, REPO_ROOT, run, signetOk, tempDir } from "../support/e2e-process";

const url = inject("signetUrl");
const EXAMPLE_ORIGIN = "https://signet.example.com";

const python = findPyJwt();

/** The shell code block right after a README heading, with continuation lines joined. */
async function recipe(heading: string): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const at = readme.indexOf(`### ${heading}`);
  expect(at, `README has "### ${heading}"`).toBeGreaterThanOrEqual(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
  return block.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** `key=value` arguments of a command line. */
function settings(line: string): Record<string, string> {
  return Object.fromEntries([...line.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, "")]));
}

/** Runs the `npx signet …` inside a recipe's `$(…)` against the dev server; the token it prints. */
async function tokenOf(line: string): Promise<string> {
  const command = /\$\(npx signet ([^)]*)\)/.exec(line)?.[1];
  expect(command, `a token command in: ${line}`).toBeDefined();
  const args = command!.split(/\s+/).filter((a) => a !== "");
  return (await signetOk(url, args)).trim();
}

const PY_CHECK = `
import json, sys, urllib.request
import jwt

token, discovery_url, expected_issuer, algs, audience, subject = sys.argv[1:7]
with urllib.request.urlopen(discovery_url.rstrip("/") + "/.well-known/openid-configuration") as r:
    discovery = json.load(r)
out = {"issuer_matches": discovery["issuer"] == expected_issuer}
with urllib.request.urlopen(discovery["jwks_uri"]) as r:
    out["jwks_keys"] = len(json.load(r)["keys"])
try:
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=algs.split(","), audience=audience, issuer=expected_issuer,
                        options={"require": ["sub", "aud", "exp", "iat", "iss"]})
    out["accepted"] = claims["sub"] == subject
    out["claims"] = claims
except jwt.PyJWTError as e:
    out["accepted"] = False
    out["error"] = type(e).__name__ + ": " + str(e)
print(json.dumps(out))
`;

interface Checked {
  readonly issuer_matches: boolean;
  readonly jwks_keys: number;
  readonly accepted: boolean;
  readonly claims?: Record<string, unknown>;
  readonly error?: string;
}

let dir: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  dir = await tempDir("signet-e2e-recipes-");
  await writeFile(join(dir.path, "check.py"), PY_CHECK);
});

afterAll(async () => {
  await dir?.remove();
});

async function check(token: string, issuer: string, algs: string, audience: string, subject: string): Promise<Checked> {
  const r = await run(python!, [join(dir.path, "check.py"), token, url, issuer, algs, audience, subject]);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as Checked;
}

describe.skipIf(python === undefined)("the README's recipes, checked as their relying parties check them", () => {
  it("Vault JWT auth: the config, role and login as written accept Signet's JWT-SVID", async () => {
    const lines = await recipe("Pointing Vault at it (JWT auth)");
    const config = settings(lines.find((l) => l.startsWith("vault write auth/jwt/config"))!);
    const role = settings(lines.find((l) => l.startsWith("vault write auth/jwt/role/"))!);
    const login = lines.find((l) => l.startsWith("vault write auth/jwt/login"))!;
    // The recipe's host stands for this deployment: the dev server's origin (OIDC_ISSUER = the origin).
    const discoveryUrl = config.oidc_discovery_url!.replace(EXAMPLE_ORIGIN, url);
    const boundIssuer = config.bound_issuer!.replace(EXAMPLE_ORIGIN, url);
    expect(role.role_type).toBe("jwt");
    expect(role.user_claim).toBe("sub");
    // A JWT-SVID always has aud: Vault refuses the login unless the role binds one.
    expect(role.bound_audiences).toBeDefined();
    const token = await tokenOf(login);
    // go-oidc (Vault's verifier) allows only RS256 unless jwt_supported_algs says otherwise.
    const algs = config.jwt_supported_algs ?? "RS256";
    const out = await check(token, boundIssuer, algs, role.bound_audiences!, role.bound_subject!);
    expect(discoveryUrl).toBe(url);
    expect(out.issuer_matches).toBe(true);
    expect(out, out.error).toMatchObject({ accepted: true });
    // And the failure the old recipe had: ES256 (the CLI's default) under Vault's default algorithms.
    expect((await check(token, boundIssuer, "RS256", role.bound_audiences!, role.bound_subject!)).accepted).toBe(false);
  });

  it("AWS STS: the provider, trust policy and token command as written accept Signet's JWT-SVID", async () => {
    const lines = await recipe("Pointing AWS at it (IAM OIDC provider + STS)");
    const provider = lines.find((l) => l.startsWith("aws iam create-open-id-connect-provider"))!;
    const providerUrl = /--url (\S+)/.exec(provider)![1]!;
    const clientIds = /--client-id-list (\S+)/.exec(provider)![1]!.split(",");
    const host = providerUrl.replace(/^https:\/\//, "");
    const policy = lines.join("\n");
    const aud = new RegExp(`"${host.replace(/\./g, "\\.")}:aud": "([^"]+)"`).exec(policy)![1]!;
    const sub = new RegExp(`"${host.replace(/\./g, "\\.")}:sub": "([^"]+)"`).exec(policy)![1]!;
    expect(clientIds).toContain(aud);
    const token = await tokenOf(lines.find((l) => l.includes("assume-role-with-web-identity"))!);
    const out = await check(token, providerUrl.replace(EXAMPLE_ORIGIN, url), "RS256,RS384,RS512,ES256,ES384,ES512", aud, sub);
    expect(out, out.error).toMatchObject({ issuer_matches: true, accepted: true });
    expect(Number.isInteger(out.claims!.exp) && Number.isInteger(out.claims!.iat)).toBe(true);
    expect(out.jwks_keys).toBeLessThanOrEqual(100);
  });
});
