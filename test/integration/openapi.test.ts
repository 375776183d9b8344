/**
 * GET /openapi.json (issue 9): the route table (src/workers/openapi.ts) and the app's routes are the
 * same set; the document is well formed (every path parameter declared, every $ref resolves, every
 * security requirement names a scheme); the request bodies are the validators' own schemas; live
 * answers parse with the response schemas the document is made from.
 */
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { createApp } from "../../src/workers/app";
import { OPERATIONS } from "../../src/workers/openapi";
import { buildOpenApiDocument, pathParamNames, templateOf } from "../../src/workers/openapi-document";
import { CreateEntriesBody } from "../../src/workers/schemas/admin-entries";
import * as R from "../../src/workers/schemas/responses";
import { fromBase64 } from "../../src/lib/encoding";
import { createAgentProof } from "../../src/lib/spiffe/agent-proof";
import { VERSION } from "../../src/cli/version";
import { adminPost, ADMIN_TOKEN, call } from "../support/worker-client";
import { x509 } from "../support/x509";

type Json = Record<string, unknown>;
const METHODS = ["get", "post", "put", "patch", "delete"];

const key = (method: string, path: string) => `${method.toUpperCase()} ${templateOf(path)}`;

describe("the route table and the app", () => {
  const served = new Set(createApp().routes.filter((r) => r.method !== "ALL").map((r) => key(r.method, r.path)));
  const documented = new Set(OPERATIONS.map((op) => key(op.method, op.route ?? op.path)));

  it(`every route the app serves is in the table (${served.size} routes)`, () => {
    expect(served.size).toBeGreaterThan(40);
    expect([...served].filter((k) => !documented.has(k))).toEqual([]);
  });

  it(`every row of the table is a route the app serves (${OPERATIONS.length} rows)`, () => {
    expect([...documented].filter((k) => !served.has(k))).toEqual([]);
  });

  it("each (method, path template) is described once", () => {
    const seen = OPERATIONS.map((op) => `${op.method} ${op.path}`);
    expect(seen.filter((s, i) => seen.indexOf(s) !== i)).toEqual([]);
  });

  it("templateOf turns hono patterns into OpenAPI templates", () => {
    expect(templateOf("/admin/v1/collateral/:key{.+}")).toBe("/admin/v1/collateral/{key}");
    expect(templateOf("/kbs/v0/resource/:repo/:type/:tag")).toBe("/kbs/v0/resource/{repo}/{type}/{tag}");
    expect(templateOf("/admin/v1/agents/*")).toBe("/admin/v1/agents/*");
  });
});

/** Every `$ref` in `node`, with where it was found. */
function refsOf(node: unknown, at = "#", out: [string, string][] = []): [string, string][] {
  if (Array.isArray(node)) node.forEach((v, i) => refsOf(v, `${at}/${i}`, out));
  else if (typeof node === "object" && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push([at, v]);
      else refsOf(v, `${at}/${k}`, out);
    }
  }
  return out;
}

function resolve(doc: Json, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<unknown>((node, part) => (typeof node === "object" && node !== null ? (node as Json)[part] : undefined), doc);
}

describe("GET /openapi.json", () => {
  it("is public, cacheable JSON, the document the table makes", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=3600");
    expect(await res.json()).toEqual(buildOpenApiDocument());
  });

  const doc = buildOpenApiDocument();
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const operations = Object.entries(paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
  const components = doc.components as { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };

  it(`is OpenAPI 3.1 with the project's version, and one operation per table row (${operations.length})`, () => {
    expect(doc.openapi).toBe("3.1.0");
    // The CLI's VERSION is kept equal to package.json's by a unit test.
    expect((doc.info as Json).version).toBe(VERSION);
    expect(operations).toHaveLength(OPERATIONS.length);
    expect(operations.every(({ method }) => METHODS.includes(method))).toBe(true);
  });

  it("declares every path parameter, in the path, required, and no other", () => {
    let checked = 0;
    for (const { path, method, op } of operations) {
      const params = ((op.parameters ?? []) as Json[]).filter((p) => p.in === "path");
      expect(params.map((p) => p.name).sort(), `${method} ${path}`).toEqual(pathParamNames(path).sort());
      for (const p of params) expect(p.required, `${method} ${path} ${String(p.name)}`).toBe(true);
      checked += params.length;
    }
    expect(checked).toBeGreaterThanOrEqual(12);
  });

  it("resolves every $ref", () => {
    const refs = refsOf(doc);
    expect(refs.length).toBeGreaterThan(40);
    expect(refs.filter(([, ref]) => resolve(doc, ref) === undefined)).toEqual([]);
  });

  it("has unique operationIds, a description for every answer, a problem for every error, and known security schemes", () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, op } of operations) {
      const responses = op.responses as Record<string, Json>;
      for (const [status, r] of Object.entries(responses)) expect(typeof r.description, `${method} ${path} ${status}`).toBe("string");
      const error = JSON.stringify(responses.default);
      expect(error, `${method} ${path}`).toContain(path.startsWith("/kbs/v0/") ? "#/components/schemas/KbsError" : "#/components/schemas/Problem");
      for (const requirement of op.security as Json[]) for (const scheme of Object.keys(requirement)) expect(components.securitySchemes[scheme], scheme).toBeDefined();
    }
    expect(components.securitySchemes.adminToken).toMatchObject({ type: "http", scheme: "bearer" });
    expect(components.securitySchemes.agentProof).toMatchObject({ type: "apiKey", in: "header", name: "Signet-Agent-Proof" });
  });

  it("puts the admin token on /admin/v1/*, the agent proof on /agent/v1/* but attest, nothing on the public endpoints", () => {
    const security = (method: string, path: string) => paths[path]![method]!.security;
    for (const { path, method, op } of operations) {
      if (path.startsWith("/admin/v1/")) expect(op.security, `${method} ${path}`).toEqual([{ adminToken: [] }]);
      if (path.startsWith("/agent/v1/") && path !== "/agent/v1/attest") expect(op.security, `${method} ${path}`).toEqual([{ agentProof: [] }]);
    }
    for (const p of ["/bundle", "/keys", "/.well-known/openid-configuration", "/healthz", "/openapi.json", "/kbs/v0/auth", "/agent/v1/attest"]) expect(security(p === "/agent/v1/attest" || p === "/kbs/v0/auth" ? "post" : "get", p)).toEqual([]);
  });

  it("describes request bodies with the validators' own schemas (zod's JSON Schema of their input)", () => {
    const body = ((paths["/admin/v1/entries"]!.post!.requestBody as Json).content as Json)["application/json"] as Json;
    expect(body.schema).toEqual({ $ref: "#/components/schemas/CreateEntries" });
    const created = components.schemas.CreateEntries!;
    expect(created).toMatchObject({ type: "object", required: ["entries"], additionalProperties: false });
    // A property the validator has: the document says exactly what the schema checks.
    expect(JSON.stringify(created)).toContain('"x509_svid_ttl"');
    expect(CreateEntriesBody.safeParse({ entries: [{ spiffe_id: "a", parent_id: "b", selectors: [], surprise: 1 }] }).success).toBe(false);
    const listed = (paths["/admin/v1/entries"]!.get!.parameters as Json[]).map((p) => p.name);
    expect(listed).toEqual(["spiffe_id", "parent_id", "selector", "match", "federates_with", "hint", "downstream", "page_size", "page_token"]);
    const pageSize = (paths["/admin/v1/entries"]!.get!.parameters as Json[]).find((p) => p.name === "page_size")!;
    expect(pageSize.schema).toMatchObject({ type: "string", pattern: "^[0-9]{1,4}$" });
    const agents = (paths["/admin/v1/agents"]!.get!.parameters as Json[]).map((p) => p.name);
    expect(agents).toEqual(["attestation_type", "banned", "page_size", "page_token"]);
  });
});

