/**
 * Registry: one Durable Object per trust domain. It holds the key broker's state: resources (sealed
 * under SIGNET_KEK at rest, the path bound as additional data), attestation and resource policies
 * (JSON documents) and reference values; and the registration entries and join tokens (issue 9).
 * And the attested agents (registry-agents.ts) and the federation relationships with the peers'
 * bundles (registry-federation.ts; the alarm refreshes them).
 *
 * Invariants: every write is one SQLite statement or one transaction, durable when the RPC returns
 * (so an admin write is acknowledged only once it is stored); resource bytes leave only through
 * `getResource`, to the Worker that encrypts them to an attested guest's key. Entries are validated
 * here (lib/registry/entry.ts), whoever calls; (spiffe_id, parent_id, selectors) is unique, no parent
 * chain leads back to an entry, and an update applies only to the revision it names. A join token is
 * stored as its SHA-256 and used by deleting it.
 */
import { DurableObject } from "cloudflare:workers";
import { and, asc, eq, gt, or, sql, type SQL } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { loadConfig } from "../lib/config";
import { importKek, openSecret, sealSecret } from "../lib/crypto/keys";
import { isResourcePath } from "../lib/kbs/resource-path";
import { validateEntry, validateEntryId, type Entry, type EntryErrorReason, type EntryFields, type EntryInput } from "../lib/registry/entry";
import { authorizeWithIndex } from "../lib/registry/authorized";
import type { SyncError, SyncPage } from "../lib/registry/sync";
import { joinTokenHash, newEntryId, newJoinToken, parseEntryId, parseJoinToken } from "../lib/registry/ids";
import { canonicalSelectors, selectorsFromKey, selectorsKey, type Selector } from "../lib/registry/selectors";
import { err, ok, type Result } from "../lib/result";
import type { SpiffeBundleDocument } from "../lib/spiffe/bundle";
import { parseTrustDomain, type SpiffeId, type TrustDomain } from "../lib/spiffe/id";
import { openDb } from "./db";
import { loadIndexedEntries, RegistrySync, type IndexedEntry } from "./registry-sync";
import {
  createRelationship,
  deleteRelationship,
  earliestRefresh,
  federatedBundles,
  getRelationship,
  listRelationships,
  refreshDue,
  refreshRelationship,
  type CreateFederationInput,
  type FederationDeps,
  type FederationFailure,
  type FederationRelationship,
  type RefreshResult,
} from "./registry-federation";
import { authenticateAgent, banAgent, evictAgent, getAgent, listAgents, registerAgent, renewAgent, type Agent, type AgentFailure, type AttestationType, type RegisterAgentInput } from "./registry-agents";
import * as schema from "./tables/registry";
import { entries, entrySelectors, joinTokens, kbsPolicies, kbsResources, referenceValues } from "./tables/registry";
import migrations from "../../migrations/registry/migrations.js";

/** Largest resource the key broker stores (Trustee's request limit is 2 MiB; a DO row holds 2 MB). */
export const MAX_RESOURCE_BYTES = 1024 * 1024;

export type PolicyKind = "attestation" | "resource";

export type { CreateFederationInput, FederationFailure, FederationRelationship, RefreshResult } from "./registry-federation";

/** One peer's last good bundle, as `federatedBundles` returns it. */
export interface FederatedBundle {
  readonly trustDomain: string;
  readonly bundle: SpiffeBundleDocument;
}

export interface RegistryError {
  readonly reason: "registry_misconfigured" | "resource_not_found" | "resource_unreadable" | "invalid_resource" | "not_found";
  /** Logged, never sent. */
  readonly detail: string;
}

