/**
 * The OpenAPI 3.1 document, made from the route table (openapi.ts). Every named body and answer is
 * converted once by zod's own JSON Schema generator (draft 2020-12, the dialect OpenAPI 3.1 uses), in
 * its input form: what a client sends, before any transform (`page_size` is the string in the query).
 * Named schemas become components referenced by `$ref`; query schemas become query parameters.
 */
import { z } from "zod";
import { OPERATIONS, type Operation, type Payload, type Security } from "./openapi";
import { KbsError, Problem } from "./schemas/responses";

type Json = Record<string, unknown>;

/** The document's version: the project's (package.json). */
export const API_VERSION = "0.1.0";

const SECURITY_SCHEMES = {
  adminToken: { type: "http", scheme: "bearer", description: "SIGNET_ADMIN_TOKEN, or a JWT-SVID of an admin entry (audience: the OIDC issuer)" },
  agentProof: {
    type: "apiKey",
    in: "header",
    name: "Signet-Agent-Proof",
    description: "A compact JWS (typ signet-agent-proof+jwt) signed by the agent SVID's key, the SVID in x5c, claims htm, htu, ath (SHA-256 of the body), iat, jti",
  },
  kbsSession: { type: "apiKey", in: "cookie", name: "kbs-session-id", description: "An attested key broker session" },
  attestationToken: { type: "http", scheme: "bearer", description: "The key broker's attestation token" },
} as const;

const SECURITY: Readonly<Record<Security, Json[]>> = {
  public: [],
  admin: [{ adminToken: [] }],
  agent: [{ agentProof: [] }],
  kbs_guest: [{ kbsSession: [] }, { attestationToken: [] }],
};

/** `:name` and `:name{regex}` → `{name}`; a `*` is left as it is. */
export function templateOf(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
}

export function pathParamNames(template: string): string[] {
  return [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
}

function strip(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function toJsonSchema(schema: z.ZodType): Json {
  return strip(z.toJSONSchema(schema, { target: "draft-2020-12", io: "input" }) as Json);
}

function queryParameters(query: z.ZodType): Json[] {
  const s = toJsonSchema(query) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, schema]) => ({
    name,
    in: "query",
    required: (s.required ?? []).includes(name),
    schema,
    ...(schema.type === "array" ? { style: "form", explode: true, description: "repeat the parameter for more" } : {}),
  }));
}

function pathParameters(op: Operation): Json[] {
  return pathParamNames(op.path).map((name) => {
    const p = op.params?.[name];
    return { name, in: "path", required: true, schema: p?.schema ? toJsonSchema(p.schema) : { type: "string" }, ...(p ? { description: p.description } : {}) };
  });
}

function content(payload: Payload, ref: (name: string, schema: z.ZodType) => Json): Json {
  if ("contentType" in payload) return { [payload.contentType]: { schema: payload.contentType === "application/json" ? {} : { type: "string", contentMediaType: payload.contentType } } };
  return { "application/json": { schema: ref(payload.name, payload.schema) } };
}

function errorResponse(op: Operation): Json {
  return op.path.startsWith("/kbs/v0/")
    ? { description: "Trustee's error body", content: { "application/json": { schema: { $ref: "#/components/schemas/KbsError" } } } }
    : { description: "RFC 9457 problem details", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } };
}

export function buildOpenApiDocument(operations: readonly Operation[] = OPERATIONS): Json {
  const registry = z.registry<{ id: string }>();
  const named = new Map<string, z.ZodType>();
  const ref = (name: string, schema: z.ZodType): Json => {
    const known = named.get(name);
    if (known !== undefined && known !== schema) throw new TypeError(`two schemas named ${name}`);
    if (known === undefined) {
      named.set(name, schema);
      registry.add(schema, { id: name });
    }
    return { $ref: `#/components/schemas/${name}` };
  };
  ref("Problem", Problem);
  ref("KbsError", KbsError);

  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const parameters = [...pathParameters(op), ...(op.query ? queryParameters(op.query) : [])];
    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries(op.responses)) responses[status] = { description: r.description, ...(r.body ? { content: content(r.body, ref) } : {}) };
    responses.default = errorResponse(op);
    const operation: Json = {
      operationId: `${op.method}${op.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
      tags: [op.tag],
      summary: op.summary,
      security: SECURITY[op.security],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: !("optional" in op.body && op.body.optional === true), content: content(op.body, ref) } } : {}),
      responses,
    };
    (paths[op.path] ??= {})[op.method] = operation;
  }

  const generated = z.toJSONSchema(registry, { target: "draft-2020-12", io: "input", uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Json> };
  const schemas = Object.fromEntries(Object.entries(generated.schemas).map(([name, s]) => [name, strip(s)]));
  return {
    openapi: "3.1.0",
    info: { title: "Signet", version: API_VERSION, description: "SPIFFE CA, registry, agent API and Trustee-compatible key broker on Cloudflare Workers. Times are unix seconds unless named otherwise." },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    paths,
    components: { schemas, securitySchemes: SECURITY_SCHEMES },
  };
}
