/**
 * /kbs/v0: the Trustee-compatible key broker (RCAR 0.4.0, specs/kbs-protocol.md §2). Guests'
 * calls here; the admin calls in kbs-admin.ts. Bodies are parsed from raw bytes whatever the
 * Content-Type (as Trustee), errors are Trustee's `{type, detail}` (app.ts maps the flavour).
 */
import { Hono, type Context } from "hono";
import { getCookie } from "hono/cookie";
import { parseSessionId } from "../../lib/kbs";
import { parseResourcePath } from "../../lib/kbs/resource-path";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { attest, auth, evidenceText, release, type FlowContext, type TokenSource } from "../kbs-flow";
import { adminAuth } from "../middleware/admin-auth";
import { readKbsJson } from "../middleware/json-body";
import { KbsAttestationBody, KbsRequestBody } from "../schemas/kbs";
import { kbsAdmin } from "./kbs-admin";

export const kbs = new Hono<AppEnv>();

const COOKIE = "kbs-session-id";
const NO_STORE = { "Cache-Control": "no-store" };

function flow(c: Context<AppEnv>): FlowContext {
  return { env: c.env, config: c.get("config"), client: c.req.header("CF-Connecting-IP") ?? "unknown", requestId: c.get("requestId"), now: Date.now() };
}

/** Trustee's cookie: the session id, only `Expires` (no Path, Secure or HttpOnly; see spec §2.8). */
function sessionCookie(id: string, expiresAt: number): string {
  return `${COOKIE}=${id}; Expires=${new Date(expiresAt).toUTCString()}`;
}

/** /auth is unauthenticated: a per-client and a global rate bound it before any storage is touched. */
async function rateLimited(c: Context<AppEnv>, client: string): Promise<boolean> {
  const [perClient, global] = await Promise.all([c.env.AUTH_CLIENT_LIMIT.limit({ key: client }), c.env.AUTH_GLOBAL_LIMIT.limit({ key: "global" })]);
  return !perClient.success || !global.success;
}

kbs.post("/auth", async (c) => {
  const ctx = flow(c);
  if (await rateLimited(c, ctx.client)) {
    throw new AppError("too_many_requests", "Attestation error: RCAR handshake Auth failed: too many requests", { headers: { "Retry-After": "10" } });
  }
  const request = await readKbsJson(c, KbsRequestBody);
  const r = await auth(ctx, request);
  return c.json(r.challenge, 200, { ...NO_STORE, "Set-Cookie": sessionCookie(r.sessionId, r.expiresAt) });
});

kbs.post("/attest", async (c) => {
  const ctx = flow(c);
  const id = parseSessionId(getCookie(c, COOKIE));
  if (!id.ok) throw new AppError("kbs_attest_failed", "Attestation error: RCAR handshake Attest failed", { internal: "no or malformed kbs-session-id cookie" });
  const attestation = await readKbsJson(c, KbsAttestationBody).catch((e: unknown) => {
    // A body that is not an Attestation fails the handshake like any other bad evidence.
    throw new AppError("kbs_attest_failed", "Attestation error: RCAR handshake Attest failed", { internal: e instanceof AppError ? e.detail : "unreadable body" });
  });
  const r = await attest(ctx, id.value, attestation, evidenceText(attestation));
  return c.json({ token: r.token }, 200, { ...NO_STORE, "Set-Cookie": sessionCookie(id.value, r.expiresAt) });
});

/**
 * Where a resource request's token comes from, in Trustee's order: the session cookie (an attested,
 * unexpired session), otherwise `Authorization: Bearer <token>`.
 */
function tokenSources(c: Context<AppEnv>): TokenSource[] {
  const sources: TokenSource[] = [];
  const id = parseSessionId(getCookie(c, COOKIE));
  if (id.ok) sources.push({ kind: "cookie", sessionId: id.value });
  const match = /^Bearer +([A-Za-z0-9_.-]+)$/i.exec(c.req.header("Authorization") ?? "");
  if (match) sources.push({ kind: "bearer", token: match[1]! });
  if (sources.length === 0) throw new AppError("token_not_found", "Token not found");
  return sources;
}

kbs.get("/resource/*", async (c) => {
  const rest = new URL(c.req.url).pathname.slice("/kbs/v0/resource/".length);
  const path = parseResourcePath(rest.split("/"));
  if (!path) throw new AppError("invalid_request_path", "Invalid request path");
  const jwe = await release(flow(c), tokenSources(c), path);
  return c.json(jwe, 200, NO_STORE);
});

// Admin calls: every method but the guest's GET on a resource.
kbs.use("/resource/*", async (c, next) => (c.req.method === "GET" ? next() : adminAuth(c, next)));
kbs.use("/attestation-policy", adminAuth);
kbs.use("/resource-policy", adminAuth);
kbs.use("/reference-value", adminAuth);
kbs.use("/reference-value/*", adminAuth);
kbs.route("/", kbsAdmin);
