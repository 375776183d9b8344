/** Tables of the AuditLog Durable Object (one per deployment). Append-only: rows are never updated. */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * One row per attestation (accepted or denied) and per resource release (released or refused).
 * Identifiers, digests and the outcome only: there is no column that could hold secret bytes.
 */
export const auditRecords = sqliteTable(
  "audit_records",
  {
    /** 26 Crockford base32 characters: 48-bit ms time of recording + 80 random bits (time-ordered, unique). */
    id: text("id").primaryKey(),
    /** When it happened, ms (given by the caller). */
    at: integer("at").notNull(),
    kind: text("kind", { enum: ["attestation", "release"] }).notNull(),
    outcome: text("outcome", { enum: ["accepted", "denied", "released", "refused"] }).notNull(),
    /** The failing check's code (`report_data_mismatch`, `policy_denied:measurement`). */
    reason: text("reason"),
    sessionId: text("session_id"),
    tee: text("tee"),
    /** Hex SHA-256 of the evidence bytes. */
    evidenceDigest: text("evidence_digest"),
    measurement: text("measurement"),
    /** Chip or platform identity (SNP chip id, TDX PPID/FMSPC, …). */
    platformId: text("platform_id"),
    initDataDigest: text("init_data_digest"),
    policyId: text("policy_id"),
    resourcePath: text("resource_path"),
    tokenId: text("token_id"),
    /** The peer address as the Worker saw it. */
    client: text("client"),
  },
  (t) => [
    index("audit_at_id").on(t.at, t.id),
    index("audit_kind_at").on(t.kind, t.at, t.id),
    index("audit_outcome_at").on(t.outcome, t.at, t.id),
    index("audit_tee_at").on(t.tee, t.at, t.id),
    index("audit_session_at").on(t.sessionId, t.at, t.id),
    index("audit_resource_at").on(t.resourcePath, t.at, t.id),
  ],
);
