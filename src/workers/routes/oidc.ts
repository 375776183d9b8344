/**
 * OIDC discovery, as SPIRE's OIDC discovery provider serves it (specs/spiffe.md §2.7), so Vault's JWT
 * auth, AWS IAM OIDC, GCP and Azure workload identity federation can verify JWT-SVIDs.
 */
import { Hono, type Context } from "hono";
import { caFor } from "../../durable/addresses";
import type { AppEnv } from "../context";
import { caUnavailable } from "../do-errors";

export const oidc = new Hono<AppEnv>();

const NO_CACHE = {
  "Cache-Control": "no-cache, no-store, must-revalidate",
  Pragma: "no-cache",
  Expires: "0",
  "Access-Control-Allow-Origin": "*",
};

/** The configured issuer, exactly as configured; else the origin of the request. */
export function issuerFor(c: Context<AppEnv>): string {
  return c.get("config").oidcIssuer ?? new URL(c.req.url).origin;
}

oidc.get("/.well-known/openid-configuration", (c) => {
  const issuer = issuerFor(c);
  return c.json(
    {
      issuer,
      jwks_uri: `${issuer}/keys`,
      authorization_endpoint: "",
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["ES256", "RS256"],
    },
    200,
    NO_CACHE,
  );
});

oidc.get("/keys", async (c) => {
  const bundle = await caFor(c.env, c.get("config").trustDomain).getTrustBundle();
  if (!bundle.ok) throw caUnavailable(bundle.error);
  return c.json(bundle.value.jwks, 200, NO_CACHE);
});
