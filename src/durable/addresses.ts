/** The only place Durable Object names are derived. */
import { fnv1a32 } from "../lib/fnv";
import type { TrustDomain } from "../lib/spiffe/id";
import type { CertificateAuthority } from "./ca";
import type { AuditLog } from "./audit";
import type { CollateralStore } from "./collateral";
import type { Registry } from "./registry";
import type { AttestationSession } from "./session";

/** One certificate authority per trust domain. */
export function caFor(env: Env, trustDomain: TrustDomain): DurableObjectStub<CertificateAuthority> {
  const ns = env.CA as DurableObjectNamespace<CertificateAuthority>;
  return ns.get(ns.idFromName(`ca:${trustDomain}`));
}

/** One collateral store per deployment: vendor collateral is the same for every trust domain. */
export function collateralStore(env: Env): DurableObjectStub<CollateralStore> {
  const ns = env.COLLATERAL as DurableObjectNamespace<CollateralStore>;
  return ns.get(ns.idFromName("collateral"));
}

/** One audit log per deployment (to be sharded by time when it grows; not yet). */
export function auditLog(env: Env): DurableObjectStub<AuditLog> {
  const ns = env.AUDIT as DurableObjectNamespace<AuditLog>;
  return ns.get(ns.idFromName("audit"));
}

/** One registry per trust domain (for now: the key broker's resources, policies, reference values). */
export function registryFor(env: Env, trustDomain: TrustDomain): DurableObjectStub<Registry> {
  const ns = env.REGISTRY as DurableObjectNamespace<Registry>;
  return ns.get(ns.idFromName(`registry:${trustDomain}`));
}

/** Session shards: the first two hex digits of the session id (256 objects). */
export function sessionFor(env: Env, sessionId: string): DurableObjectStub<AttestationSession> {
  const ns = env.SESSIONS as DurableObjectNamespace<AttestationSession>;
  return ns.get(ns.idFromName(`sessions:${sessionId.slice(0, 2)}`));
}

/** Replay-guard shards for agent proofs. */
export const PROOF_GUARD_SHARDS = 64;

/**
 * The replay guard for an agent's proofs: sharded by the agent's SPIFFE ID (verified from the proof's
 * SVID before the guard is asked), so a replayed proof meets the guard that saw it, and an agent's
 * calls keep meeting the same warm object. (Sharding by the proof's random jti sent nearly every call
 * to an object of its own among 4,096, each opened and migrated for one INSERT: ~5 ms of CPU a call.)
 */
export function proofGuardFor(env: Env, agentId: string): DurableObjectStub<AttestationSession> {
  const ns = env.SESSIONS as DurableObjectNamespace<AttestationSession>;
  return ns.get(ns.idFromName(`proofs:${proofGuardShard(agentId)}`));
}

/** FNV-1a of the ID, modulo the shard count. */
export function proofGuardShard(agentId: string): number {
  return fnv1a32(agentId) % PROOF_GUARD_SHARDS;
}
