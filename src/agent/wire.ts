/**
 * The agent API's answers as signet-agent reads them (src/workers/schemas/agent.ts and
 * admin-entries.ts' toWireEntry are the server's side). Every answer is checked by these before
 * anything in it is used; unknown extra fields are ignored (a newer server may add some), except in
 * bundle keys and problems, which keep them.
 *
 * Hand-written rather than zod (the Worker's schemas use zod): loading zod costs the agent about
 * 10 MB of RSS. The rules are those of the zod schemas they replace: string lengths in code points,
 * integers safe, `null` only where nullish. Each validator returns the value (a fresh object with the
 * known fields, defaults filled in) or one `<path>: <message>` line for the first thing wrong, `body`
 * for the whole answer; none throws, whatever the input.
 */
import { err, ok, type Result } from "../lib/result";

/** An answer's validator: the typed value, or `<path>: <message>`. */
export type Validator<T> = (value: unknown) => Result<T, string>;

type Path = readonly (string | number)[];
interface Issue {
  readonly path: Path;
  readonly message: string;
}
type Check<T> = (value: unknown, path: Path) => Result<T, Issue>;

const issue = (path: Path, message: string) => err<Issue>({ path, message });

function answer<T>(check: Check<T>): Validator<T> {
  return (value) => {
    const r = check(value, []);
    return r.ok ? r : err(`${r.error.path.join(".") || "body"}: ${r.error.message}`);
  };
}

/** Unicode code points (a lone surrogate counts as one), as zod measures string lengths. */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n--;
      i++;
    }
  }
  return n;
}

interface StringRules {
  readonly min?: number;
  readonly max?: number;
  readonly prefix?: string;
  readonly pattern?: RegExp;
  readonly patternMessage?: string;
}

function str(rules: StringRules): Check<string> {
  return (v, path) => {
    if (typeof v !== "string") return issue(path, "expected a string");
    if (rules.min !== undefined && codePoints(v) < rules.min) return issue(path, rules.min === 1 ? "must not be empty" : `must be at least ${rules.min} characters`);
    if (rules.max !== undefined && v.length > rules.max && codePoints(v) > rules.max) return issue(path, `must be at most ${rules.max} characters`);
    if (rules.prefix !== undefined && !v.startsWith(rules.prefix)) return issue(path, `must start with "${rules.prefix}"`);
    if (rules.pattern && !rules.pattern.test(v)) return issue(path, rules.patternMessage ?? `must match ${rules.pattern.source}`);
    return ok(v);
  };
}

/** A safe integer of at least 0. */
const count: Check<number> = (v, path) => {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) return issue(path, "expected an integer");
  if (v < 0) return issue(path, "must not be negative");
  return ok(v);
};

const bool: Check<boolean> = (v, path) => (typeof v === "boolean" ? ok(v) : issue(path, "expected true or false"));

function literal<L extends string>(expected: L): Check<L> {
  return (v, path) => (v === expected ? ok(expected) : issue(path, `must be "${expected}"`));
}

function array<T>(item: Check<T>, bounds: { readonly min?: number; readonly max?: number } = {}): Check<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) return issue(path, "expected an array");
    if (bounds.min !== undefined && v.length < bounds.min) return issue(path, `must have at least ${bounds.min} ${bounds.min === 1 ? "item" : "items"}`);
    if (bounds.max !== undefined && v.length > bounds.max) return issue(path, `must have at most ${bounds.max} items`);
    const out: T[] = [];
    for (let i = 0; i < v.length; i++) {
      const r = item(v[i], [...path, i]);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return ok(out);
  };
}

function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, path) => (v === undefined ? ok(undefined) : check(v, path));
}

function nullish<T>(check: Check<T>): Check<T | null | undefined> {
  return (v, path) => (v === undefined || v === null ? ok(v) : check(v, path));
}

