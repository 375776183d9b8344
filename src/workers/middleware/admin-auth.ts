/**
 * `Authorization: Bearer <SIGNET_ADMIN_TOKEN>` on /admin/v1/*, compared in constant time. The scheme
 * is case-insensitive and one or more spaces separate it from the token (RFC 7235 §2.1, `1*SP`); the
 * token is one run of visible ASCII (RFC 6750 §2.1), so a second word or a list is refused.
 */
import { secretsEqual } from "../../lib/crypto/constant-time";
import { factory } from "../context";
import { AppError } from "../errors";
import { loadConfig } from "./config";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="signet-admin"' };

export const adminAuth = factory.createMiddleware(async (c, next) => {
  const header = c.req.header("Authorization");
  const match = header ? /^bearer +([\x21-\x7e]+)$/i.exec(header) : null;
  if (!match) throw new AppError("unauthorized", "An admin bearer token is required.", { headers: CHALLENGE });
  const loaded = loadConfig(c.env);
  if ("error" in loaded) throw new AppError("service_misconfigured", "The service is not configured; see its logs.", { internal: loaded.error });
  if (!(await secretsEqual(match[1]!, loaded.secrets.adminToken))) {
    throw new AppError("unauthorized", "The admin bearer token is not valid.", { headers: CHALLENGE });
  }
  await next();
});
