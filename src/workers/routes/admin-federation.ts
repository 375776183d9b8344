/**
 * /admin/v1/federation: federation relationships (as `spire-server federation create|list|show|delete|refresh`).
 * Authenticated by adminAuth. The registry fetches each peer's bundle (at once on create, then by its
 * alarm); a relationship is created even when that first fetch fails, and the answer says so.
 *
 * - `POST   /federation`              `{"trust_domain","bundle_endpoint_url","bundle_endpoint_profile":"https_web"}`
 *                                      → 201 `{"federation":{…},"refresh":{"outcome","detail"?}}`
 * - `GET    /federation?page_size=&page_token=` → `{"federations":[…],"next_page_token":string|null}`
 * - `GET    /federation/{td}`         → the relationship with its last good bundle (`trust_domain_bundle`)
 * - `DELETE /federation/{td}`         → `{"trust_domain","status":"deleted"}`
 * - `POST   /federation/{td}/refresh` `{"force"?:true}` (body optional) → `{"federation","refresh"}`
 *   (`outcome`: updated, unchanged, refused (rollback, sequence conflict) or failed; the answer is 200
 *   whatever the peer did, since the request itself succeeded)
 */
import { Hono, type Context } from "hono";
import { registryFor } from "../../durable/addresses";
import type { FederationFailure } from "../../durable/registry-federation";
import type { Result } from "../../lib/result";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { readJson } from "../middleware/json-body";
import { CreateFederationBody, ListFederationsQuery, RefreshFederationBody, toWireFederation, toWireRefresh } from "../schemas/admin-federation";

export const adminFederation = new Hono<AppEnv>();

const NO_STORE = { "Cache-Control": "no-store" };

function unwrap<T>(r: Result<T, FederationFailure>): T {
  if (r.ok) return r.value;
  const f = r.error;
  if (f.reason === "registry_misconfigured") throw new AppError("service_misconfigured", "The registry is not configured; see its logs.", { internal: f.detail });
  throw new AppError(f.reason, f.detail);
}

const registry = (c: Context<AppEnv>) => registryFor(c.env, c.get("config").trustDomain);

adminFederation.post("/federation", async (c) => {
  const body = await readJson(c, CreateFederationBody);
  const created = unwrap(await registry(c).createFederation({ trustDomain: body.trust_domain, bundleEndpointUrl: body.bundle_endpoint_url, profile: body.bundle_endpoint_profile, now: Date.now() }));
  return c.json(toWireRefresh(created), 201, NO_STORE);
});

adminFederation.get("/federation", async (c) => {
  const params = new URL(c.req.url).searchParams;
  const query: Record<string, string> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    if (values.length > 1) throw new AppError("invalid_request", `${name.slice(0, 40)}: given more than once`);
    query[name] = values[0]!;
  }
  const q = ListFederationsQuery.safeParse(query);
  if (!q.success) {
    const issue = q.error.issues[0];
    if (issue?.code === "unrecognized_keys") throw new AppError("unknown_field", `Unknown query parameter(s) ${issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(", ")}.`);
    throw new AppError("invalid_request", `${issue?.path.join(".") || "query"}: ${issue?.message ?? "invalid"}`);
  }
  const page = unwrap(await registry(c).listFederations({ pageSize: q.data.page_size, pageToken: q.data.page_token }));
  return c.json({ federations: page.relationships.map(toWireFederation), next_page_token: page.nextPageToken ?? null }, 200, NO_STORE);
});

adminFederation.get("/federation/:td", async (c) => {
  const found = unwrap(await registry(c).getFederation({ trustDomain: c.req.param("td") }));
  return c.json(toWireFederation(found), 200, NO_STORE);
});

adminFederation.delete("/federation/:td", async (c) => {
  const gone = unwrap(await registry(c).deleteFederation({ trustDomain: c.req.param("td") }));
  return c.json({ trust_domain: gone.trustDomain, status: "deleted" }, 200, NO_STORE);
});

adminFederation.post("/federation/:td/refresh", async (c) => {
  const hasBody = (c.req.header("Content-Length") ?? "0") !== "0" || c.req.header("Content-Type") !== undefined;
  const body = hasBody ? await readJson(c, RefreshFederationBody) : {};
  const done = unwrap(await registry(c).refreshFederation({ trustDomain: c.req.param("td"), force: body.force === true }));
  return c.json(toWireRefresh(done), 200, NO_STORE);
});
