/**
 * Registry: one Durable Object per trust domain. For now it holds the key broker's state: resources
 * (sealed under SIGNET_KEK at rest, the path bound as additional data), attestation and resource
 * policies (JSON documents) and reference values. Registration entries and agents join it later.
 *
 * Invariants: every write is one SQLite statement, durable when the RPC returns (so an admin write is
 * acknowledged only once it is stored); resource bytes leave only through `getResource`, to the Worker
 * that encrypts them to an attested guest's key.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { loadConfig } from "../lib/config";
import { importKek, openSecret, sealSecret } from "../lib/crypto/keys";
import { isResourcePath } from "../lib/kbs/resource-path";
import { err, ok, type Result } from "../lib/result";
import { openDb } from "./db";
import * as schema from "./tables/registry";
import { kbsPolicies, kbsResources, referenceValues } from "./tables/registry";
import migrations from "../../migrations/registry/migrations.js";

/** Largest resource the key broker stores (Trustee's request limit is 2 MiB; a DO row holds 2 MB). */
export const MAX_RESOURCE_BYTES = 1024 * 1024;

export type PolicyKind = "attestation" | "resource";

export interface RegistryError {
  readonly reason: "registry_misconfigured" | "resource_not_found" | "resource_unreadable" | "invalid_resource" | "not_found";
  /** Logged, never sent. */
  readonly detail: string;
}

export class Registry extends DurableObject<Env> {
  #db!: DrizzleSqliteDODatabase<typeof schema>;
  #kek: CryptoKey | RegistryError = { reason: "registry_misconfigured", detail: "not started" };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = openDb(ctx, schema, migrations);
      const loaded = loadConfig(env);
      this.#kek = loaded.ok ? await importKek(loaded.value.secrets.kek) : { reason: "registry_misconfigured", detail: loaded.error.detail };
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
}

function resourceContext(path: string): string {
  return `kbs-resource:${path}`;
}
