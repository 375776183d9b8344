/**
 * AuditLog: one Durable Object per deployment (`auditLog(env)`) holding one record per attestation
 * (accepted or denied, with the failing check) and per resource release (released or refused).
 *
 * Invariants:
 * - Append-only. There is no method that updates or deletes a record.
 * - `record` returns `ok` only once the row is committed: a release is made only after that.
 * - No secret bytes: a record holds identifiers, digests and outcomes, every field is bounded and
 *   checked against a pattern, and a field this file does not name is refused, not dropped.
 *
 * Not done yet: retention (rows are never pruned) and sharding by time (one instance holds all).
 */
import { DurableObject } from "cloudflare:workers";
import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { fromBase64, fromUtf8, toBase64Url, utf8 } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import { openDb } from "./db";
import * as schema from "./tables/audit";
import migrations from "../../migrations/audit/migrations.js";

export const AUDIT_KINDS = ["attestation", "release"] as const;
export const AUDIT_OUTCOMES = ["accepted", "denied", "released", "refused"] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Which outcomes each kind of record can have. */
const OUTCOMES_OF: Readonly<Record<AuditKind, readonly AuditOutcome[]>> = {
  attestation: ["accepted", "denied"],
  release: ["released", "refused"],
};

/** One event, as the Worker reports it. Plain data; absent fields are left out (or `undefined`). */
export interface AuditRecordInput {
  readonly kind: AuditKind;
  readonly outcome: AuditOutcome;
  /** The failing check's code: `report_data_mismatch`, `policy_denied:measurement`. */
  readonly reason?: string;
  /** When it happened, ms since the epoch (injected by the caller). */
  readonly at: number;
  readonly sessionId?: string;
  readonly tee?: string;
  /** Lowercase hex SHA-256 of the evidence bytes. */
  readonly evidenceDigest?: string;
  readonly measurement?: string;
  /** Chip or platform identity (SNP chip id, TDX PPID or FMSPC, …). */
  readonly platformId?: string;
  /** Lowercase hex digest of the init-data (HOST_DATA / MRCONFIGID). */
  readonly initDataDigest?: string;
  readonly policyId?: string;
  /** The KBS resource path, `repo/type/tag`. */
  readonly resourcePath?: string;
  readonly tokenId?: string;
  /** The peer address as the Worker saw it. */
  readonly client?: string;
}

export interface AuditRecord extends AuditRecordInput {
  /** 26 Crockford base32 characters, time-ordered (a ULID). */
  readonly id: string;
}

export interface AuditListInput {
  readonly kind?: AuditKind;
  readonly outcome?: AuditOutcome;
  readonly tee?: string;
  readonly sessionId?: string;
  readonly resourcePath?: string;
  /** Records with `since <= at`, ms. */
  readonly since?: number;
  /** Records with `at < until`, ms. */
  readonly until?: number;
  /** Default 100, at most 1000. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

export interface AuditPage {
  /** Newest first: by `at`, then by `id`. */
  readonly records: AuditRecord[];
  /** Present when more records follow; pass it as `cursor` with the same filters. */
  readonly nextCursor?: string;
}

export type AuditError =
  | { readonly reason: "invalid_record"; readonly detail: string }
  | { readonly reason: "invalid_query"; readonly detail: string };

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;
/** The largest time `Date` can represent, ms. */
const MAX_INSTANT = 8_640_000_000_000_000;

export type AuditTextField = Exclude<keyof AuditRecordInput, "kind" | "outcome" | "at">;

/** Every optional field, with the only values it may hold (a record is at most ~2 KB). */
export const AUDIT_FIELDS: Readonly<Record<AuditTextField, { readonly pattern: RegExp; readonly means: string }>> = {
  reason: { pattern: /^[a-z0-9][a-z0-9_.:-]{0,127}$/, means: "a check code of at most 128 characters [a-z0-9_.:-]" },
  sessionId: { pattern: /^[\x21-\x7e]{1,128}$/, means: "1 to 128 visible ASCII characters" },
  tee: { pattern: /^[a-z0-9][a-z0-9-]{0,31}$/, means: "a TEE name of at most 32 characters [a-z0-9-]" },
  evidenceDigest: { pattern: /^[0-9a-f]{64}$/, means: "64 lowercase hex digits (SHA-256)" },
  measurement: { pattern: /^[\x21-\x7e]{1,512}$/, means: "1 to 512 visible ASCII characters" },
  platformId: { pattern: /^[\x21-\x7e]{1,256}$/, means: "1 to 256 visible ASCII characters" },
  initDataDigest: { pattern: /^(?:[0-9a-f]{2}){1,64}$/, means: "lowercase hex of at most 64 bytes" },
  policyId: { pattern: /^[\x21-\x7e]{1,128}$/, means: "1 to 128 visible ASCII characters" },
  resourcePath: { pattern: /^[\x21-\x7e]{1,512}$/, means: "1 to 512 visible ASCII characters" },
  tokenId: { pattern: /^[\x21-\x7e]{1,128}$/, means: "1 to 128 visible ASCII characters" },
  client: { pattern: /^[\x21-\x7e]{1,64}$/, means: "1 to 64 visible ASCII characters" },
};
const TEXT_FIELDS = Object.keys(AUDIT_FIELDS) as AuditTextField[];
const RECORD_KEYS: ReadonlySet<string> = new Set(["kind", "outcome", "at", ...TEXT_FIELDS]);
const LIST_KEYS: ReadonlySet<string> = new Set(["kind", "outcome", "tee", "sessionId", "resourcePath", "since", "until", "limit", "cursor"]);