/** Parses a live answer with a response schema; the failure names the first mismatch. */
async function answer<S extends z.ZodType>(res: Response, schema: S, status = 200): Promise<z.infer<S>> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const parsed = schema.safeParse(JSON.parse(text));
  expect(parsed.success ? [] : parsed.error.issues, text).toEqual([]);
  return parsed.data as z.infer<S>;
}

describe("live answers match the response schemas", () => {
  const admin = (path: string, init: RequestInit = {}) => call(path, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) } });

  it("public endpoints", async () => {
    await answer(await call("/healthz"), R.Health);
    await answer(await call("/bundle"), R.SpiffeBundle);
    await answer(await call("/keys"), R.Jwks);
    await answer(await call("/attestation/keys"), R.Jwks);
    await answer(await call("/.well-known/openid-configuration"), R.OidcDiscovery);
  });

  it("entries, join tokens, agents (attest, whoami, list, show, ban)", async () => {
    const td = "spiffe://example.org";
    const node = `${td}/node/openapi-${crypto.randomUUID()}`;
    const created = await answer(await adminPost("/admin/v1/entries", { entries: [{ spiffe_id: node, parent_id: `${td}/signet/server`, selectors: [{ type: "tee", value: "type:sample" }] }] }), R.EntryResults);
    const entry = created.results[0] as { entry: { id: string } };
    await answer(await adminPost("/admin/v1/entries", { entries: [{ spiffe_id: node, parent_id: `${td}/signet/server`, selectors: [{ type: "tee", value: "type:sample" }] }] }), R.EntryResults);
    await answer(await admin(`/admin/v1/entries/${entry.entry.id}`), R.Entry);
    await answer(await admin("/admin/v1/entries?page_size=5"), R.EntryList);
    await answer(await adminPost("/admin/v1/entries/delete", { ids: [entry.entry.id, "no-such-entry"] }), R.DeleteEntryResults);
    const token = await answer(await adminPost("/admin/v1/join-tokens", { ttl: 600 }), R.JoinToken);

    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=agent", keys: pair, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
    const attested = await answer(await call("/agent/v1/attest", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ type: "join_token", token: token.token, csr: csr.toString("pem") }) }), R.AttestAnswer);
    const svid = (attested as z.infer<typeof R.AgentSvid>).svid[0]!;
    const proof = await createAgentProof(pair.privateKey, "ES256", fromBase64(svid)!, { method: "GET", path: "/agent/v1/whoami", body: new Uint8Array(), now: Date.now() });
    await answer(await call("/agent/v1/whoami", { headers: { "Signet-Agent-Proof": proof } }), R.Whoami);

    await answer(await admin("/admin/v1/agents?page_size=1000"), R.AgentList);
    const id = encodeURIComponent(token.agent_id);
    await answer(await admin(`/admin/v1/agents/${id}`), R.Agent);
    const banned = await answer(await admin(`/admin/v1/agents/${id}/ban`, { method: "POST" }), R.Agent);
    expect(banned.banned).toBe(true);
    expect((await admin(`/admin/v1/agents/${id}`, { method: "DELETE" })).status).toBe(204);
  });

  it("errors are the Problem schema (and Trustee's on /kbs/v0)", async () => {
    const p = await answer(await call("/admin/v1/agents"), R.Problem, 401);
    expect(p.code).toBe("unauthorized");
    await answer(await admin("/admin/v1/entries/no-such-entry"), R.Problem, 404);
    await answer(await call("/kbs/v0/resource/a/b/c"), R.KbsError, 401);
  });
});
