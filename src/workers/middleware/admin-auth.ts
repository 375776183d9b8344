/**
 * Admin credentials on /admin/v1/*: `Authorization: Bearer <credential>` where the credential is
 * either the bootstrap admin token (SIGNET_ADMIN_TOKEN, compared in constant time) or a JWT-SVID of
 * this trust domain whose audience is the OIDC issuer and whose SPIFFE ID is that of an unexpired
 * registration entry with `admin: true` (as SPIRE's admin_ids / admin entries). The scheme is
 * case-insensitive and one or more spaces separate it from the token (RFC 7235 §2.1, `1*SP`); the
 * token is one run of visible ASCII (RFC 6750 §2.1), so a second word or a list is refused.
 */
import { caFor, registryFor } from "../../durable/addresses";
import { secretsEqual } from "../../lib/crypto/constant-time";
import { validateJwtSvid } from "../../lib/spiffe/jwt-svid-verify";
import { factory } from "../context";
import { caUnavailable } from "../do-errors";
import { AppError } from "../errors";
import { issuerFor } from "../routes/oidc";
import { loadConfig } from "./config";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="signet-admin"' };

export const adminAuth = factory.createMiddleware(async (c, next) => {
  const header = c.req.header("Authorization");
  const match = header ? /^bearer +([\x21-\x7e]+)$/i.exec(header) : null;
  if (!match) throw new AppError("unauthorized", "An admin bearer token is required.", { headers: CHALLENGE });
  const loaded = loadConfig(c.env);
  if ("error" in loaded) throw new AppError("service_misconfigured", "The service is not configured; see its logs.", { internal: loaded.error });
  const credential = match[1]!;
  if (await secretsEqual(credential, loaded.secrets.adminToken)) return next();
  if (credential.split(".").length === 3 && (await isAdminSvid(c.env, loaded.config.trustDomain, credential, issuerFor(c)))) return next();
  throw new AppError("unauthorized", "The admin bearer token is not valid.", { headers: CHALLENGE });
});

async function isAdminSvid(env: Env, trustDomain: Parameters<typeof caFor>[1], token: string, audience: string): Promise<boolean> {
  const bundle = await caFor(env, trustDomain).getTrustBundle();
  if (!bundle.ok) throw caUnavailable(bundle.error);
  const now = Date.now();
  const svid = await validateJwtSvid({ token, audience, now, authorities: (td) => (td === trustDomain ? bundle.value.jwks.keys : undefined) });
  if (!svid.ok) {
    console.warn(JSON.stringify({ component: "admin-auth", refused: svid.error.reason }));
    return false;
  }
  const registry = registryFor(env, trustDomain);
  let pageToken: string | undefined;
  do {
    const page = await registry.listEntries({ filters: { spiffeId: svid.value.spiffeId }, pageSize: 1000, ...(pageToken ? { pageToken } : {}) });
    if (!page.ok) return false;
    if (page.value.entries.some((e) => e.admin && (e.expiresAt === 0 || e.expiresAt * 1000 > now))) return true;
    pageToken = page.value.nextPageToken;
  } while (pageToken);
  console.warn(JSON.stringify({ component: "admin-auth", refused: "not_an_admin_entry", spiffeId: svid.value.spiffeId }));
  return false;
}
