/** The Worker's HTTP surface: one hono app composed of sub-apps per surface. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./context";
import { AppError } from "./errors";
import { errorResponse, isKbsPath } from "./problem";
import { configMiddleware } from "./middleware/config";
import { adminAuth } from "./middleware/admin-auth";
import { admin } from "./routes/admin";
import { adminAgents } from "./routes/admin-agents";
import { adminFederation } from "./routes/admin-federation";
import { agentApi } from "./routes/agent";
import { adminAudit } from "./routes/admin-audit";
import { adminCollateral } from "./routes/admin-collateral";
import { adminEntries } from "./routes/admin-entries";
import { attestationKeys } from "./routes/attestation-keys";
import { bundle } from "./routes/bundle";
import { health } from "./routes/health";
import { kbs } from "./routes/kbs";
import { KBS_MAX_BODY_BYTES } from "./schemas/kbs";
import { oidc } from "./routes/oidc";
import { openapi } from "./routes/openapi";

/** Largest admin request body: a CSR with a 8192-bit RSA key fits several times over. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Collateral uploads (a TDX collateral directory, base64 in JSON), entry batches and agent CSR batches are larger. */
export const MAX_COLLATERAL_BYTES = 1024 * 1024;

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    c.set("requestId", crypto.randomUUID());
    await next();
    // RFC 9110 §6.6.1: an origin with a clock sends Date (Cloudflare's edge adds it; workerd does not).
    // Agents use it to sign their proofs in the server's time when their own clock is off.
    if (!c.res.headers.has("Date")) {
      try {
        c.res.headers.set("Date", new Date().toUTCString());
      } catch {
        // Immutable headers (a response passed through as fetched) keep what they have.
      }
    }
  });
  // HSTS only on answers over https: `npm run dev` answers plain http, where the header means nothing
  // and a browser that met it on localhost over https would refuse http there afterwards.
  app.use(async (c, next) => {
    const https = new URL(c.req.url).protocol === "https:";
    return secureHeaders({ crossOriginResourcePolicy: "cross-origin", strictTransportSecurity: https ? "max-age=15552000; includeSubDomains" : false })(c, next);
  });

  app.use(configMiddleware);
  app.route("/healthz", health);
  app.route("/", oidc);
  app.route("/bundle", bundle);
  app.route("/attestation", attestationKeys);
  app.route("/openapi.json", openapi);

  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new AppError("payload_too_large", `Request bodies are limited to ${maxSize} bytes here.`);
      },
    });
  const smallBodies = limit(MAX_BODY_BYTES);
  // Collateral uploads and entry batches (up to 500 entries) are larger than other admin bodies.
  const largeAdmin = (path: string) => path.startsWith("/admin/v1/collateral") || path.startsWith("/admin/v1/entries");
  app.use("/admin/*", (c, next) => (largeAdmin(c.req.path) ? limit(MAX_COLLATERAL_BYTES)(c, next) : smallBodies(c, next)));
  app.use("/kbs/*", limit(KBS_MAX_BODY_BYTES));
  app.route("/kbs/v0", kbs);
  // Agent calls carry batches of up to 500 CSRs.
  app.use("/agent/*", limit(MAX_COLLATERAL_BYTES));
  app.route("/agent/v1", agentApi);
  app.use("/admin/*", adminAuth);
  app.route("/admin/v1", admin);
  app.route("/admin/v1/collateral", adminCollateral);
  app.route("/admin/v1/audit", adminAudit);
  app.route("/admin/v1", adminEntries);
  app.route("/admin/v1", adminAgents);
  app.route("/admin/v1", adminFederation);

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    return errorResponse(path, "not_found", isKbsPath(path) ? "Plugin not found" : `No route for ${c.req.method} ${path}.`, c.get("requestId"));
  });

  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? "unknown";
    const path = new URL(c.req.url).pathname;
    if (error instanceof AppError) {
      if (error.internal) console.warn(JSON.stringify({ requestId, code: error.code, internal: error.internal }));
      return errorResponse(path, error.code, error.detail, requestId, error.headers);
    }
    const overloaded = (error as { overloaded?: unknown }).overloaded === true;
    console.error(JSON.stringify({ requestId, error: error.name, message: error.message }));
    return overloaded
      ? errorResponse(path, "service_overloaded", "The service is overloaded; retry later.", requestId, { "Retry-After": "1" })
      : errorResponse(path, "internal_error", "An internal error occurred.", requestId);
  });

  return app;
}
