/**
 * The SPIFFE bundle endpoint (SPIFFE Federation, https_web profile): the trust domain's current
 * bundle, no client authentication, JSON. Cloudflare terminates TLS with a public certificate.
 */
import { Hono } from "hono";
import { caFor } from "../../durable/addresses";
import { spiffeBundleDocument } from "../../lib/spiffe/bundle";
import type { AppEnv } from "../context";
import { caUnavailable } from "../do-errors";

export const bundle = new Hono<AppEnv>();

bundle.get("/", async (c) => {
  const config = c.get("config");
  const b = await caFor(c.env, config.trustDomain).getTrustBundle();
  if (!b.ok) throw caUnavailable(b.error);
  const doc = spiffeBundleDocument(b.value.keys, b.value.sequence, config.bundleRefreshHint);
  return c.json(doc, 200, { "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*" });
});
