/**
 * /admin/v1/agents: attested agents (as `spire-server agent list|show|ban|evict`). Authenticated by
 * adminAuth. A banned agent is refused everywhere until it is evicted; an evicted agent must attest
 * again (a join-token agent cannot: its token is spent).
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { registryFor } from "../../durable/addresses";
import type { Agent, AgentFailure } from "../../durable/registry-agents";
import type { AppEnv } from "../context";
import { AppError } from "../errors";

export const adminAgents = new Hono<AppEnv>();

const NO_STORE = { "Cache-Control": "no-store" };

export const ListAgentsQuery = z.strictObject({
  attestation_type: z.enum(["join_token", "tee", "x509pop"]).optional(),
  banned: z.enum(["true", "false"]).optional(),
  page_size: z.string().regex(/^[0-9]{1,4}$/, "must be decimal digits").optional(),
  page_token: z.string().min(1).max(2048).optional(),
});

function wireAgent(a: Agent): Record<string, unknown> {
  return {
    spiffe_id: a.spiffeId,
    attestation_type: a.attestationType,
    selectors: a.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509_svid_serial_number: a.svidSerial,
    x509_svid_expires_at: Math.floor(a.svidExpiresAt / 1000),
    can_reattest: a.canReattest,
    banned: a.banned,
    created_at: Math.floor(a.createdAt / 1000),
  };
}

function failure(e: AgentFailure): AppError {
  return e.reason === "agent_not_found" ? new AppError("not_found", "No such agent.") : new AppError("invalid_request", e.detail);
}

/** The agent's SPIFFE ID from the path (`/agents/spiffe%3A%2F%2F…` or `/agents/spiffe://…`). */
function agentId(c: Context<AppEnv>): string {
  const raw = new URL(c.req.url).pathname.replace(/^\/admin\/v1\/agents\//, "").replace(/\/ban$/, "");
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new AppError("invalid_request", "The agent ID is not percent-encoded correctly.");
  }
  if (!id.startsWith("spiffe://") || id.length > 2048) throw new AppError("invalid_spiffe_id", "The path must name an agent SPIFFE ID.");
  return id;
}

adminAgents.get("/agents", async (c) => {
  const q = ListAgentsQuery.safeParse(Object.fromEntries(new URL(c.req.url).searchParams));
  if (!q.success) throw new AppError("invalid_request", `${q.error.issues[0]?.path.join(".") || "query"}: ${q.error.issues[0]?.message}`);
  const page = await registryFor(c.env, c.get("config").trustDomain).listAgents({
    ...(q.data.page_size ? { pageSize: Number(q.data.page_size) } : {}),
    ...(q.data.page_token ? { pageToken: q.data.page_token } : {}),
    ...(q.data.attestation_type ? { attestationType: q.data.attestation_type } : {}),
    ...(q.data.banned ? { banned: q.data.banned === "true" } : {}),
  });
  return c.json({ agents: page.agents.map(wireAgent), next_page_token: page.nextPageToken ?? null }, 200, NO_STORE);
});

adminAgents.post("/agents/*", async (c) => {
  if (!new URL(c.req.url).pathname.endsWith("/ban")) throw new AppError("not_found", "Use POST /admin/v1/agents/{spiffe id}/ban.");
  const banned = await registryFor(c.env, c.get("config").trustDomain).banAgent({ spiffeId: agentId(c), now: Date.now() });
  if (!banned.ok) throw failure(banned.error);
  return c.json(wireAgent(banned.value), 200, NO_STORE);
});

adminAgents.get("/agents/*", async (c) => {
  const agent = await registryFor(c.env, c.get("config").trustDomain).getAgent({ spiffeId: agentId(c) });
  if (!agent.ok) throw failure(agent.error);
  return c.json(wireAgent(agent.value), 200, NO_STORE);
});

adminAgents.delete("/agents/*", async (c) => {
  const evicted = await registryFor(c.env, c.get("config").trustDomain).evictAgent({ spiffeId: agentId(c) });
  if (!evicted.ok) throw failure(evicted.error);
  return c.body(null, 204);
});
