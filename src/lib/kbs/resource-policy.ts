/**
 * The key broker's resource policy: which verified attestation tokens may read which resource
 * paths, as data (no Rego engine).
 *
 *   {
 *     "version": 1,
 *     "rules": [
 *       { "paths": ["default/keys/*", "repo/type/tag"],
 *         "allow": { "status": ["affirming"], "tee": ["snp", "tdx"],
 *                    "measurements": ["<hex>"], "init_data_digests": ["<hex>"] } }
 *     ]
 *   }
 *
 * A path pattern has exactly three segments (`repo/type/tag`); each segment is `*` (any one whole
 * segment, in any position) or a literal segment as resource-path.ts accepts it (Trustee's
 * `ResourceDesc`); no regexes, no partial wildcards. The first rule with a matching pattern decides;
 * no matching rule denies. `allow` is one condition or a non-empty array of alternatives (one must
 * hold); every field present in a condition must hold, and `{}` admits every verified token that
 * has `submods.cpu0`. What a condition reads from the token claims, and nothing else:
 *
 *   status             `ear.status` of every submod (`submods.cpu0` must exist)
 *   tee                the TEE key of `submods.cpu0["ear.veraison.annotated-evidence"]` (exactly one of snp, tdx, sample)
 *   measurements       that TEE's measurement in it: snp `measurement`, tdx `mr_td`, sample `launch_digest`
 *   init_data_digests  its `init_data` (hex; a field padded from the digest matches, as `initDataMatches`)
 *
 * Hex is compared case-insensitively. A stored policy is plain JSON: `evaluateResourcePolicy`
 * validates it again and denies when it is not valid.
 */
import type { Profile } from "../config";
import { err, ok, type Result } from "../result";
import { initDataMatches, isDigestHex, isRecord, stringList, type PolicyError } from "./attestation-policy";
import type { EarStatus } from "./ear";
import { parseResourcePath, type ResourcePathParts } from "./resource-path";

export type ResourceTee = "snp" | "tdx" | "sample";

export interface ResourceCondition {
  readonly status?: readonly EarStatus[];
  readonly tee?: readonly ResourceTee[];
  readonly measurements?: readonly string[];
  readonly init_data_digests?: readonly string[];
}

export interface ResourceRule {
  readonly paths: readonly string[];
  /** Alternatives: one must hold. */
  readonly allow: readonly ResourceCondition[];
}

export interface ResourcePolicy {
  readonly version: 1;
  readonly rules: readonly ResourceRule[];
}

export type ResourceDenyReason =
  | "resource_policy_invalid"
  | "path_invalid"
  | "no_matching_rule"
  | "token_without_submods"
  | "status_not_allowed"
  | "tee_not_allowed"
  | "measurement_not_allowed"
  | "init_data_not_allowed";

export interface ResourceDecision {
  readonly allowed: boolean;
  /** The index of the rule that decided. */
  readonly rule?: number;
  /** Why it denied (for the log; the first alternative's reason when several were tried). */
  readonly reason?: ResourceDenyReason;
}

const MAX_RULES = 1024;
const STATUSES: readonly EarStatus[] = ["none", "affirming", "warning", "contraindicated"];
const TEES: readonly ResourceTee[] = ["snp", "tdx", "sample"];
const MEASUREMENT_CLAIM: Readonly<Record<ResourceTee, string>> = { snp: "measurement", tdx: "mr_td", sample: "launch_digest" };
const CONDITION_FIELDS = new Set(["status", "tee", "measurements", "init_data_digests"]);
/** A pattern is a resource path (resource-path.ts's rule) in which `*` may stand for any segment. */
const isPattern = (p: string): boolean => parseResourcePath(p.split("/").map((s) => (s === "*" ? "_" : s))) !== undefined;

function invalid(detail: string): { readonly ok: false; readonly error: PolicyError } {
  return err({ reason: "resource_policy_invalid", detail });
}

function parseCondition(v: unknown, at: string): Result<ResourceCondition, string> {
  if (!isRecord(v)) return err(`${at} must be an object`);
  for (const k of Object.keys(v)) if (!CONDITION_FIELDS.has(k)) return err(`unknown field ${at}.${k.slice(0, 40)} (known: ${[...CONDITION_FIELDS].join(", ")})`);
  const out: { -readonly [K in keyof ResourceCondition]: ResourceCondition[K] } = {};
  const lists = [
    ["status", (s: string) => (STATUSES as readonly string[]).includes(s), `one of ${STATUSES.join(", ")}`],
    ["tee", (s: string) => (TEES as readonly string[]).includes(s), `one of ${TEES.join(", ")}`],
    ["measurements", (s: string) => /^[0-9a-fA-F]{1,256}$/.test(s), "hex strings"],
    ["init_data_digests", isDigestHex, "SHA-256/384/512 digests in hex"],
  ] as const;
  for (const [field, test, what] of lists) {
    if (v[field] === undefined) continue;
    const l = stringList(v[field], `${at}.${field}`, test, what);
    if (!l.ok) return l;
    (out as Record<string, readonly string[]>)[field] = field === "measurements" || field === "init_data_digests" ? l.value.map((s) => s.toLowerCase()) : l.value;
  }
  return ok(out);
}

