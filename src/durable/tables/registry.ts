/**
 * Tables of the Registry Durable Object (one per trust domain): for now the key broker's state —
 * resources, policies and reference values. Registration entries and agents come with the registry
 * issue. Every write is one SQLite statement or transaction, durable when the RPC returns.
 */
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Key broker resources (`<repo>/<type>/<tag>`), sealed under the KEK with the path as AAD. */
export const kbsResources = sqliteTable("kbs_resources", {
  path: text("path").primaryKey(),
  /** base64(iv ‖ AES-256-GCM(KEK, value, aad = "kbs-resource:" + path)). */
  sealedValue: text("sealed_value").notNull(),
  size: integer("size").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Attestation and resource policies, as JSON documents (policies are data, not code). */
export const kbsPolicies = sqliteTable("kbs_policies", {
  /** `attestation:<policy id>` or `resource:<policy id>`. */
  key: text("key").primaryKey(),
  kind: text("kind", { enum: ["attestation", "resource"] }).notNull(),
  policyId: text("policy_id").notNull(),
  /** The policy as canonical JSON text. */
  body: text("body").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Reference values (RVPS `sample` messages): a name and its JSON value (a value or a list). */
export const referenceValues = sqliteTable("reference_values", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
