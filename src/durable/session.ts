/**
 * AttestationSession: RCAR challenges and attested sessions, one object per shard of session ids
 * (`sessionFor(env, id)`), so no single object serialises every guest.
 *
 * Invariants:
 * - a challenge is consumed at most once: `consumeChallenge` is one `DELETE … RETURNING`, so a replayed
 *   or concurrent second /attest with the same session cannot get the same challenge twice;
 * - every row expires 5 minutes after /auth and the alarm deletes expired rows (one alarm per object,
 *   re-armed from MIN(expires_at));
 * - a shard holds at most MAX_LIVE_SESSIONS unexpired rows: /auth is unauthenticated, so storage is
 *   bounded here (and the Worker rate-limits /auth per client and globally before it gets here).
 *
 * The same class, under other names (`proofGuardFor`), remembers the agent proofs it has seen, so a
 * proof is accepted once (one INSERT … ON CONFLICT DO NOTHING RETURNING), until it expires.
 *
 * Time comes from the caller (`now`), the Worker's clock, so tests drive expiry.
 */
import { DurableObject } from "cloudflare:workers";
import { and, count, eq, gt, lte, min } from "drizzle-orm";
import { err, ok, type Result } from "../lib/result";
import { openDb } from "./db";
import * as schema from "./tables/session";
import { seenProofs, sessions } from "./tables/session";
import migrations from "../../migrations/session/migrations.js";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";

/** Most unexpired sessions one shard keeps (256 shards: ~1M sessions, a few hundred bytes each). */
export const MAX_LIVE_SESSIONS = 4096;

export interface IssueChallengeInput {
  readonly id: string;
  readonly tee: string;
  readonly nonce: string;
  readonly hashAlgorithm: string;
  readonly policyId: string;
  readonly client: string;
  readonly now: number;
  readonly expiresAt: number;
  /** See `sessions.boundTo`. */
  readonly boundTo?: string;
}

export interface Challenge {
  readonly tee: string;
  readonly nonce: string;
  readonly hashAlgorithm: string;
  readonly policyId: string;
  readonly client: string;
  readonly expiresAt: number;
  readonly boundTo?: string;
}

export interface SessionError {
  /** `session_unknown`: no such challenge (never issued, already consumed, or removed after expiry). */
  readonly reason: "session_unknown" | "session_expired" | "sessions_full";
}

export class AttestationSession extends DurableObject<Env> {
  #db!: DrizzleSqliteDODatabase<typeof schema>;
  /** The alarm time we last set (the hot path does not read storage to check it). */
  #alarmAt: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = openDb(ctx, schema, migrations);
      this.#alarmAt = (await ctx.storage.getAlarm()) ?? undefined;
    });
  }

  /** Stores a new challenge (state `authed`). Refused when the shard is full of live sessions. */
  async issueChallenge(input: IssueChallengeInput): Promise<Result<void, SessionError>> {
    const live = this.#db.select({ n: count() }).from(sessions).where(gt(sessions.expiresAt, input.now)).get()?.n ?? 0;
    if (live >= MAX_LIVE_SESSIONS) return err({ reason: "sessions_full" });
    const { id, tee, nonce, hashAlgorithm, policyId, client, now, expiresAt } = input;
    this.#db.insert(sessions).values({ id, state: "authed", tee, nonce, hashAlgorithm, policyId, client, boundTo: input.boundTo ?? null, createdAt: now, expiresAt }).run();
    await this.#armAlarm(expiresAt);
    return ok(undefined);
  }

  /** Takes the challenge of a session exactly once (one DELETE … RETURNING). */
  async consumeChallenge(input: { readonly id: string; readonly now: number }): Promise<Result<Challenge, SessionError>> {
    const row = this.#db.delete(sessions).where(and(eq(sessions.id, input.id), eq(sessions.state, "authed"))).returning().get();
    if (!row) return err({ reason: "session_unknown" });
    if (input.now >= row.expiresAt) return err({ reason: "session_expired" });
    return ok({ tee: row.tee, nonce: row.nonce, hashAlgorithm: row.hashAlgorithm, policyId: row.policyId, client: row.client, expiresAt: row.expiresAt, ...(row.boundTo !== null ? { boundTo: row.boundTo } : {}) });
  }

  /** The session is attested: the cookie now stands for `token`, until the session's own expiry. */
  async recordAttested(input: { readonly id: string; readonly challenge: Challenge; readonly token: string; readonly now: number }): Promise<Result<void, SessionError>> {
    const { id, challenge: c, token, now } = input;
    if (now >= c.expiresAt) return err({ reason: "session_expired" });
    const row = { id, state: "attested" as const, tee: c.tee, nonce: c.nonce, hashAlgorithm: c.hashAlgorithm, policyId: c.policyId, token, client: c.client, createdAt: now, expiresAt: c.expiresAt };
    this.#db.insert(sessions).values(row).onConflictDoUpdate({ target: sessions.id, set: row }).run();
    await this.#armAlarm(c.expiresAt);
    return ok(undefined);
  }

  /** The token of an attested, unexpired session. */
  async attestedToken(input: { readonly id: string; readonly now: number }): Promise<Result<{ token: string }, SessionError>> {
    const row = this.#db.select().from(sessions).where(and(eq(sessions.id, input.id), eq(sessions.state, "attested"))).get();
    if (!row || row.token === null) return err({ reason: "session_unknown" });
    if (input.now >= row.expiresAt) return err({ reason: "session_expired" });
    return ok({ token: row.token });
  }

  /** Records an agent proof's `jti`; a second use (before it expires) is refused. */
  async rememberProof(input: { readonly jti: string; readonly expiresAt: number; readonly now: number }): Promise<Result<void, { readonly reason: "proof_replayed" }>> {
    if (input.expiresAt <= input.now) return err({ reason: "proof_replayed" });
    const row = this.#db.insert(seenProofs).values({ jti: input.jti, expiresAt: input.expiresAt }).onConflictDoNothing().returning({ jti: seenProofs.jti }).get();
    if (!row) return err({ reason: "proof_replayed" });
    await this.#armAlarm(input.expiresAt);
    return ok(undefined);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#db.delete(sessions).where(lte(sessions.expiresAt, now)).run();
    this.#db.delete(seenProofs).where(lte(seenProofs.expiresAt, now)).run();
    const nextSession = this.#db.select({ at: min(sessions.expiresAt) }).from(sessions).get()?.at ?? null;
    const nextProof = this.#db.select({ at: min(seenProofs.expiresAt) }).from(seenProofs).get()?.at ?? null;
    const next = [nextSession, nextProof].filter((t): t is number => t !== null);
    this.#alarmAt = undefined;
    if (next.length > 0) await this.#armAlarm(Math.max(Math.min(...next), now + 1000));
  }

  async #armAlarm(at: number): Promise<void> {
    if (this.#alarmAt !== undefined && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}