type Row = typeof schema.auditRecords.$inferSelect;
type Db = DrizzleSqliteDODatabase<typeof schema>;

export class AuditLog extends DurableObject<Env> {
  #db!: Db;
  /** The last id handed out, as a number: ids only grow within one instance. */
  #lastId = 0n;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = openDb(ctx, schema, migrations);
    });
  }

  /**
   * Appends one record. A SQLite-backed Durable Object commits this write before the RPC's answer
   * leaves the object (the output gate holds it until storage confirms), so `ok` means durable; a
   * failed commit resets the object and the caller sees an exception. Callers must treat both an
   * error and a throw as "not recorded" and then not release anything.
   */
  async record(input: AuditRecordInput): Promise<Result<{ id: string }, AuditError>> {
    const row = checkRecord(input);
    if (!row.ok) return row;
    const id = this.#nextId();
    this.#db.insert(schema.auditRecords).values({ ...row.value, id }).run();
    return ok({ id });
  }

  /** Records matching every given filter, newest first, one page at a time. */
  async list(input: AuditListInput = {}): Promise<Result<AuditPage, AuditError>> {
    const query = checkQuery(input);
    if (!query.ok) return query;
    const rows = selectPage(this.#db, query.value).all();
    const page = rows.slice(0, query.value.limit);
    const last = page.at(-1);
    return ok({ records: page.map(toRecord), ...(rows.length > page.length && last ? { nextCursor: encodeCursor(last) } : {}) });
  }

  /** A ULID: 48-bit ms time then 80 random bits; within the millisecond, the previous id plus one. */
  #nextId(): string {
    const random = crypto.getRandomValues(new Uint8Array(10)).reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
    const fresh = (BigInt(Date.now()) << 80n) | random;
    this.#lastId = fresh > this.#lastId ? fresh : this.#lastId + 1n;
    return encodeCrockford(this.#lastId);
  }
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function encodeCrockford(value: bigint): string {
  let out = "";
  for (let i = 0; i < 26; i++) out = CROCKFORD[Number((value >> BigInt(5 * i)) & 31n)]! + out;
  return out;
}

/** A checked `AuditListInput`: the limit resolved, the cursor decoded. */
export interface AuditQuery extends Omit<AuditListInput, "limit" | "cursor"> {
  readonly limit: number;
  readonly after?: { readonly at: number; readonly id: string };
}

/** The page's query (one row more than the limit, to know whether another page follows). */
export function selectPage(db: Db, q: AuditQuery) {
  const t = schema.auditRecords;
  const where: SQL[] = [];
  if (q.kind !== undefined) where.push(eq(t.kind, q.kind));
  if (q.outcome !== undefined) where.push(eq(t.outcome, q.outcome));
  if (q.tee !== undefined) where.push(eq(t.tee, q.tee));
  if (q.sessionId !== undefined) where.push(eq(t.sessionId, q.sessionId));
  if (q.resourcePath !== undefined) where.push(eq(t.resourcePath, q.resourcePath));
  if (q.since !== undefined) where.push(gte(t.at, q.since));
  if (q.until !== undefined) where.push(lt(t.at, q.until));
  // A row value: strictly older than the previous page's last record, in (at, id) order.
  if (q.after !== undefined) where.push(sql`(${t.at}, ${t.id}) < (${q.after.at}, ${q.after.id})`);
  return db
    .select()
    .from(t)
    .where(and(...where))
    .orderBy(desc(t.at), desc(t.id))
    .limit(q.limit + 1);
}

const invalidRecord = (detail: string) => err({ reason: "invalid_record" as const, detail });
const invalidQuery = (detail: string) => err({ reason: "invalid_query" as const, detail });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

const isInstant = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_INSTANT;
const isOneOf = <T extends string>(list: readonly T[], v: unknown): v is T => typeof v === "string" && (list as readonly string[]).includes(v);
const unknownKey = (v: Record<string, unknown>, allowed: ReadonlySet<string>) => Object.keys(v).find((k) => !allowed.has(k));

/** The text field's value if it is absent or valid; a detail naming the field if not. */
function textField(field: AuditTextField, v: unknown): Result<string | undefined, string> {
  if (v === undefined) return ok(undefined);
  const { pattern, means } = AUDIT_FIELDS[field];
  return typeof v === "string" && pattern.test(v) ? ok(v) : err(`${field} must be ${means}`);
}

function checkRecord(input: unknown): Result<Omit<Row, "id">, AuditError> {
  if (!isPlainObject(input)) return invalidRecord("the record must be a plain object");
  const extra = unknownKey(input, RECORD_KEYS);
  if (extra !== undefined) return invalidRecord(`unknown field ${JSON.stringify(extra.slice(0, 40))}`);
  const { kind, outcome, at } = input;
  if (!isOneOf(AUDIT_KINDS, kind)) return invalidRecord(`kind must be one of ${AUDIT_KINDS.join(", ")}`);
  if (!isOneOf(OUTCOMES_OF[kind], outcome)) return invalidRecord(`the outcome of a${kind === "attestation" ? "n" : ""} ${kind} must be one of ${OUTCOMES_OF[kind].join(", ")}`);
  if (!isInstant(at)) return invalidRecord("at must be an integer number of ms between 0 and 8.64e15");
  const row: Record<string, string | number | null> = { kind, outcome, at };
  for (const field of TEXT_FIELDS) {
    const value = textField(field, input[field]);
    if (!value.ok) return invalidRecord(value.error);
    row[field] = value.value ?? null;
  }
  return ok(row as Omit<Row, "id">);
}

function checkQuery(input: unknown): Result<AuditQuery, AuditError> {
  if (!isPlainObject(input)) return invalidQuery("the query must be a plain object");
  const extra = unknownKey(input, LIST_KEYS);
  if (extra !== undefined) return invalidQuery(`unknown filter ${JSON.stringify(extra.slice(0, 40))}`);
  const { kind, outcome, since, until, limit = AUDIT_DEFAULT_LIMIT, cursor } = input;
  if (kind !== undefined && !isOneOf(AUDIT_KINDS, kind)) return invalidQuery(`kind must be one of ${AUDIT_KINDS.join(", ")}`);
  if (outcome !== undefined && !isOneOf(AUDIT_OUTCOMES, outcome)) return invalidQuery(`outcome must be one of ${AUDIT_OUTCOMES.join(", ")}`);
  if (since !== undefined && !isInstant(since)) return invalidQuery("since must be an integer number of ms between 0 and 8.64e15");
  if (until !== undefined && !isInstant(until)) return invalidQuery("until must be an integer number of ms between 0 and 8.64e15");
  if (since !== undefined && until !== undefined && since >= until) return invalidQuery("since must be before until");
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > AUDIT_MAX_LIMIT) return invalidQuery(`limit must be an integer from 1 to ${AUDIT_MAX_LIMIT}`);
  const filters: Record<string, string | undefined> = {};
  for (const field of ["tee", "sessionId", "resourcePath"] as const) {
    const value = textField(field, input[field]);
    if (!value.ok) return invalidQuery(value.error);
    filters[field] = value.value;
  }
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  if (after === null) return invalidQuery("cursor is not one this log handed out");
  return ok({ ...filters, kind, outcome, since, until, limit: limit as number, after } as AuditQuery);
}

/** base64url of `<at>.<id>`: opaque to callers, stable while records are appended. */
function encodeCursor(row: { at: number; id: string }): string {
  return toBase64Url(utf8(`${row.at}.${row.id}`));
}

function decodeCursor(cursor: unknown): { at: number; id: string } | null {
  if (typeof cursor !== "string" || cursor.length > 64) return null;
  const bytes = fromBase64(cursor);
  const m = bytes && /^(0|[1-9][0-9]{0,15})\.([0-9A-HJKMNP-TV-Z]{26})$/.exec(fromUtf8(bytes) ?? "");
  if (!m || !isInstant(Number(m[1]))) return null;
  const at = { at: Number(m[1]), id: m[2]! };
  // One spelling per cursor (no padding, no standard-alphabet variant).
  return encodeCursor(at) === cursor ? at : null;
}

function toRecord(row: Row): AuditRecord {
  const out: Record<string, string | number> = { id: row.id, at: row.at, kind: row.kind, outcome: row.outcome };
  for (const field of TEXT_FIELDS) if (row[field] !== null) out[field] = row[field];
  return out as unknown as AuditRecord;
}
