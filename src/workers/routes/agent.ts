/**
 * /agent/v1: node attestation and the agent API. `POST /attest` is unauthenticated (the attestation
 * is the credential); every other call carries an agent proof (`Signet-Agent-Proof`, see
 * lib/spiffe/agent-proof.ts) signed by the agent SVID's key.
 */
import { Hono } from "hono";
import type { z } from "zod";
import type { AppEnv } from "../context";
import type { Context } from "hono";
import { admitAgentCall, agentBundles, attestAgent, renewAgentSvid, signAgentJwtSvid, signAgentX509Svids, syncEntries, verifyAgentCallProof, x509PopChallenge, type AgentFlowContext } from "../agent-flow";
import { issuerFor } from "./oidc";
import { AppError } from "../errors";
import { readJson } from "../middleware/json-body";
import { AttestAgentBody, RenewAgentBody, SignJwtSvidBody, SignX509SvidsBody, SyncEntriesBody } from "../schemas/agent";
import { factory } from "../context";

export const agentApi = new Hono<AppEnv>();

const NO_STORE = { "Cache-Control": "no-store" };

function flowOf(c: Context<AppEnv>): AgentFlowContext {
  return { env: c.env, config: c.get("config"), requestId: c.get("requestId"), now: Date.now(), client: c.req.header("CF-Connecting-IP") ?? "unknown", issuer: issuerFor(c) };
}

agentApi.post("/attest", async (c) => {
  const body = await readJson(c, AttestAgentBody);
  const ctx = flowOf(c);
  return c.json(body.type === "x509pop" ? await x509PopChallenge(ctx, body.certificates) : await attestAgent(ctx, body), 200, NO_STORE);
});

/** The call's proof checked over the exact body it sends (not yet admitted: see admitAgentCall). */
async function provenCall(c: Context<AppEnv>, ctx: AgentFlowContext) {
  return verifyAgentCallProof(ctx, c.req.header("Signet-Agent-Proof"), c.req.method, new URL(c.req.url).pathname, new Uint8Array(await c.req.arrayBuffer()));
}

/** Every call below proves possession of the agent SVID key, over the exact body it sends. */
const agentAuth = factory.createMiddleware(async (c, next) => {
  const ctx = flowOf(c);
  c.set("agent", await admitAgentCall(ctx, await provenCall(c, ctx)));
  await next();
});

/** The body the proof covered, as JSON, checked against a schema. */
function provenBody<S extends z.ZodType>(agent: { readonly body: Uint8Array }, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(agent.body));
  } catch {
    throw new AppError("malformed_json", "The body is not valid JSON.");
  }
  const body = schema.safeParse(json);
  if (!body.success) throw new AppError("invalid_request", `${body.error.issues[0]?.path.join(".") || "body"}: ${body.error.issues[0]?.message}`);
  return body.data;
}

agentApi.use("/renew", agentAuth);
agentApi.post("/renew", async (c) => {
  const agent = c.get("agent")!;
  return c.json(await renewAgentSvid(flowOf(c), agent, provenBody(agent, RenewAgentBody).csr), 200, NO_STORE);
});

agentApi.use("/entries/sync", agentAuth);
agentApi.post("/entries/sync", async (c) => {
  const agent = c.get("agent")!;
  return c.json(await syncEntries(flowOf(c), agent, provenBody(agent, SyncEntriesBody)), 200, NO_STORE);
});

// Not through agentAuth: the proof is verified first, then its admission runs beside the CSR checks
// (signAgentX509Svids). A body that does not parse is refused only after the admission, so a call
// that is not admitted gets the same answer as on every other route.
agentApi.post("/svids/x509", async (c) => {
  const ctx = flowOf(c);
  const proven = await provenCall(c, ctx);
  const admission = admitAgentCall(ctx, proven);
  let requests;
  try {
    requests = provenBody(proven, SignX509SvidsBody).requests;
  } catch (e) {
    await admission;
    throw e;
  }
  return c.json(await signAgentX509Svids(ctx, proven, admission, requests), 200, NO_STORE);
});

agentApi.use("/whoami", agentAuth);
agentApi.get("/whoami", (c) => {
  const agent = c.get("agent")!;
  return c.json({ spiffe_id: agent.spiffeId, selectors: agent.selectors }, 200, NO_STORE);
});

agentApi.use("/svids/jwt", agentAuth);
agentApi.post("/svids/jwt", async (c) => {
  const agent = c.get("agent")!;
  return c.json(await signAgentJwtSvid(flowOf(c), agent, provenBody(agent, SignJwtSvidBody)), 200, NO_STORE);
});

agentApi.use("/bundles", agentAuth);
agentApi.get("/bundles", async (c) => c.json(await agentBundles(flowOf(c), c.get("agent")!), 200, NO_STORE));
