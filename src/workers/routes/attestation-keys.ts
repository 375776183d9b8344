/**
 * GET /attestation/keys: the JWKS that verifies the key broker's attestation tokens (EAR JWTs), for
 * relying parties that take the token from a guest. Public keys only, from the CA object; these keys
 * never appear in the SPIFFE bundle or the OIDC JWKS, so a token cannot pass as a JWT-SVID.
 */
import { Hono } from "hono";
import { caFor } from "../../durable/addresses";
import type { AppEnv } from "../context";
import { caUnavailable } from "../do-errors";

export const attestationKeys = new Hono<AppEnv>();

attestationKeys.get("/keys", async (c) => {
  const keys = await caFor(c.env, c.get("config").trustDomain).getAttestationKeys();
  if (!keys.ok) throw caUnavailable(keys.error);
  return c.json(keys.value, 200, { "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*" });
});