export class Registry extends DurableObject<Env> {
  #db!: DrizzleSqliteDODatabase<typeof schema>;
  #sync!: RegistrySync;
  #kek: CryptoKey | RegistryError = { reason: "registry_misconfigured", detail: "not started" };
  #trustDomain: TrustDomain | EntryFailure = { reason: "registry_misconfigured", detail: "not started" };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = openDb(ctx, schema, migrations);
      this.#sync = new RegistrySync(this.#db, () => loadIndexedEntries(this.#db, entryOf));
      const loaded = loadConfig(env);
      this.#kek = loaded.ok ? await importKek(loaded.value.secrets.kek) : { reason: "registry_misconfigured", detail: loaded.error.detail };
      this.#trustDomain = loaded.ok ? loaded.value.config.trustDomain : { reason: "registry_misconfigured", detail: loaded.error.detail };
    });
  }

  /** Stores (or replaces) a resource; durable when this returns. */
  async putResource(input: { readonly path: string; readonly value: Uint8Array; readonly now: number }): Promise<Result<{ created: boolean }, RegistryError>> {
    if (!isResourcePath(input.path)) return err({ reason: "invalid_resource", detail: "not a <repo>/<type>/<tag> path" });
    if (input.value.length > MAX_RESOURCE_BYTES) return err({ reason: "invalid_resource", detail: `larger than ${MAX_RESOURCE_BYTES} bytes` });
    const kek = this.#kek;
    if (!(kek instanceof CryptoKey)) return err(kek);
    const sealedValue = await sealSecret(kek, input.value, resourceContext(input.path));
    const existing = this.#db.select({ createdAt: kbsResources.createdAt }).from(kbsResources).where(eq(kbsResources.path, input.path)).get();
    const row = { path: input.path, sealedValue, size: input.value.length, createdAt: existing?.createdAt ?? input.now, updatedAt: input.now };
    this.#db.insert(kbsResources).values(row).onConflictDoUpdate({ target: kbsResources.path, set: row }).run();
    return ok({ created: existing === undefined });
  }

  async deleteResource(input: { readonly path: string }): Promise<Result<void, RegistryError>> {
    const gone = this.#db.delete(kbsResources).where(eq(kbsResources.path, input.path)).returning({ path: kbsResources.path }).get();
    return gone ? ok(undefined) : err({ reason: "resource_not_found", detail: input.path });
  }

  /** A resource's plaintext, for the Worker to encrypt to the guest's key. */
  async getResource(input: { readonly path: string }): Promise<Result<{ value: Uint8Array }, RegistryError>> {
    const row = this.#db.select().from(kbsResources).where(eq(kbsResources.path, input.path)).get();
    if (!row) return err({ reason: "resource_not_found", detail: input.path });
    const kek = this.#kek;
    if (!(kek instanceof CryptoKey)) return err(kek);
    const value = await openSecret(kek, row.sealedValue, resourceContext(row.path));
    if (!value.ok) return err({ reason: "resource_unreadable", detail: `SIGNET_KEK does not open resource ${row.path}: restore the key it was stored with` });
    return ok({ value: value.value });
  }

  /** Stores a policy document (JSON text, already validated by the caller). */
  async setPolicy(input: { readonly kind: PolicyKind; readonly policyId: string; readonly body: string; readonly now: number }): Promise<Result<void, RegistryError>> {
    const row = { key: `${input.kind}:${input.policyId}`, kind: input.kind, policyId: input.policyId, body: input.body, updatedAt: input.now };
    this.#db.insert(kbsPolicies).values(row).onConflictDoUpdate({ target: kbsPolicies.key, set: row }).run();
    return ok(undefined);
  }

  async getPolicy(input: { readonly kind: PolicyKind; readonly policyId: string }): Promise<Result<{ body: string }, RegistryError>> {
    const row = this.#db.select().from(kbsPolicies).where(and(eq(kbsPolicies.kind, input.kind), eq(kbsPolicies.policyId, input.policyId))).get();
    return row ? ok({ body: row.body }) : err({ reason: "not_found", detail: `no ${input.kind} policy ${input.policyId}` });
  }

  async listPolicies(input: { readonly kind: PolicyKind }): Promise<string[]> {
    return this.#db.select({ id: kbsPolicies.policyId }).from(kbsPolicies).where(eq(kbsPolicies.kind, input.kind)).all().map((r) => r.id).sort();
  }

  /** Stores reference values by name (each a JSON value or list), in one transaction. */
  async setReferenceValues(input: { readonly values: Readonly<Record<string, unknown>>; readonly now: number }): Promise<Result<{ names: string[] }, RegistryError>> {
    const names = Object.keys(input.values).sort();
    this.ctx.storage.transactionSync(() => {
      for (const name of names) {
        const row = { name, value: JSON.stringify(input.values[name]), updatedAt: input.now };
        this.#db.insert(referenceValues).values(row).onConflictDoUpdate({ target: referenceValues.name, set: row }).run();
      }
    });
    return ok({ names });
  }

  /** A reference value as its JSON text. */
  async getReferenceValue(input: { readonly name: string }): Promise<Result<{ json: string }, RegistryError>> {
    const row = this.#db.select().from(referenceValues).where(eq(referenceValues.name, input.name)).get();
    return row ? ok({ json: row.value }) : err({ reason: "not_found", detail: `no reference value ${input.name}` });
  }

  // ---- Registration entries and join tokens (issue 9). Every write is one transaction. ----

  /** Creates up to 500 entries, each with its own result (SPIRE's BatchCreateEntry). */
  async createEntries(input: CreateEntriesInput): Promise<Result<{ results: EntryResult[] }, EntryFailure>> {
    const td = this.#trustDomain;
    if (typeof td !== "string") return err(td);
    if (input.entries.length > MAX_ENTRY_BATCH) return err({ reason: "batch_too_large", detail: `at most ${MAX_ENTRY_BATCH} entries per call` });
    const nowSeconds = Math.floor(input.now / 1000);
    const results = this.#writeEntries(() =>
      input.entries.map((given): EntryResult => {
        const id = validateEntryId(given.id);
        if (!id.ok) return id;
        const fields = validateEntry(given, { trustDomain: td, nowSeconds });
        if (!fields.ok) return fields;
        const entryId = id.value ?? newEntryId();
        if (this.#db.select({ id: entries.id }).from(entries).where(eq(entries.id, entryId)).get()) {
          return err({ reason: "entry_exists", detail: `an entry with id ${entryId} exists`, existingId: entryId });
        }
        const refused = this.#refuseDuplicateOrLoop(entryId, fields.value);
        if (refused) return err(refused);
        const entry: Entry = { ...fields.value, id: entryId, revisionNumber: 0, createdAt: nowSeconds };
        const changedSeq = this.#sync.recordWrite(undefined, entry);
        this.#db.insert(entries).values({ ...entryRow(entry, nowSeconds), changedSeq }).run();
        this.#writeSelectors(entryId, entry.selectors);
        return ok(entry);
      }),
    );
    return ok({ results });
  }

  /**
   * Updates up to 500 entries, each compare-and-set on its revision number: an update names the
   * revision it read, and is refused (`revision_conflict`) if the entry has changed since. Absent
   * fields keep their value.
   */
  async updateEntries(input: UpdateEntriesInput): Promise<Result<{ results: EntryResult[] }, EntryFailure>> {
    const td = this.#trustDomain;
    if (typeof td !== "string") return err(td);
    if (input.updates.length > MAX_ENTRY_BATCH) return err({ reason: "batch_too_large", detail: `at most ${MAX_ENTRY_BATCH} updates per call` });
    const nowSeconds = Math.floor(input.now / 1000);
    const results = this.#writeEntries(() =>
      input.updates.map((update): EntryResult => {
        const { id, revisionNumber, ...changes } = update;
        const current = this.#entry(id);
        if (!current) return err({ reason: "entry_not_found", detail: `no entry with id ${String(id).slice(0, 64)}` });
        if (current.revisionNumber !== revisionNumber) {
          return err({ reason: "revision_conflict", detail: `entry ${id} is at revision ${current.revisionNumber}, not ${revisionNumber}`, currentRevision: current.revisionNumber });
        }
        const merged: EntryInput = { ...current, ...definedOnly(changes) };
        const fields = validateEntry(merged, { trustDomain: td, nowSeconds: changes.expiresAt === undefined ? undefined : nowSeconds });
        if (!fields.ok) return fields;
        const refused = this.#refuseDuplicateOrLoop(id, fields.value);
        if (refused) return err(refused);
        const entry: Entry = { ...fields.value, id, revisionNumber: current.revisionNumber + 1, createdAt: current.createdAt };
        const { id: _id, createdAt: _created, ...set } = entryRow(entry, nowSeconds);
        const changedSeq = this.#sync.recordWrite(current, entry);
        this.#db.update(entries).set({ ...set, changedSeq }).where(and(eq(entries.id, id), eq(entries.revisionNumber, revisionNumber))).run();
        this.#db.delete(entrySelectors).where(eq(entrySelectors.entryId, id)).run();
        this.#writeSelectors(id, entry.selectors);
        return ok(entry);
      }),
    );
    return ok({ results });
  }

  /** Deletes up to 500 entries, each with its own result. */
  async deleteEntries(input: { readonly ids: readonly string[] }): Promise<Result<{ results: Result<{ id: string }, EntryFailure>[] }, EntryFailure>> {
    if (input.ids.length > MAX_ENTRY_BATCH) return err({ reason: "batch_too_large", detail: `at most ${MAX_ENTRY_BATCH} ids per call` });
    const results = this.#writeEntries(() =>
      input.ids.map((id): Result<{ id: string }, EntryFailure> => {
        const before = this.#entry(id);
        if (!before) return err({ reason: "entry_not_found", detail: `no entry with id ${String(id).slice(0, 64)}` });
        this.#db.delete(entries).where(eq(entries.id, id)).run();
        this.#db.delete(entrySelectors).where(eq(entrySelectors.entryId, id)).run();
        this.#sync.recordWrite(before, undefined);
        return ok({ id });
      }),
    );
    return ok({ results });
  }

  async getEntry(input: { readonly id: string }): Promise<Result<Entry, EntryFailure>> {
    const entry = this.#entry(input.id);
    return entry ? ok(entry) : err({ reason: "entry_not_found", detail: `no entry with id ${String(input.id).slice(0, 64)}` });
  }

  /** Entries in id order, filtered (all filters must hold), in pages; the page token is the last id. */
  async listEntries(input: ListEntriesInput): Promise<Result<EntryPage, EntryFailure>> {
    const pageSize = input.pageSize ?? DEFAULT_ENTRY_PAGE_SIZE;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_ENTRY_PAGE_SIZE) {
      return err({ reason: "invalid_request", detail: `page_size must be from 1 to ${MAX_ENTRY_PAGE_SIZE}` });
    }
    const where = listConditions(input);
    if (!where.ok) return where;
    const rows = this.#db
      .select()
      .from(entries)
      .where(and(...where.value))
      .orderBy(asc(entries.id))
      .limit(pageSize + 1)
      .all();
    const page = rows.slice(0, pageSize).map(entryOf);
    return ok({ entries: page, nextPageToken: rows.length > pageSize ? page[page.length - 1]!.id : undefined });
  }

  /**
   * A join token, single use, valid for `ttlSeconds`. The registry keeps only its SHA-256. Expired
   * tokens are removed here too, so the table holds only live ones.
   */
  async createJoinToken(input: CreateJoinTokenInput): Promise<Result<{ token: string; expiresAt: number }, JoinTokenFailure>> {
    if (!Number.isSafeInteger(input.ttlSeconds) || input.ttlSeconds < 1 || input.ttlSeconds > MAX_JOIN_TOKEN_TTL_SECONDS) {
      return err({ reason: "invalid_ttl", detail: `the ttl must be from 1 to ${MAX_JOIN_TOKEN_TTL_SECONDS} seconds` });
    }
    const token = input.token ?? newJoinToken();
    const parsed = parseJoinToken(token);
    if (!parsed.ok) return err({ reason: "invalid_join_token", detail: parsed.error.detail });
    const tokenHash = await joinTokenHash(token);
    const nowSeconds = Math.floor(input.now / 1000);
    const expiresAt = nowSeconds + input.ttlSeconds;
    const created = this.ctx.storage.transactionSync(() => {
      this.#db.delete(joinTokens).where(sql`${joinTokens.expiresAt} <= ${nowSeconds}`).run();
      const row = this.#db.insert(joinTokens).values({ tokenHash, expiresAt, createdAt: nowSeconds }).onConflictDoNothing().returning({ tokenHash: joinTokens.tokenHash }).get();
      return row !== undefined;
    });
    return created ? ok({ token, expiresAt }) : err({ reason: "join_token_exists", detail: "that join token exists" });
  }

  /** Uses a join token: fetched and deleted in one step, then its expiry checked (as SPIRE does). */
  async consumeJoinToken(input: { readonly token: string; readonly now: number }): Promise<Result<{ expiresAt: number }, JoinTokenFailure>> {
    if (typeof input.token !== "string" || !parseJoinToken(input.token).ok) return err({ reason: "join_token_not_found", detail: "no such join token" });
    const tokenHash = await joinTokenHash(input.token);
    const row = this.#db.delete(joinTokens).where(eq(joinTokens.tokenHash, tokenHash)).returning({ expiresAt: joinTokens.expiresAt }).get();
    if (!row) return err({ reason: "join_token_not_found", detail: "no such join token (or it was used)" });
    if (row.expiresAt <= Math.floor(input.now / 1000)) return err({ reason: "join_token_expired", detail: "the join token has expired" });
    return ok({ expiresAt: row.expiresAt });
  }
  /**
   * The agent's authorized entries (parented to it, or to a node entry whose selectors its node
   * selectors include, transitively; unexpired), synced as SPIRE ≥ 1.12 does it: the agent says what
   * it holds (id → revision), and gets the entries that are new or changed, a page at a time in id
   * order, and the ids it holds that it is no longer authorized for (on the first page).
   */
  async syncAuthorizedEntries(input: {
    readonly agentId: string;
    readonly cursor?: string;
    readonly pageToken?: string;
    readonly pageSize: number;
    /** Long-poll: when nothing changed since the cursor, answer at the next change or after this long. */
    readonly waitMs?: number;
    readonly now: number;
  }): Promise<Result<SyncPage<Entry>, AgentFailure | SyncError>> {
    const agent = this.#activeAgent(input.agentId);
    if (!agent.ok) return agent;
    const who = { id: input.agentId as SpiffeId, selectors: agent.value.selectors, selectorsKey: selectorsKey(agent.value.selectors) };
    const request = { pageSize: input.pageSize, ...(input.cursor !== undefined ? { cursor: input.cursor } : {}), ...(input.pageToken !== undefined ? { pageToken: input.pageToken } : {}) };
    const first = this.#sync.page(who, request, Math.floor(input.now / 1000));
    const idle = first.ok && !first.value.full && first.value.entries.length === 0 && first.value.removed.length === 0 && !first.value.nextPageToken;
    if (!idle || !input.waitMs) return first.ok ? ok(withoutSeq(first.value)) : first;
    await this.#sync.waitForChange(input.waitMs);
    const again = this.#activeAgent(input.agentId);
    if (!again.ok) return again;
    const page = this.#sync.page(who, request, Math.floor((input.now + input.waitMs) / 1000));
    return page.ok ? ok(withoutSeq(page.value)) : page;
  }

  /**
   * The entries among `entryIds` that the agent is authorized for (the others are absent), decided
   * entry by entry; only what signing an SVID for them needs, so 500 of them cross the RPC lightly.
   */
  async authorizeEntries(input: { readonly agentId: string; readonly entryIds: readonly string[]; readonly now: number }): Promise<Result<{ entries: AuthorizedEntry[] }, AgentFailure>> {
    const agent = this.#activeAgent(input.agentId);
    if (!agent.ok) return agent;
    const who = { id: input.agentId as SpiffeId, selectors: agent.value.selectors, selectorsKey: selectorsKey(agent.value.selectors) };
    const entries = this.#sync.authorizedAmong(who, input.entryIds, Math.floor(input.now / 1000));
    return ok({ entries: entries.map(({ id, spiffeId, x509SvidTtl, jwtSvidTtl, dnsNames }) => ({ id, spiffeId, x509SvidTtl, jwtSvidTtl, dnsNames })) });
  }

  #authorized(agentId: string, now: number): Result<Entry[], AgentFailure> {
    const agent = this.#activeAgent(agentId);
    if (!agent.ok) return agent;
    const nowSeconds = Math.floor(now / 1000);
    const walk = authorizeWithIndex(agentId as SpiffeId, agent.value.selectors, this.#sync.index.byParent);
    const authorized = walk.entries.filter((e) => e.expiresAt === 0 || e.expiresAt > nowSeconds).map(withoutSeqEntry);
    return ok(authorized.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }

  #activeAgent(agentId: string): Result<Agent, AgentFailure> {
    const agent = getAgent(this.#db, agentId);
    if (!agent.ok) return agent;
    if (agent.value.banned) return err({ reason: "agent_banned", detail: `${agentId} is banned` });
    return agent;
  }

  /** One entries write transaction; the in-memory sync state follows it only once it committed. */
  #writeEntries<T>(write: () => T): T {
    try {
      const result = this.ctx.storage.transactionSync(write);
      this.#sync.commit();
      return result;
    } catch (e) {
      this.#sync.discard();
      throw e;
    }
  }

  // ── attested agents (registry-agents.ts) ──────────────────────────────────────────────────────

  /** Records a node attestation (new or re-attested agent); a banned agent is refused. */
  async registerAgent(input: RegisterAgentInput): Promise<Result<Agent, AgentFailure>> {
    return registerAgent(this.#db, input);
  }

  /** The agent behind an agent-API call: known, not banned, presenting its recorded SVID. */
  async authenticateAgent(input: { readonly spiffeId: string; readonly svidSerial: string }): Promise<Result<Agent, AgentFailure>> {
    return authenticateAgent(this.#db, input.spiffeId, input.svidSerial);
  }

  async renewAgent(input: { readonly spiffeId: string; readonly oldSerial: string; readonly newSerial: string; readonly newExpiresAt: number; readonly now: number }): Promise<Result<Agent, AgentFailure>> {
    return renewAgent(this.#db, input);
  }

  async getAgent(input: { readonly spiffeId: string }): Promise<Result<Agent, AgentFailure>> {
    return getAgent(this.#db, input.spiffeId);
  }

  async listAgents(input: { readonly pageSize?: number; readonly pageToken?: string; readonly attestationType?: AttestationType; readonly banned?: boolean }): Promise<{ agents: Agent[]; nextPageToken?: string }> {
    return listAgents(this.#db, input);
  }

  async banAgent(input: { readonly spiffeId: string; readonly now: number }): Promise<Result<Agent, AgentFailure>> {
    return banAgent(this.#db, input.spiffeId, input.now);
  }

  async evictAgent(input: { readonly spiffeId: string }): Promise<Result<void, AgentFailure>> {
    return evictAgent(this.#db, input.spiffeId);
  }

  // ── federation relationships (registry-federation.ts) ─────────────────────────────────────────

  /** Stores a relationship and fetches the peer's bundle at once; created even if that fetch fails (the status says so). */
  async createFederation(input: CreateFederationInput): Promise<Result<RefreshResult, FederationFailure>> {
    const deps = this.#federationDeps();
    if (!deps.ok) return deps;
    const created = createRelationship(deps.value, input);
    if (!created.ok) return created;
    const fetched = await refreshRelationship(deps.value, created.value.trustDomain, { now: Date.now });
    await this.#armFederationAlarm();
    return fetched;
  }

  async listFederations(input: { readonly pageSize?: number; readonly pageToken?: string }): Promise<Result<{ relationships: FederationRelationship[]; nextPageToken: string | undefined }, FederationFailure>> {
    return listRelationships(this.#db, input);
  }

  async getFederation(input: { readonly trustDomain: string }): Promise<Result<FederationRelationship, FederationFailure>> {
    return getRelationship(this.#db, input.trustDomain);
  }

  async deleteFederation(input: { readonly trustDomain: string }): Promise<Result<{ trustDomain: string }, FederationFailure>> {
    return deleteRelationship(this.#db, input.trustDomain);
  }

  /** An admin-triggered fetch now; `force` accepts any valid bundle (a peer rebuilt with a lower sequence). */
  async refreshFederation(input: { readonly trustDomain: string; readonly force?: boolean }): Promise<Result<RefreshResult, FederationFailure>> {
    const deps = this.#federationDeps();
    if (!deps.ok) return deps;
    const done = await refreshRelationship(deps.value, input.trustDomain, { now: Date.now, force: input.force === true });
    await this.#armFederationAlarm();
    return done;
  }

  /** The last good bundle of each requested trust domain that has one (for the agent API). */
  async federatedBundles(input: { readonly trustDomains: readonly string[] }): Promise<Result<{ bundles: FederatedBundle[] }, FederationFailure>> {
    return federatedBundles(this.#db, input.trustDomains);
  }

  /** The federated bundles an agent serves: those of the trust domains its authorized entries federate with. */
  async agentFederatedBundles(input: { readonly agentId: string; readonly now: number }): Promise<Result<{ bundles: FederatedBundle[] }, AgentFailure | FederationFailure>> {
    const found = this.#authorized(input.agentId, input.now);
    if (!found.ok) return found;
    const tds = [...new Set(found.value.flatMap((e) => e.federatesWith))];
    return tds.length === 0 ? ok({ bundles: [] }) : federatedBundles(this.#db, tds);
  }

  /** The object's one alarm: refreshes the federation relationships that are due, then re-arms for the earliest next one. */
  override async alarm(): Promise<void> {
    const deps = this.#federationDeps();
    if (!deps.ok) return;
    await refreshDue(deps.value, Date.now);
    await this.#armFederationAlarm();
  }

  #federationDeps(): Result<FederationDeps, FederationFailure> {
    const loaded = loadConfig(this.env);
    if (!loaded.ok) return err({ reason: "registry_misconfigured", detail: loaded.error.detail });
    const { trustDomain, profile } = loaded.value.config;
    return ok({ db: this.#db, fetch: (url, init) => fetch(url, init), ownTrustDomain: trustDomain, allowHttp: profile === "permissive" });
  }

  /** Sets the alarm to the earliest next refresh, unless it is already set earlier. */
  async #armFederationAlarm(): Promise<void> {
    const next = earliestRefresh(this.#db);
    if (next === undefined) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }


  #entry(id: string): Entry | undefined {
    if (typeof id !== "string") return undefined;
    const row = this.#db.select().from(entries).where(eq(entries.id, id)).get();
    return row ? entryOf(row) : undefined;
  }

  /** Inside the write transaction: another entry with the same identity, or a parent chain back to this one. */
  #refuseDuplicateOrLoop(id: string, fields: EntryFields): EntryFailure | undefined {
    const same = this.#db
      .select({ id: entries.id })
      .from(entries)
      .where(and(eq(entries.spiffeId, fields.spiffeId), eq(entries.parentId, fields.parentId), eq(entries.selectorsKey, selectorsKey(fields.selectors))))
      .get();
    if (same && same.id !== id) return { reason: "entry_exists", detail: `entry ${same.id} has the same spiffe_id, parent_id and selectors`, existingId: same.id };
    // Walk up from the parent through the entries that name it (other than this one); UNION
    // removes repeats, so the walk ends on cyclic data.
    const loop = this.ctx.storage.sql
      .exec(
        `WITH RECURSIVE up(sid) AS (SELECT ?1 UNION SELECT e.parent_id FROM entries e JOIN up ON e.spiffe_id = up.sid WHERE e.id <> ?3)
         SELECT 1 AS hit FROM up WHERE sid = ?2 LIMIT 1`,
        fields.parentId,
        fields.spiffeId,
        id,
      )
      .toArray();
    if (loop.length > 0) return { reason: "entry_loop", detail: `parent_id ${fields.parentId} descends from ${fields.spiffeId}: the entry would be its own ancestor` };
    return undefined;
  }

  #writeSelectors(entryId: string, selectors: readonly Selector[]): void {
    // 30 rows × 3 values per statement stays under the 100 bound parameters a statement may have.
    for (let i = 0; i < selectors.length; i += 30) {
      this.#db.insert(entrySelectors).values(selectors.slice(i, i + 30).map((s) => ({ entryId, type: s.type, value: s.value }))).run();
    }
  }
}

function resourceContext(path: string): string {
  return `kbs-resource:${path}`;
}

/** SPIRE's batch limit. */
export const MAX_ENTRY_BATCH = 500;
export const DEFAULT_ENTRY_PAGE_SIZE = 100;
export const MAX_ENTRY_PAGE_SIZE = 1000;
export const MAX_JOIN_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** At most this many trust domains in a federates_with filter (bound parameters, again). */
export const MAX_FEDERATES_WITH_FILTER = 16;

/** What an SVID for an authorized entry is signed from (authorizeEntries). */
export type AuthorizedEntry = Pick<Entry, "id" | "spiffeId" | "x509SvidTtl" | "jwtSvidTtl" | "dnsNames">;

export interface EntryFailure {
  readonly reason: EntryErrorReason | "entry_exists" | "entry_not_found" | "revision_conflict" | "batch_too_large" | "invalid_page_token" | "invalid_request" | "registry_misconfigured";
  readonly detail: string;
  /** `entry_exists`: the entry that is already there. */
  readonly existingId?: string;
  /** `revision_conflict`: the revision the entry is at. */
  readonly currentRevision?: number;
}

export type EntryResult = Result<Entry, EntryFailure>;

export interface CreateEntriesInput {
  readonly entries: readonly EntryInput[];
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** The fields to change (absent ones are kept), the entry's id, and the revision the caller read. */
export interface EntryUpdate extends Partial<Omit<EntryInput, "id">> {
  readonly id: string;
  readonly revisionNumber: number;
}

export interface UpdateEntriesInput {
  readonly updates: readonly EntryUpdate[];
  readonly now: number;
}

/** How a selector filter compares with an entry's selectors (SPIRE's MATCH_*). */
export type SelectorMatch = "exact" | "subset" | "superset" | "any";

export interface EntryFilters {
  readonly spiffeId?: string;
  readonly parentId?: string;
  /** With `match` (default `superset`): exact = the same set; subset = the entry's ⊆ these; superset = the entry's ⊇ these; any = at least one in common. */
  readonly selectors?: readonly Selector[];
  readonly match?: SelectorMatch;
  /** Entries that federate with every one of these trust domains. */
  readonly federatesWith?: readonly string[];
  readonly hint?: string;
  readonly downstream?: boolean;
}

export interface ListEntriesInput {
  readonly filters?: EntryFilters;
  /** 1–1000, default 100. */
  readonly pageSize?: number;
  /** The `nextPageToken` of the previous page. */
  readonly pageToken?: string;
}

export interface EntryPage {
  readonly entries: Entry[];
  /** Absent on the last page. */
  readonly nextPageToken: string | undefined;
}

export interface CreateJoinTokenInput {
  readonly ttlSeconds: number;
  readonly now: number;
  /** A caller-chosen token, as SPIRE allows; otherwise a random UUID. */
  readonly token?: string;
}

export interface JoinTokenFailure {
  readonly reason: "invalid_ttl" | "invalid_join_token" | "join_token_exists" | "join_token_not_found" | "join_token_expired";
  readonly detail: string;
}

type EntryRow = typeof entries.$inferSelect;

function entryRow(e: Entry, nowSeconds: number): Omit<EntryRow, "changedSeq"> {
  return {
    id: e.id,
    spiffeId: e.spiffeId,
    parentId: e.parentId,
    selectorsKey: selectorsKey(e.selectors),
    x509SvidTtl: e.x509SvidTtl,
    jwtSvidTtl: e.jwtSvidTtl,
    federatesWith: JSON.stringify(e.federatesWith),
    dnsNames: JSON.stringify(e.dnsNames),
    admin: e.admin,
    downstream: e.downstream,
    hint: e.hint,
    expiresAt: e.expiresAt,
    revisionNumber: e.revisionNumber,
    createdAt: e.createdAt,
    updatedAt: nowSeconds,
  };
}

/** A stored row as an entry (the row was validated when written). */
function entryOf(row: EntryRow): Entry {
  return {
    id: row.id,
    spiffeId: row.spiffeId as Entry["spiffeId"],
    parentId: row.parentId as Entry["parentId"],
    selectors: selectorsFromKey(row.selectorsKey),
    x509SvidTtl: row.x509SvidTtl,
    jwtSvidTtl: row.jwtSvidTtl,
    federatesWith: JSON.parse(row.federatesWith) as Entry["federatesWith"],
    dnsNames: JSON.parse(row.dnsNames) as Entry["dnsNames"],
    admin: row.admin,
    downstream: row.downstream,
    hint: row.hint,
    expiresAt: row.expiresAt,
    revisionNumber: row.revisionNumber,
    createdAt: row.createdAt,
  };
}

/** An indexed entry as the RPCs hand it out (the change sequence stays inside). */
function withoutSeqEntry(e: IndexedEntry): Entry {
  const { changedSeq: _seq, ...entry } = e;
  return entry;
}

function withoutSeq(page: SyncPage<IndexedEntry>): SyncPage<Entry> {
  return { ...page, entries: page.entries.map(withoutSeqEntry) };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The WHERE conditions of a list call; filter values are checked here (they reach SQL as parameters). */
function listConditions(input: ListEntriesInput): Result<SQL[], EntryFailure> {
  const f = input.filters ?? {};
  const where: SQL[] = [];
  if (input.pageToken !== undefined) {
    if (!parseEntryId(input.pageToken).ok) return err({ reason: "invalid_page_token", detail: "not a page token this server handed out" });
    where.push(gt(entries.id, input.pageToken));
  }
  if (f.spiffeId !== undefined) where.push(eq(entries.spiffeId, f.spiffeId));
  if (f.parentId !== undefined) where.push(eq(entries.parentId, f.parentId));
  if (f.hint !== undefined) where.push(eq(entries.hint, f.hint));
  if (f.downstream !== undefined) where.push(eq(entries.downstream, f.downstream));
  if (f.selectors !== undefined) {
    const selectors = canonicalSelectors(f.selectors);
    if (!selectors.ok) return err({ reason: "invalid_selector", detail: selectors.error.detail });
    const pairs = or(...selectors.value.map((s) => and(eq(entrySelectors.type, s.type), eq(entrySelectors.value, s.value))))!;
    switch (f.match ?? "superset") {
      case "exact":
        where.push(eq(entries.selectorsKey, selectorsKey(selectors.value)));
        break;
      case "any":
        where.push(sql`${entries.id} IN (SELECT ${entrySelectors.entryId} FROM ${entrySelectors} WHERE ${pairs})`);
        break;
      case "superset":
        where.push(sql`${entries.id} IN (SELECT ${entrySelectors.entryId} FROM ${entrySelectors} WHERE ${pairs} GROUP BY ${entrySelectors.entryId} HAVING COUNT(*) = ${selectors.value.length})`);
        break;
      case "subset":
        where.push(sql`NOT EXISTS (SELECT 1 FROM ${entrySelectors} WHERE ${entrySelectors.entryId} = ${entries.id} AND NOT (${pairs}))`);
        break;
      default:
        return err({ reason: "invalid_selector", detail: "match must be exact, subset, superset or any" });
    }
  }
  if (f.federatesWith !== undefined) {
    if (f.federatesWith.length === 0 || f.federatesWith.length > MAX_FEDERATES_WITH_FILTER) {
      return err({ reason: "invalid_request", detail: `federates_with filters on 1 to ${MAX_FEDERATES_WITH_FILTER} trust domains` });
    }
    const tds = new Set<string>();
    for (const s of f.federatesWith) {
      const td = parseTrustDomain(s);
      if (!td.ok) return err({ reason: "invalid_request", detail: `federates_with: ${td.error.detail}` });
      tds.add(td.value);
    }
    const list = sql.join([...tds].map((t) => sql`${t}`), sql`, `);
    where.push(sql`(SELECT COUNT(DISTINCT value) FROM json_each(${entries.federatesWith}) WHERE value IN (${list})) = ${tds.size}`);
  }
  return ok(where);
}
