/** Tables of the CollateralStore Durable Object (one per deployment). */
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Vendor collateral, fetched or uploaded, keyed by what it is for (never by certificate serial). */
export const collateralItems = sqliteTable("collateral_items", {
  key: text("key").primaryKey(),
  /** base64 of the response body or uploaded file. */
  body: text("body").notNull(),
  /** JSON object of kept response headers (issuer chains). */
  headers: text("headers").notNull(),
  source: text("source", { enum: ["fetched", "uploaded"] }).notNull(),
  fetchedAt: integer("fetched_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/** Back-off windows after failed fetches, so a vendor service is never hammered. */
export const collateralBackoff = sqliteTable("collateral_backoff", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull(),
  nextAttemptAt: integer("next_attempt_at").notNull(),
});
