/**
 * The registry's attested agents (see tables/registry.ts `agents`), as functions over its database so
 * registry.ts keeps only the RPC surface. Invariants: a banned agent never attests again until
 * evicted; the recorded SVID serial is the only agent SVID the agent API accepts (renewal moves it by
 * compare-and-set on the old serial).
 */
import { and, asc, eq, gt } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { canonicalSelectors, parseSelector, selectorsFromKey, selectorsKey, type Selector } from "../lib/registry/selectors";
import { err, ok, type Result } from "../lib/result";
import type * as schema from "./tables/registry";
import { agents } from "./tables/registry";

type Db = DrizzleSqliteDODatabase<typeof schema>;

export type AttestationType = "join_token" | "tee" | "x509pop";

export interface Agent {
  readonly spiffeId: string;
  readonly attestationType: AttestationType;
  readonly selectors: readonly Selector[];
  readonly svidSerial: string;
  readonly svidExpiresAt: number;
  readonly canReattest: boolean;
  readonly banned: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface AgentFailure {
  readonly reason: "agent_banned" | "agent_not_found" | "agent_svid_mismatch" | "invalid_selector";
  readonly detail: string;
}

export interface RegisterAgentInput {
  readonly spiffeId: string;
  readonly attestationType: AttestationType;
  /** `type:value` strings. */
  readonly selectors: readonly string[];
  readonly svidSerial: string;
  readonly svidExpiresAt: number;
  readonly canReattest: boolean;
  readonly now: number;
}

function toAgent(row: typeof agents.$inferSelect): Agent {
  return { ...row, selectors: selectorsFromKey(row.selectorsKey) };
}

/** Records an attestation: a new agent, or a re-attested one (new selectors and SVID). */
export function registerAgent(db: Db, input: RegisterAgentInput): Result<Agent, AgentFailure> {
  const parsed: Selector[] = [];
  for (const s of input.selectors) {
    const sel = parseSelector(s);
    if (!sel.ok) return err({ reason: "invalid_selector", detail: sel.error.detail });
    parsed.push(sel.value);
  }
  const canonical = parsed.length === 0 ? ok<Selector[]>([]) : canonicalSelectors(parsed);
  if (!canonical.ok) return err({ reason: "invalid_selector", detail: canonical.error.detail });
  const existing = db.select().from(agents).where(eq(agents.spiffeId, input.spiffeId)).get();
  if (existing?.banned) return err({ reason: "agent_banned", detail: `${input.spiffeId} is banned` });
  const row = {
    spiffeId: input.spiffeId,
    attestationType: input.attestationType,
    selectorsKey: selectorsKey(canonical.value),
    svidSerial: input.svidSerial,
    svidExpiresAt: input.svidExpiresAt,
    canReattest: input.canReattest,
    banned: false,
    createdAt: existing?.createdAt ?? input.now,
    updatedAt: input.now,
  };
  db.insert(agents).values(row).onConflictDoUpdate({ target: agents.spiffeId, set: row }).run();
  return ok(toAgent(row));
}

export function getAgent(db: Db, spiffeId: string): Result<Agent, AgentFailure> {
  const row = db.select().from(agents).where(eq(agents.spiffeId, spiffeId)).get();
  return row ? ok(toAgent(row)) : err({ reason: "agent_not_found", detail: spiffeId });
}

/** The agent behind an agent-API call: known, not banned, presenting the SVID recorded for it. */
export function authenticateAgent(db: Db, spiffeId: string, svidSerial: string): Result<Agent, AgentFailure> {
  const agent = getAgent(db, spiffeId);
  if (!agent.ok) return agent;
  if (agent.value.banned) return err({ reason: "agent_banned", detail: `${spiffeId} is banned` });
  if (agent.value.svidSerial !== svidSerial) return err({ reason: "agent_svid_mismatch", detail: "not the agent SVID recorded for this agent" });
  return agent;
}

/** Renewal: the new SVID replaces the one presented (compare-and-set on its serial). */
export function renewAgent(db: Db, input: { spiffeId: string; oldSerial: string; newSerial: string; newExpiresAt: number; now: number }): Result<Agent, AgentFailure> {
  const row = db
    .update(agents)
    .set({ svidSerial: input.newSerial, svidExpiresAt: input.newExpiresAt, updatedAt: input.now })
    .where(and(eq(agents.spiffeId, input.spiffeId), eq(agents.svidSerial, input.oldSerial), eq(agents.banned, false)))
    .returning()
    .get();
  return row ? ok(toAgent(row)) : err({ reason: "agent_svid_mismatch", detail: "the agent is unknown, banned, or renewed with another SVID already" });
}

export function banAgent(db: Db, spiffeId: string, now: number): Result<Agent, AgentFailure> {
  const row = db.update(agents).set({ banned: true, updatedAt: now }).where(eq(agents.spiffeId, spiffeId)).returning().get();
  return row ? ok(toAgent(row)) : err({ reason: "agent_not_found", detail: spiffeId });
}

/** Removes an agent; it may attest again (unless its attestation cannot be repeated). */
export function evictAgent(db: Db, spiffeId: string): Result<void, AgentFailure> {
  const row = db.delete(agents).where(eq(agents.spiffeId, spiffeId)).returning({ id: agents.spiffeId }).get();
  return row ? ok(undefined) : err({ reason: "agent_not_found", detail: spiffeId });
}

export function listAgents(db: Db, input: { pageSize?: number; pageToken?: string; attestationType?: AttestationType; banned?: boolean }): { agents: Agent[]; nextPageToken?: string } {
  const size = Math.min(Math.max(input.pageSize ?? 100, 1), 1000);
  const conditions = [
    ...(input.pageToken ? [gt(agents.spiffeId, input.pageToken)] : []),
    ...(input.attestationType ? [eq(agents.attestationType, input.attestationType)] : []),
    ...(input.banned !== undefined ? [eq(agents.banned, input.banned)] : []),
  ];
  const rows = db.select().from(agents).where(conditions.length > 0 ? and(...conditions) : undefined).orderBy(asc(agents.spiffeId)).limit(size + 1).all();
  const page = rows.slice(0, size).map(toAgent);
  return rows.length > size ? { agents: page, nextPageToken: page[page.length - 1]!.spiffeId } : { agents: page };
}
