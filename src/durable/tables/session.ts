/** Tables of the AttestationSession Durable Object (one instance per shard of session ids). */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * RCAR sessions. `authed` rows hold a challenge, consumed at most once by /attest (one
 * `DELETE … RETURNING`); `attested` rows hold the token the cookie stands for. Every row expires
 * 5 minutes after /auth (an attested session is not extended, as Trustee), and the alarm deletes it.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    /** 32 lowercase hex characters (UUIDv4 "simple" form). */
    id: text("id").primaryKey(),
    state: text("state", { enum: ["authed", "attested"] }).notNull(),
    /** The TEE named in the auth Request (evidence of another TEE is refused). */
    tee: text("tee").notNull(),
    /** The challenge nonce, standard base64 of 32 bytes. */
    nonce: text("nonce").notNull(),
    hashAlgorithm: text("hash_algorithm").notNull(),
    /** The attestation policy chosen at /auth (extra-params.policy-selector, else "default"). */
    policyId: text("policy_id").notNull(),
    /** The attestation token, once attested. */
    token: text("token"),
    /** The peer as the Worker saw it (for the audit log). */
    client: text("client").notNull(),
    /**
     * What the challenge was issued for, when the answer must come back for the same thing: for
     * x509pop node attestation (`tee` = "x509pop"), the SHA-256 hex of the certificate chain.
     */
    boundTo: text("bound_to"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sessions_expires_at").on(t.expiresAt)],
);

/**
 * Agent proofs seen (their `jti`), kept until the proof could no longer be accepted anyway: a second
 * use of one proof is refused by the primary key (one INSERT … ON CONFLICT DO NOTHING RETURNING).
 */
export const seenProofs = sqliteTable(
  "seen_proofs",
  {
    jti: text("jti").primaryKey(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("seen_proofs_expires_at").on(t.expiresAt)],
);