function withDefault<T>(check: Check<T>, fallback: () => T): Check<T> {
  return (v, path) => (v === undefined ? ok(fallback()) : check(v, path));
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
/** A field's own value: nothing is read from the prototype chain. */
const field = (o: Json, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

type Shape<T> = { readonly [K in keyof T]-?: Check<T[K]> };

/**
 * An object with `shape`'s fields; others are dropped, or with `keep` carried over as they are.
 * A missing field is undefined to its check (so optional, nullish and defaults apply).
 */
function object<T>(shape: Shape<T>, extra: "drop" | "keep" = "drop"): Check<T> {
  const keys = Object.keys(shape) as (keyof T & string)[];
  return (v, path) => {
    if (!isObject(v)) return issue(path, "expected an object");
    const out: [string, unknown][] = [];
    for (const key of keys) {
      const value = field(v, key);
      const at = [...path, key];
      const r = shape[key](value, at);
      if (!r.ok) return value === undefined ? issue(at, "is required") : r;
      if (r.value !== undefined) out.push([key, r.value]);
    }
    if (extra === "keep") {
      for (const [key, value] of Object.entries(v)) if (!Object.hasOwn(shape, key) && key !== "__proto__") out.push([key, value]);
    }
    // fromEntries defines own properties: a `__proto__` field cannot become the prototype.
    return ok(Object.fromEntries(out) as T);
  };
}

/** An object with `shape`'s fields and whatever other members it has. */
function looseObject<T>(shape: Shape<T>): Check<T & { [k: string]: unknown }> {
  return object(shape, "keep") as Check<T & { [k: string]: unknown }>;
}

/** An object used as a map: every key checked by `key`, every value by `value`. */
function record<V>(key: Check<string>, value: Check<V>): Check<Record<string, V>> {
  return (v, path) => {
    if (!isObject(v)) return issue(path, "expected an object");
    const out: [string, V][] = [];
    for (const [k, item] of Object.entries(v)) {
      if (k === "__proto__") continue;
      const kr = key(k, [...path, k]);
      if (!kr.ok) return issue(kr.error.path, `invalid key: ${kr.error.message}`);
      const r = value(item, [...path, k]);
      if (!r.ok) return r;
      out.push([k, r.value]);
    }
    return ok(Object.fromEntries(out));
  };
}

const b64 = str({ max: 64 * 1024, pattern: /^[A-Za-z0-9+/]+={0,2}$/, patternMessage: "must be standard base64" });
const spiffeId = str({ max: 2048, prefix: "spiffe://" });
const entryId = str({ min: 1, max: 255 });
const seconds = count;

/** The agent SVID: from attest and renew. */
export interface AgentSvidAnswer {
  spiffe_id: string;
  svid: string[];
  expires_at: number;
  bundle: string[];
  reattestable: boolean;
}
export const AgentSvidAnswer: Validator<AgentSvidAnswer> = answer(
  object<AgentSvidAnswer>({ spiffe_id: spiffeId, svid: array(b64, { min: 1, max: 8 }), expires_at: seconds, bundle: array(b64, { min: 1, max: 64 }), reattestable: bool }),
);

/** x509pop step 1: a challenge for the leaf's key kind. */
export interface X509PopChallengeAnswer {
  challenge_id: string;
  challenge: { rsa_signature?: { nonce: string } | null | undefined; ecdsa_signature?: { nonce: string } | null | undefined };
}
const nonce = nullish(object<{ nonce: string }>({ nonce: b64 }));
export const X509PopChallengeAnswer: Validator<X509PopChallengeAnswer> = answer(
  object<X509PopChallengeAnswer>({
    challenge_id: str({ pattern: /^[0-9a-f]{32}$/, patternMessage: "must be 32 lowercase hex digits" }),
    challenge: object<X509PopChallengeAnswer["challenge"]>({ rsa_signature: nonce, ecdsa_signature: nonce }),
  }),
);

/** A registration entry (toWireEntry). */
export interface WireEntry {
  id: string;
  spiffe_id: string;
  parent_id: string;
  selectors: { type: string; value: string }[];
  x509_svid_ttl: number;
  jwt_svid_ttl: number;
  federates_with: string[];
  dns_names: string[];
  admin: boolean;
  downstream: boolean;
  hint: string;
  expires_at: number;
  revision_number: number;
  created_at: number;
}
const wireEntry = object<WireEntry>({
  id: entryId,
  spiffe_id: spiffeId,
  parent_id: spiffeId,
  selectors: array(object<WireEntry["selectors"][number]>({ type: str({ min: 1, max: 256 }), value: str({ max: 2048 }) }), { max: 64 }),
  x509_svid_ttl: seconds,
  jwt_svid_ttl: seconds,
  federates_with: array(str({ max: 255 }), { max: 64 }),
  dns_names: array(str({ max: 253 }), { max: 128 }),
  admin: bool,
  downstream: bool,
  hint: str({ max: 1024 }),
  expires_at: seconds,
  revision_number: count,
  created_at: seconds,
});
export const WireEntry: Validator<WireEntry> = answer(wireEntry);

/**
 * One page of an entry sync: `full` (every authorized entry, over the pages: whatever the agent
 * holds that is not in them is gone) or a delta since the cursor sent (new or changed entries, and
 * removed ids on the first page); the last page carries the cursor for the next sync.
 */
export interface SyncAnswer {
  full: boolean;
  entries: WireEntry[];
  removed: string[];
  next_page_token?: string | null | undefined;
  cursor?: string | null | undefined;
}
export const SyncAnswer: Validator<SyncAnswer> = answer(
  object<SyncAnswer>({
    full: bool,
    entries: array(wireEntry, { max: 1000 }),
    removed: array(entryId),
    next_page_token: nullish(str({ min: 1, max: 1024 })),
    cursor: nullish(str({ min: 1, max: 1024 })),
  }),
);

/** `{results:[{entry_id, status:"ok", svid, expires_at} | {entry_id, status:<error>, detail}]}`. */
export interface X509SvidsAnswer {
  results: ({ entry_id: string; status: "ok"; svid: string[]; expires_at: number } | { entry_id: string; status: string; detail: string })[];
}
type X509SvidResult = X509SvidsAnswer["results"][number];
const x509SvidOk = object<Extract<X509SvidResult, { svid: string[] }>>({ entry_id: entryId, status: literal("ok"), svid: array(b64, { min: 1, max: 8 }), expires_at: seconds });
const x509SvidRefused = object<Extract<X509SvidResult, { detail: string }>>({ entry_id: entryId, status: str({ min: 1, max: 100 }), detail: withDefault(str({ max: 2000 }), () => "") });
/** Either shape, told apart by `status` (only the first has "ok", so this is the union of the two). */
const x509SvidResult: Check<X509SvidResult> = (v, path) => (isObject(v) && field(v, "status") === "ok" ? x509SvidOk(v, path) : x509SvidRefused(v, path));
export const X509SvidsAnswer: Validator<X509SvidsAnswer> = answer(object<X509SvidsAnswer>({ results: array(x509SvidResult, { max: 500 }) }));

export interface JwtSvidAnswer {
  spiffe_id: string;
  token: string;
  expires_at: number;
}
export const JwtSvidAnswer: Validator<JwtSvidAnswer> = answer(
  object<JwtSvidAnswer>({
    spiffe_id: spiffeId,
    token: str({ max: 16 * 1024, pattern: /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, patternMessage: "must be a compact JWS" }),
    expires_at: seconds,
  }),
);

interface BundleKeyFields {
  use: string;
  kty: string;
  kid?: string | undefined;
  x5c?: string[] | undefined;
}
/** A bundle key keeps its other JWK members (n, e, x, y, crv, …). */
type BundleKey = BundleKeyFields & { [k: string]: unknown };
const bundleKey: Check<BundleKey> = looseObject<BundleKeyFields>({ use: str({}), kty: str({}), kid: optional(str({})), x5c: optional(array(b64)) });

/** A SPIFFE bundle document (keys with `use` x509-svid or jwt-svid). */
export interface BundleDocument {
  keys: BundleKey[];
  spiffe_sequence?: number | undefined;
  spiffe_refresh_hint?: number | undefined;
}
const bundleDocument = object<BundleDocument>({ keys: array(bundleKey, { max: 256 }), spiffe_sequence: optional(count), spiffe_refresh_hint: optional(count) });
export const BundleDocument: Validator<BundleDocument> = answer(bundleDocument);

export interface BundlesAnswer {
  trust_domain: string;
  bundle: BundleDocument;
  federated: Record<string, BundleDocument>;
}
export const BundlesAnswer: Validator<BundlesAnswer> = answer(
  object<BundlesAnswer>({
    trust_domain: str({ min: 1, max: 255 }),
    bundle: bundleDocument,
    federated: withDefault(record(str({ max: 255 }), bundleDocument), () => ({})),
  }),
);

/** An RFC 9457 problem, as much of it as the agent reads (other members kept). */
interface ProblemFields {
  code?: string | undefined;
  title?: string | undefined;
  detail?: string | undefined;
}
export type Problem = ProblemFields & { [k: string]: unknown };
export const Problem: Validator<Problem> = answer(looseObject<ProblemFields>({ code: optional(str({ max: 100 })), title: optional(str({ max: 500 })), detail: optional(str({ max: 2000 })) }));
