/**
 * /agent/v1: node attestation and the agent API. `POST /attest` is unauthenticated (the attestation
 * is the credential); every other call carries an agent proof (`Signet-Agent-Proof`, see
 * lib/spiffe/agent-proof.ts) signed by the agent SVID's key.
 */
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { attestAgent, authenticateAgentCall, renewAgentSvid } from "../agent-flow";
import { AppError } from "../errors";
import { readJson } from "../middleware/json-body";
import { AttestAgentBody, RenewAgentBody } from "../schemas/agent";
import { factory } from "../context";

export const agentApi = new Hono<AppEnv>();

const NO_STORE = { "Cache-Control": "no-store" };

function flowOf(c: { env: Env; get: (k: "config" | "requestId") => unknown }) {
  return { env: c.env, config: c.get("config") as AppEnv["Variables"]["config"], requestId: c.get("requestId") as string, now: Date.now() };
}

agentApi.post("/attest", async (c) => c.json(await attestAgent(flowOf(c), await readJson(c, AttestAgentBody)), 200, NO_STORE));

/** Every call below proves possession of the agent SVID key, over the exact body it sends. */
const agentAuth = factory.createMiddleware(async (c, next) => {
  const body = new Uint8Array(await c.req.arrayBuffer());
  c.set("agent", await authenticateAgentCall(flowOf(c), c.req.header("Signet-Agent-Proof"), c.req.method, new URL(c.req.url).pathname, body));
  await next();
});

agentApi.use("/renew", agentAuth);
agentApi.post("/renew", async (c) => {
  const agent = c.get("agent")!;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(agent.body));
  } catch {
    throw new AppError("malformed_json", "The body is not valid JSON.");
  }
  const body = RenewAgentBody.safeParse(json);
  if (!body.success) throw new AppError("invalid_request", `${body.error.issues[0]?.path.join(".") || "body"}: ${body.error.issues[0]?.message}`);
  return c.json(await renewAgentSvid(flowOf(c), agent, body.data.csr), 200, NO_STORE);
});

agentApi.use("/whoami", agentAuth);
agentApi.get("/whoami", (c) => {
  const agent = c.get("agent")!;
  return c.json({ spiffe_id: agent.spiffeId, selectors: agent.selectors }, 200, NO_STORE);
});
