/**
 * The key broker's admin calls on /kbs/v0, as Trustee serves them and its kbs-client sends them
 * (specs/kbs-protocol.md §2.4–2.7): resources (raw bytes), the attestation and resource policies
 * (JSON documents, base64url), reference values (RVPS `sample` messages). Authenticated by adminAuth
 * (`Authorization: Bearer $SIGNET_ADMIN_TOKEN`, which kbs-client sends from `--admin-token-file`).
 * Every write is durable before the 200.
 */
import { Hono, type Context } from "hono";
import { registryFor } from "../../durable/addresses";
import type { RegistryError } from "../../durable/registry";
import { fromBase64, fromUtf8 } from "../../lib/encoding";
import { parseAttestationPolicy } from "../../lib/kbs/attestation-policy";
import { parseResourcePolicy } from "../../lib/kbs/resource-policy";
import { parseResourcePath, resourcePathString } from "../../lib/kbs/resource-path";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { readKbsJson } from "../middleware/json-body";
import { ReferenceValueMessage, SetAttestationPolicyBody, SetResourcePolicyBody } from "../schemas/kbs-admin";

export const kbsAdmin = new Hono<AppEnv>();

/** The policy id Trustee stores the resource policy under. */
export const RESOURCE_POLICY_ID = "resource-policy";
/** kbs-client's default attestation policy id (the KBS evaluates `default` → `default_cpu`). */
export const DEFAULT_ATTESTATION_POLICY_ID = "default_cpu";

function registry(c: Context<AppEnv>) {
  return registryFor(c.env, c.get("config").trustDomain);
}

function registryFailure(e: RegistryError): AppError {
  switch (e.reason) {
    case "resource_not_found":
      return new AppError("resource_not_found", "Resource not found.", { internal: e.detail });
    case "invalid_resource":
      return new AppError("invalid_resource", `Invalid resource: ${e.detail}.`);
    case "not_found":
      return new AppError("reference_value_not_found", "Not found.", { internal: e.detail });
    case "registry_misconfigured":
    case "resource_unreadable":
      return new AppError("service_misconfigured", "The key broker is not configured; see its logs.", { internal: e.detail });
  }
}

function resourcePath(c: Context<AppEnv>): string {
  const p = parseResourcePath([c.req.param("repo") ?? "", c.req.param("type") ?? "", c.req.param("tag") ?? ""]);
  if (!p) throw new AppError("invalid_request_path", "Invalid request path.");
  return resourcePathString(p);
}

/** A JSON policy document sent base64url-encoded (Trustee sends Rego text the same way). */
function decodePolicyDocument(b64: string): unknown {
  const text = fromUtf8(fromBase64(b64) ?? new Uint8Array([0xff]));
  if (text === undefined) throw new AppError("invalid_policy", "The policy is not base64url of UTF-8 text.");
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("invalid_policy", "Signet's policies are JSON documents (see the README); Rego is not evaluated here.");
  }
}

kbsAdmin.post("/resource/:repo/:type/:tag", async (c) => {
  const path = resourcePath(c);
  const value = new Uint8Array(await c.req.arrayBuffer());
  const stored = await registry(c).putResource({ path, value, now: Date.now() });
  if (!stored.ok) throw registryFailure(stored.error);
  return c.body(null, 200);
});

kbsAdmin.delete("/resource/:repo/:type/:tag", async (c) => {
  const deleted = await registry(c).deleteResource({ path: resourcePath(c) });
  if (!deleted.ok) throw registryFailure(deleted.error);
  return c.body(null, 200);
});

kbsAdmin.post("/attestation-policy", async (c) => {
  const body = await readKbsJson(c, SetAttestationPolicyBody);
  if (body.type !== undefined && body.type !== "json") {
    throw new AppError("invalid_policy", `Policy type ${JSON.stringify(body.type.slice(0, 32))} is not supported: Signet's attestation policies are JSON documents (type "json").`);
  }
  const policy = parseAttestationPolicy(decodePolicyDocument(body.policy));
  if (!policy.ok) throw new AppError("invalid_policy", `Invalid attestation policy: ${policy.error.detail}`);
  await registry(c).setPolicy({ kind: "attestation", policyId: body.policy_id ?? DEFAULT_ATTESTATION_POLICY_ID, body: JSON.stringify(policy.value), now: Date.now() });
  return c.body(null, 200);
});

kbsAdmin.post("/resource-policy", async (c) => {
  const body = await readKbsJson(c, SetResourcePolicyBody);
  const policy = parseResourcePolicy(decodePolicyDocument(body.policy));
  if (!policy.ok) throw new AppError("invalid_policy", `Invalid resource policy: ${policy.error.detail}`);
  await registry(c).setPolicy({ kind: "resource", policyId: RESOURCE_POLICY_ID, body: JSON.stringify(policy.value), now: Date.now() });
  return c.body(null, 200);
});

kbsAdmin.get("/resource-policy", async (c) => c.json(await registry(c).listPolicies({ kind: "resource" }), 200, { "Cache-Control": "no-store" }));

kbsAdmin.post("/reference-value", async (c) => {
  const message = await readKbsJson(c, ReferenceValueMessage);
  const text = fromUtf8(fromBase64(message.payload) ?? new Uint8Array([0xff]));
  let values: unknown;
  try {
    values = text === undefined ? undefined : JSON.parse(text);
  } catch {
    values = undefined;
  }
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new AppError("invalid_reference_value", "The payload must be base64 of a JSON object of reference values.");
  }
  const names = Object.keys(values);
  if (names.length === 0 || names.length > 256 || names.some((n) => !/^[A-Za-z0-9_.-]{1,128}$/.test(n))) {
    throw new AppError("invalid_reference_value", "Reference value names are 1 to 128 of [A-Za-z0-9_.-], at most 256 per message.");
  }
  await registry(c).setReferenceValues({ values: values as Record<string, unknown>, now: Date.now() });
  return c.body(null, 200, { "Content-Type": "application/json" });
});

kbsAdmin.get("/reference-value/:id", async (c) => {
  const value = await registry(c).getReferenceValue({ name: c.req.param("id") });
  if (!value.ok) throw registryFailure(value.error);
  return c.body(value.value.json, 200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
});