/** Validates a resource policy given as data (parsed JSON). Never throws. */
export function parseResourcePolicy(json: unknown): Result<ResourcePolicy, PolicyError> {
  if (!isRecord(json)) return invalid("a resource policy is a JSON object");
  for (const k of Object.keys(json)) if (k !== "version" && k !== "rules") return invalid(`unknown field '${k.slice(0, 40)}' (known: version, rules)`);
  if (json.version !== 1) return invalid("version must be 1");
  if (!Array.isArray(json.rules) || json.rules.length > MAX_RULES) return invalid(`rules must be an array of at most ${MAX_RULES} rules`);
  const rules: ResourceRule[] = [];
  for (const [i, r] of json.rules.entries()) {
    const at = `rules[${i}]`;
    if (!isRecord(r)) return invalid(`${at} must be an object`);
    for (const k of Object.keys(r)) if (k !== "paths" && k !== "allow") return invalid(`unknown field ${at}.${k.slice(0, 40)} (known: paths, allow)`);
    const paths = stringList(r.paths, `${at}.paths`, isPattern, "repo/type/tag patterns (a segment may be *)");
    if (!paths.ok) return invalid(paths.error);
    const alternatives: unknown[] = Array.isArray(r.allow) ? r.allow : [r.allow];
    if (alternatives.length === 0 || alternatives.length > 64) return invalid(`${at}.allow must be a condition or 1 to 64 alternatives`);
    const allow: ResourceCondition[] = [];
    for (const [j, c] of alternatives.entries()) {
      const cond = parseCondition(c, Array.isArray(r.allow) ? `${at}.allow[${j}]` : `${at}.allow`);
      if (!cond.ok) return invalid(cond.error);
      allow.push(cond.value);
    }
    rules.push({ paths: paths.value, allow });
  }
  return ok({ version: 1, rules });
}

/** Restricted: only an `affirming` token reads anything. Permissive: an `affirming` token, or one from the sample TEE. */
export function defaultResourcePolicy(profile: Profile): ResourcePolicy {
  const affirming: ResourceCondition = { status: ["affirming"] };
  return { version: 1, rules: [{ paths: ["*/*/*"], allow: profile === "permissive" ? [affirming, { tee: ["sample"] }] : [affirming] }] };
}

interface TokenFacts {
  readonly statuses: readonly unknown[];
  readonly tee: ResourceTee | undefined;
  readonly measurement: string | undefined;
  readonly initData: unknown;
}

const lower = (v: unknown): string | undefined => (typeof v === "string" ? v.toLowerCase() : undefined);

/** The few facts a condition reads, or undefined for a token without `submods.cpu0`. */
function tokenFacts(claims: unknown): TokenFacts | undefined {
  const submods = isRecord(claims) && Object.hasOwn(claims, "submods") ? claims.submods : undefined;
  if (!isRecord(submods) || !Object.hasOwn(submods, "cpu0") || !isRecord(submods.cpu0)) return undefined;
  const statuses = Object.values(submods).map((s) => (isRecord(s) && Object.hasOwn(s, "ear.status") ? s["ear.status"] : undefined));
  const cpu0 = submods.cpu0;
  const evidence = Object.hasOwn(cpu0, "ear.veraison.annotated-evidence") ? cpu0["ear.veraison.annotated-evidence"] : undefined;
  if (!isRecord(evidence)) return { statuses, tee: undefined, measurement: undefined, initData: undefined };
  const present = TEES.filter((t) => Object.hasOwn(evidence, t) && isRecord(evidence[t]));
  const tee = present.length === 1 ? present[0] : undefined;
  const teeClaims = tee ? (evidence[tee] as Record<string, unknown>) : undefined;
  const claim = tee ? MEASUREMENT_CLAIM[tee] : undefined;
  const measurement = teeClaims && claim && Object.hasOwn(teeClaims, claim) ? lower(teeClaims[claim]) : undefined;
  const initData = Object.hasOwn(evidence, "init_data") ? evidence.init_data : undefined;
  return { statuses, tee, measurement, initData };
}

function check(c: ResourceCondition, t: TokenFacts): ResourceDenyReason | undefined {
  if (c.status && !t.statuses.every((s) => typeof s === "string" && (c.status as readonly string[]).includes(s))) return "status_not_allowed";
  if (c.tee && (t.tee === undefined || !c.tee.includes(t.tee))) return "tee_not_allowed";
  if (c.measurements && (t.measurement === undefined || !c.measurements.includes(t.measurement))) return "measurement_not_allowed";
  if (c.init_data_digests && !c.init_data_digests.some((d) => initDataMatches(t.tee ?? "", t.initData, d))) return "init_data_not_allowed";
  return undefined;
}

const matches = (pattern: string, segments: readonly string[]): boolean => pattern.split("/").every((p, i) => p === "*" || p === segments[i]);

/** Decides whether verified token claims may read `path`. Never throws. */
export function evaluateResourcePolicy(policy: ResourcePolicy, tokenClaims: unknown, path: ResourcePathParts): ResourceDecision {
  const parsed = parseResourcePolicy(policy);
  if (!parsed.ok) return { allowed: false, reason: "resource_policy_invalid" };
  const segments = [path.repo, path.type, path.tag];
  if (!segments.every((s) => typeof s === "string") || !parseResourcePath(segments)) return { allowed: false, reason: "path_invalid" };
  const rule = parsed.value.rules.findIndex((r) => r.paths.some((p) => matches(p, segments)));
  if (rule < 0) return { allowed: false, reason: "no_matching_rule" };
  const facts = tokenFacts(tokenClaims);
  if (!facts) return { allowed: false, rule, reason: "token_without_submods" };
  const reasons = parsed.value.rules[rule]!.allow.map((c) => check(c, facts));
  if (reasons.some((r) => r === undefined)) return { allowed: true, rule };
  return { allowed: false, rule, reason: reasons[0] };
}
