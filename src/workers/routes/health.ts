/**
 * /healthz: 200 only when the configuration parses and the certificate authority can sign now (it is
 * asked, so a key-encryption key that does not open the stored keys shows here, not at the first mint).
 */
import { Hono } from "hono";
import { caFor } from "../../durable/addresses";
import type { AppEnv } from "../context";
import { caUnavailable } from "../do-errors";

export const health = new Hono<AppEnv>();

health.get("/", async (c) => {
  const config = c.get("config");
  const ca = await caFor(c.env, config.trustDomain).health();
  if (!ca.ok) throw caUnavailable(ca.error);
  return c.json({ status: "ok", trust_domain: config.trustDomain, spiffe_sequence: ca.value.sequence }, 200, { "Cache-Control": "no-store" });
});
