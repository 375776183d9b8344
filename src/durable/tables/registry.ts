/**
 * Tables of the Registry Durable Object (one per trust domain): the key broker's state (resources,
 * policies, reference values), registration entries and join tokens, attested agents, and federation
 * relationships with the peers' bundles. Every write is one SQLite statement or transaction, durable
 * when the RPC returns.
 */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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

/**
 * Registration entries (SPIRE's model). Selectors are stored twice: as the canonical key (one
 * `type:value` per line, sorted, deduplicated; lib/registry/selectors.ts) that makes (spiffe_id,
 * parent_id, selectors) unique as SPIRE enforces it, and row by row in `entry_selectors` for the
 * list filters. Lists (federates_with, dns_names) are JSON arrays. Times are unix seconds.
 */
export const entries = sqliteTable(
  "entries",
  {
    id: text("id").primaryKey(),
    spiffeId: text("spiffe_id").notNull(),
    parentId: text("parent_id").notNull(),
    selectorsKey: text("selectors_key").notNull(),
    x509SvidTtl: integer("x509_svid_ttl").notNull(),
    jwtSvidTtl: integer("jwt_svid_ttl").notNull(),
    federatesWith: text("federates_with").notNull(),
    dnsNames: text("dns_names").notNull(),
    admin: integer("admin", { mode: "boolean" }).notNull(),
    downstream: integer("downstream", { mode: "boolean" }).notNull(),
    hint: text("hint").notNull(),
    /** 0 = never. */
    expiresAt: integer("expires_at").notNull(),
    /** Bumped on every update; updates compare-and-set on it. */
    revisionNumber: integer("revision_number").notNull(),
    /** The registry change sequence of the entry's last write (agents' sync cursors, lib/registry/sync.ts). */
    changedSeq: integer("changed_seq").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("entries_identity").on(t.spiffeId, t.parentId, t.selectorsKey),
    index("entries_parent_id").on(t.parentId),
    index("entries_hint").on(t.hint),
  ],
);

/** Deleted entries, by the change sequence of their deletion, for agents' delta syncs (pruned oldest first). */
export const entryTombstones = sqliteTable(
  "entry_tombstones",
  {
    id: text("id").primaryKey(),
    seq: integer("seq").notNull(),
  },
  (t) => [index("entry_tombstones_seq").on(t.seq)],
);

/** The sync counters (one row, id 1): see SyncCounters in lib/registry/sync.ts. */
export const syncCounters = sqliteTable("sync_counters", {
  id: integer("id").primaryKey(),
  seq: integer("seq").notNull(),
  structureSeq: integer("structure_seq").notNull(),
  tombstoneFloor: integer("tombstone_floor").notNull(),
});

/** One row per selector of an entry, written and deleted with it in the same transaction. */
export const entrySelectors = sqliteTable(
  "entry_selectors",
  {
    entryId: text("entry_id").notNull(),
    type: text("type").notNull(),
    value: text("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.entryId, t.type, t.value] }), index("entry_selectors_type_value").on(t.type, t.value)],
);

/**
 * Join tokens: single use, expiring. Only the SHA-256 of a token is stored (lowercase hex); a token
 * is used by deleting its row (`DELETE … RETURNING`), so a used token is simply absent.
 */
export const joinTokens = sqliteTable(
  "join_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    /** Unix seconds. */
    expiresAt: integer("expires_at").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("join_tokens_expires_at").on(t.expiresAt)],
);

/**
 * Attested agents: one row per agent SPIFFE ID, written at node attestation (and re-attestation),
 * with the node selectors the attestation proved and the serial of the agent SVID it holds now.
 * A banned agent stays (so it cannot attest again) until an admin evicts it.
 */
export const agents = sqliteTable(
  "agents",
  {
    spiffeId: text("spiffe_id").primaryKey(),
    attestationType: text("attestation_type", { enum: ["join_token", "tee", "x509pop"] }).notNull(),
    /** Canonical node selectors (lib/registry/selectors.ts `selectorsKey`). */
    selectorsKey: text("selectors_key").notNull(),
    svidSerial: text("svid_serial").notNull(),
    /** ms. */
    svidExpiresAt: integer("svid_expires_at").notNull(),
    canReattest: integer("can_reattest", { mode: "boolean" }).notNull(),
    banned: integer("banned", { mode: "boolean" }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("agents_attestation_type").on(t.attestationType)],
);

/**
 * Federation relationships (SPIFFE Federation §5: trust domain, bundle endpoint URL, profile), one row
 * per peer trust domain, with the last good bundle fetched from it and the state of its refreshes
 * (durable/registry-federation.ts). The bundle is the peer's validated document in canonical form
 * (lib/spiffe/federation.ts); it is written only by a fetch made for this row's trust domain and URL,
 * so one peer's bundle can never land under another's name. Times are ms since the epoch.
 */
export const federationRelationships = sqliteTable(
  "federation_relationships",
  {
    trustDomain: text("trust_domain").primaryKey(),
    bundleEndpointUrl: text("bundle_endpoint_url").notNull(),
    profile: text("profile", { enum: ["https_web"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    /** The last good bundle (JSON), or null before the first successful fetch. */
    bundleJson: text("bundle_json"),
    /** Its spiffe_sequence as the peer sent it (null: absent, which counts as 0). */
    sequence: integer("sequence"),
    lastFetchAt: integer("last_fetch_at"),
    lastSuccessAt: integer("last_success_at"),
    /** Why the last fetch failed or was refused (null after a success); never holds secrets. */
    lastError: text("last_error"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    nextRefreshAt: integer("next_refresh_at").notNull(),
  },
  (t) => [index("federation_next_refresh_at").on(t.nextRefreshAt)],
);
