/** Tables of the CertificateAuthority Durable Object (one instance per trust domain). */
import { integer, sqliteTable, text, index } from "drizzle-orm/sqlite-core";

/**
 * Signing authorities, one row per key. A track ("x509", "jwt-es256", "jwt-rs256", "ear-es256") has at most one
 * `active` and one `prepared` row; `old` rows stay published until min(24 h, CA_TTL) after they expire.
 */
export const authorities = sqliteTable(
  "authorities",
  {
    id: text("id").primaryKey(),
    track: text("track", { enum: ["x509", "jwt-es256", "jwt-rs256", "ear-es256"] }).notNull(),
    keyType: text("key_type", { enum: ["ec-p256", "ec-p384", "rsa-2048"] }).notNull(),
    status: text("status", { enum: ["prepared", "active", "old"] }).notNull(),
    /** JWT key id (random, 32 chars); null for X.509 authorities. Attestation-token keys have one too. */
    kid: text("kid"),
    /** AES-256-GCM(KEK) over the PKCS#8 private key: base64(iv ‖ ciphertext). */
    wrappedKey: text("wrapped_key").notNull(),
    /** Public key as a JWK (JSON text). */
    publicJwk: text("public_jwk").notNull(),
    /** Self-signed CA certificate, base64 DER; null for JWT keys. */
    certificate: text("certificate"),
    
    notBefore: integer("not_before").notNull(),
    notAfter: integer("not_after").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("authorities_track_status").on(t.track, t.status)],
);

/** The published bundle: one row (id = 1), rebuilt in the same transaction as every authority change. */
export const bundleState = sqliteTable("bundle_state", {
  id: integer("id").primaryKey(),
  sequence: integer("sequence").notNull(),
  /** X.509 and JWT authorities as the SPIFFE bundle document's `keys`, JSON text. */
  keys: text("keys").notNull(),
  /** JWKS for OIDC relying parties, JSON text. */
  jwks: text("jwks").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
