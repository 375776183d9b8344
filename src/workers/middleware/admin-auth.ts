/** `Authorization: Bearer <SIGNET_ADMIN_TOKEN>` on /admin/v1/*, compared in constant time. */
import { secretsEqual } from "../../lib/crypto/constant-time";
import { factory } from "../context";
import { AppError } from "../errors";
import { loadConfig } from "./config";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="signet-admin"' };

export const adminAuth = factory.createMiddleware(async (c, next) => {
  const header = c.req.header("Authorization");
  const match = header ? /^Bearer ([\x21-\x7e]+)$/.exec(header) : null;
  if (!match) throw new AppError("unauthorized", "An admin bearer token is required.", { headers: CHALLENGE });
  const loaded = loadConfig(c.env);
  if ("error" in loaded) throw new AppError("service_misconfigured", "The service is not configured; see its logs.", { internal: loaded.error });
  if (!(await secretsEqual(match[1]!, loaded.secrets.adminToken))) {
    throw new AppError("unauthorized", "The admin bearer token is not valid.", { headers: CHALLENGE });
  }
  await next();
});
