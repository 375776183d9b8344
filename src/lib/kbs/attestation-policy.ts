/**
 * The key broker's attestation policy: reference values as data (no Rego engine), and the
 * appraisal that turns verified TEE claims into an AR4SI trust vector and `ear.status` (ear.ts).
 *
 * Format (JSON; every section optional, unknown fields refused so a misspelt rule cannot allow):
 *
 *   {
 *     "version": 1,
 *     "snp":    { …an SNP policy, lib/attestation/snp/policy.ts… },
 *     "tdx":    { …a TDX policy, lib/attestation/tdx/policy.ts… },
 *     "sample": { "launch_digests": ["…"], "allow_debug": false },   // the permissive profile only
 *     "init_data_digests": ["<hex digest of the init-data TOML>", …]
 *   }
 *
 * `report_data` is refused in `snp` and `tdx`: the key broker binds REPORT_DATA to each request's
 * nonce and key, so a fixed value would deny every request. The SNP and TDX rules are evaluated by
 * those modules' own `appraiseSnp` / `appraiseTdx`, one rule at a time, so every failing rule is
 * reported (`policy_denied:<rule>`) and lands in its claim:
 *
 *   hardware           2  the evidence verified to the vendor root and the TCB rule holds
 *                         (SNP `min_tcb`; TDX `accepted_tcb_statuses`, default ["UpToDate"])
 *                      32 the TCB rule fails
 *   executables        2  reference values for the code exist and hold (SNP `measurements`;
 *                         TDX `mr_td`, `rtmr0`…`rtmr3`; sample `launch_digests`)
 *                      96 one of them, or SNP `min_guest_svn`, fails
 *                      33 no reference values for this TEE
 *   configuration      2  every configuration rule holds (SNP debug, migrate_ma, `max_vmpl`, `host_data`;
 *                         TDX debug, `require_sept_ve_disable`, `mr_config_id`, `mr_service_td`)
 *                      32 they hold and the guest is a debug guest the policy allows
 *                      96 a rule fails (a debug guest without `allow_debug` included)
 *   instance-identity  2  `init_data_digests` is given and one of them is the verified init-data
 *                         (`initDataMatches`: the HOST_DATA / MRCONFIGID rule of report-data.ts)
 *                      96 it is given and none is (or the guest sent no init-data); 0 when not given
 *   the other four     0
 *
 * No section for the claims' TEE is appraised as an empty one: the per-TEE defaults (debug
 * denied; TDX UpToDate and SEPT_VE_DISABLE) and executables 33. So nothing is `affirming` without
 * reference values, and a debug guest is never `affirming`. The `sample` TEE is contraindicated
 * (hardware 97) in the restricted profile; in the permissive one it has no hardware claim (0).
 * A stored policy is plain JSON (a Durable Object returns it so): `appraise` parses it again.
 */
import { INIT_DATA_FIELD_SIZE, regularizeData, type AttestationFailure, type TeeClaims } from "../attestation";
import type { Profile } from "../config";
import { fromHex, toHex } from "../encoding";
import { err, ok, type Result } from "../result";
import { appraiseSnp, parseSnpPolicy, type SnpClaims, type SnpPolicy } from "../attestation/snp";
import { ACCEPTABLE_TCB_STATUSES, appraiseTdx, parseTdxPolicy, type TdxClaims } from "../attestation/tdx";
import { statusOf, type EarStatus, type TrustVector } from "./ear";

export interface TdxPolicyDocument {
  readonly accepted_tcb_statuses: readonly string[];
  readonly allow_debug: boolean;
  readonly require_sept_ve_disable: boolean;
  readonly mr_td?: readonly string[];
  readonly rtmr0?: readonly string[];
  readonly rtmr1?: readonly string[];
  readonly rtmr2?: readonly string[];
  readonly rtmr3?: readonly string[];
  readonly mr_config_id?: string;
  readonly mr_service_td?: readonly string[];
}

export interface SamplePolicy {
  readonly launch_digests?: readonly string[];
  readonly allow_debug: boolean;
}

/** A validated policy: plain data, hex lowercased, defaults written out. */
export interface AttestationPolicy {
  readonly version: 1;
  readonly snp?: SnpPolicy;
  readonly tdx?: TdxPolicyDocument;
  readonly sample?: SamplePolicy;
  readonly init_data_digests?: readonly string[];
}

export type PolicyErrorReason = "attestation_policy_invalid" | "resource_policy_invalid" | "policy_selector_invalid" | "policy_selector_unmapped";

export interface PolicyError {
  readonly reason: PolicyErrorReason;
  readonly detail: string;
}

export interface Appraisal {
  readonly trustVector: TrustVector;
  readonly status: EarStatus;
  /** `policy_denied:<rule>` codes, for the log and the audit record only (never the wire). */
  readonly failures: readonly string[];
}

const MAX_LIST = 256;
const TOP_FIELDS = new Set(["version", "snp", "tdx", "sample", "init_data_digests"]);
const SAMPLE_FIELDS = new Set(["launch_digests", "allow_debug"]);

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function invalid(detail: string): { readonly ok: false; readonly error: PolicyError } {
  return err({ reason: "attestation_policy_invalid", detail });
}

/** A non-empty list (≤ 256) of strings that each pass `test`. */
export function stringList(v: unknown, name: string, test: (s: string) => boolean, what: string): Result<string[], string> {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_LIST) return err(`${name} must be a non-empty array of at most ${MAX_LIST} ${what}`);
  const out: string[] = [];
  for (const [i, s] of v.entries()) {
    if (typeof s !== "string" || !test(s)) return err(`${name}[${i}] must be ${what}`);
    out.push(s);
  }
  return ok(out);
}

/** A SHA-256/384/512 digest in hex. */
export const isDigestHex = (s: string): boolean => /^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$/.test(s);

function normalizeSnp(v: unknown): Result<SnpPolicy, string> {
  if (isRecord(v) && Object.hasOwn(v, "report_data")) return err("snp.report_data is bound per request by the key broker and cannot be fixed");
  const p = parseSnpPolicy(v);
  if (!p.ok) return err(`snp: ${p.error.detail}`);
  const s = p.value;
  return ok({
    allow_debug: s.allowDebug,
    allow_migrate_ma: s.allowMigrateMa,
    ...(s.minTcb.size > 0 ? { min_tcb: Object.fromEntries(s.minTcb) } : {}),
    ...(s.measurements ? { measurements: [...s.measurements] } : {}),
    ...(s.hostData !== undefined ? { host_data: s.hostData } : {}),
    ...(s.maxVmpl !== undefined ? { max_vmpl: s.maxVmpl } : {}),
    ...(s.minGuestSvn !== undefined ? { min_guest_svn: s.minGuestSvn } : {}),
  });
}

function normalizeTdx(v: unknown): Result<TdxPolicyDocument, string> {
  if (isRecord(v) && Object.hasOwn(v, "report_data")) return err("tdx.report_data is bound per request by the key broker and cannot be fixed");
  const p = parseTdxPolicy(v);
  if (!p.ok) return err(`tdx: ${p.error.detail}`);
  const t = p.value;
  const rtmr: Record<string, readonly string[]> = {};
  for (const [i, list] of t.rtmr.entries()) if (list) rtmr[`rtmr${i}`] = [...list];
  return ok({
    accepted_tcb_statuses: [...t.acceptedTcbStatuses],
    allow_debug: t.allowDebug,
    require_sept_ve_disable: t.requireSeptVeDisable,
    ...(t.mrTd ? { mr_td: [...t.mrTd] } : {}),
    ...rtmr,
    ...(t.mrConfigId !== undefined ? { mr_config_id: t.mrConfigId } : {}),
    ...(t.mrServiceTd ? { mr_service_td: [...t.mrServiceTd] } : {}),
  });
}

function normalizeSample(v: unknown): Result<SamplePolicy, string> {
  if (!isRecord(v)) return err("sample must be an object");
  for (const k of Object.keys(v)) if (!SAMPLE_FIELDS.has(k)) return err(`unknown field sample.${k.slice(0, 40)} (known: launch_digests, allow_debug)`);
  if (v.allow_debug !== undefined && typeof v.allow_debug !== "boolean") return err("sample.allow_debug must be true or false");
  let digests: string[] | undefined;
  if (v.launch_digests !== undefined) {
    const d = stringList(v.launch_digests, "sample.launch_digests", (s) => s.length > 0 && s.length <= 256, "non-empty strings of at most 256 characters");
    if (!d.ok) return d;
    digests = d.value.map((s) => s.toLowerCase());
  }
  return ok({ ...(digests ? { launch_digests: digests } : {}), allow_debug: v.allow_debug === true });
}

/** Validates an attestation policy given as data (parsed JSON). Never throws. */
export function parseAttestationPolicy(json: unknown): Result<AttestationPolicy, PolicyError> {
  if (!isRecord(json)) return invalid("an attestation policy is a JSON object");
  for (const k of Object.keys(json)) if (!TOP_FIELDS.has(k)) return invalid(`unknown field '${k.slice(0, 40)}' (known: ${[...TOP_FIELDS].join(", ")})`);
  if (json.version !== 1) return invalid("version must be 1");
  const out: { -readonly [K in keyof AttestationPolicy]: AttestationPolicy[K] } = { version: 1 };
  if (json.snp !== undefined) {
    const s = normalizeSnp(json.snp);
    if (!s.ok) return invalid(s.error);
    out.snp = s.value;
  }
  if (json.tdx !== undefined) {
    const t = normalizeTdx(json.tdx);
    if (!t.ok) return invalid(t.error);
    out.tdx = t.value;
  }
  if (json.sample !== undefined) {
    const s = normalizeSample(json.sample);
    if (!s.ok) return invalid(s.error);
    out.sample = s.value;
  }
  if (json.init_data_digests !== undefined) {
    const d = stringList(json.init_data_digests, "init_data_digests", isDigestHex, "SHA-256/384/512 digests in hex");
    if (!d.ok) return invalid(d.error);
    out.init_data_digests = d.value.map((s) => s.toLowerCase());
  }
  return ok(out);
}

/**
 * Whether verified init-data (`TeeClaims.initDataDigest`: hex of SNP HOST_DATA or TDX MRCONFIGID;
 * for sample the digest as given) is the init-data of `digest` (hex, the TOML's digest): equal, or
 * for SNP/TDX equal to the digest zero-padded or truncated to the field (Trustee's rule, which
 * report-data.ts implements). Case-insensitive; false for anything that is not hex.
 */
export function initDataMatches(tee: string, field: unknown, digest: string): boolean {
  if (typeof field !== "string") return false;
  const have = field.toLowerCase();
  const want = digest.toLowerCase();
  if (have === want) return true;
  if (tee !== "snp" && tee !== "tdx") return false;
  const bytes = fromHex(want);
  return bytes !== undefined && have === toHex(regularizeData(bytes, INIT_DATA_FIELD_SIZE[tee]));
}

type Claim = "hardware" | "executables" | "configuration";

interface TeeVerdict {
  readonly hardware: number;
  readonly executables: number;
  readonly configuration: number;
  readonly failures: readonly string[];
}

/**
 * Runs each present rule of `section` alone (the other rules held neutral) and folds the denials
 * into the three claims. `debug` is whether the guest is a debug guest.
 */
function foldRules<S extends object>(
  section: S,
  rules: readonly (readonly [keyof S & string, Claim])[],
  neutral: Readonly<Record<string, unknown>>,
  run: (policy: Readonly<Record<string, unknown>>) => Result<void, AttestationFailure>,
  hasReferenceValues: boolean,
  debug: boolean,
): TeeVerdict {
  const failed = new Set<Claim>();
  const failures: string[] = [];
  for (const [field, claim] of rules) {
    if (section[field] === undefined) continue;
    const r = run({ ...neutral, [field]: section[field] });
    if (!r.ok) {
      failed.add(claim);
      failures.push(r.error.reason.startsWith("policy_denied:") ? r.error.reason : `policy_denied:${field}`);
    }
  }
  if (!hasReferenceValues && !failed.has("executables")) failures.push("policy_denied:no_reference_values");
  return {
    hardware: failed.has("hardware") ? 32 : 2,
    executables: failed.has("executables") ? 96 : hasReferenceValues ? 2 : 33,
    configuration: failed.has("configuration") ? 96 : debug ? 32 : 2,
    failures,
  };
}

/** Each rule of a per-TEE policy and the claim it bears on. */
const SNP_RULES = [
  ["allow_debug", "configuration"], ["allow_migrate_ma", "configuration"], ["min_tcb", "hardware"], ["measurements", "executables"],
  ["min_guest_svn", "executables"], ["host_data", "configuration"], ["max_vmpl", "configuration"],
] as const;

const TDX_RULES = [
  ["accepted_tcb_statuses", "hardware"], ["allow_debug", "configuration"], ["require_sept_ve_disable", "configuration"],
  ["mr_td", "executables"], ["rtmr0", "executables"], ["rtmr1", "executables"], ["rtmr2", "executables"], ["rtmr3", "executables"],
  ["mr_config_id", "configuration"], ["mr_service_td", "configuration"],
] as const;

const EMPTY_SNP: SnpPolicy = { allow_debug: false, allow_migrate_ma: false };
const EMPTY_TDX: TdxPolicyDocument = { accepted_tcb_statuses: ["UpToDate"], allow_debug: false, require_sept_ve_disable: true };

function appraiseSnpClaims(claims: TeeClaims, section: SnpPolicy = EMPTY_SNP): TeeVerdict | undefined {
  const e = claims.evidenceClaims;
  if (!isRecord(e.policy) || !isRecord(e.reported_tcb)) return undefined;
  const snp = e as unknown as SnpClaims;
  const neutral = { allow_debug: true, allow_migrate_ma: true };
  return foldRules(section, SNP_RULES, neutral, (p) => appraiseSnp(snp, p), section.measurements !== undefined, snp.policy.debug);
}

function appraiseTdxClaims(claims: TeeClaims, section: TdxPolicyDocument = EMPTY_TDX): TeeVerdict | undefined {
  const e = claims.evidenceClaims;
  if (!isRecord(e.td_attributes) || !Array.isArray(e.rtmr) || typeof e.tcb_status !== "string") return undefined;
  const tdx = e as unknown as TdxClaims;
  const neutral = { accepted_tcb_statuses: ACCEPTABLE_TCB_STATUSES, allow_debug: true, require_sept_ve_disable: false };
  const run = (p: Readonly<Record<string, unknown>>): Result<void, AttestationFailure> => {
    const parsed = parseTdxPolicy(p);
    return parsed.ok ? appraiseTdx(tdx, parsed.value) : parsed;
  };
  const refs = [section.mr_td, section.rtmr0, section.rtmr1, section.rtmr2, section.rtmr3].some((l) => l !== undefined);
  return foldRules(section, TDX_RULES, neutral, run, refs, tdx.td_attributes.debug);
}

function appraiseSample(claims: TeeClaims, section: SamplePolicy = { allow_debug: false }): TeeVerdict {
  const failures: string[] = [];
  let executables = 33;
  if (section.launch_digests) {
    executables = typeof claims.measurement === "string" && section.launch_digests.includes(claims.measurement.toLowerCase()) ? 2 : 96;
    if (executables === 96) failures.push("policy_denied:launch_digest");
  } else {
    failures.push("policy_denied:no_reference_values");
  }
  if (claims.debug && !section.allow_debug) failures.push("policy_denied:debug");
  return { hardware: 0, executables, configuration: claims.debug ? (section.allow_debug ? 32 : 96) : 2, failures };
}

function vectorOf(v: Partial<Record<"instance-identity" | Claim, number>>): TrustVector {
  return {
    "instance-identity": v["instance-identity"] ?? 0,
    configuration: v.configuration ?? 0,
    executables: v.executables ?? 0,
    "file-system": 0,
    hardware: v.hardware ?? 0,
    "runtime-opaque": 0,
    "storage-opaque": 0,
    "sourced-data": 0,
  };
}

/** Not appraised at all: an unrecognised TEE (hardware 97), or nothing that could be read (96 each). */
function contraindicated(failure: string, unreadable = false): Appraisal {
  const trustVector = vectorOf(unreadable ? { hardware: 96, executables: 96, configuration: 96 } : { hardware: 97 });
  return { trustVector, status: statusOf(trustVector), failures: [failure] };
}

/** Appraises verified claims against a policy (plain JSON, re-validated here). Never throws on stored data. */
export function appraise(claims: TeeClaims, policy: AttestationPolicy | undefined, profile: Profile): Appraisal {
  let doc: AttestationPolicy = { version: 1 };
  if (policy !== undefined) {
    const parsed = parseAttestationPolicy(policy);
    if (!parsed.ok) return contraindicated("policy_denied:policy_invalid", true);
    doc = parsed.value;
  }
  let verdict: TeeVerdict | undefined;
  switch (claims.tee) {
    case "snp":
      verdict = appraiseSnpClaims(claims, doc.snp);
      break;
    case "tdx":
      verdict = appraiseTdxClaims(claims, doc.tdx);
      break;
    case "sample":
      if (profile !== "permissive") return contraindicated("policy_denied:sample_tee");
      verdict = appraiseSample(claims, doc.sample);
      break;
    default:
      return contraindicated("policy_denied:tee_unsupported");
  }
  if (!verdict) return contraindicated("policy_denied:claims_malformed", true);
  const failures = [...verdict.failures];
  let identity = 0;
  if (doc.init_data_digests) {
    const field = claims.initDataDigest;
    identity = doc.init_data_digests.some((d) => initDataMatches(claims.tee, field, d)) ? 2 : 96;
    if (identity === 96) failures.push("policy_denied:init_data");
  }
  const trustVector = vectorOf({ ...verdict, "instance-identity": identity });
  return { trustVector, status: statusOf(trustVector), failures };
}

export const DEFAULT_POLICY_ID = "default";
/** The `extra-params` member naming a policy: the brief's name, and upstream's after its rename (trustee#1606). */
export const POLICY_SELECTOR_FIELDS = ["policy-selector", "attestation-policy-selector"] as const;

/**
 * The policy id for a Request's `extra-params`: no selector → "default"; a selector the
 * deployment maps → its policy id; anything else is refused (the guest chose it, so a typo must
 * not silently fall back to another policy).
 */
export function selectPolicyId(extraParams: unknown, mapping: Readonly<Record<string, string>>): Result<string, PolicyError> {
  if (!isRecord(extraParams)) return ok(DEFAULT_POLICY_ID);
  const given = POLICY_SELECTOR_FIELDS.filter((f) => Object.hasOwn(extraParams, f)).map((f) => extraParams[f]);
  if (given.length === 0) return ok(DEFAULT_POLICY_ID);
  const selector = given[0];
  if (given.some((g) => g !== selector)) return err({ reason: "policy_selector_invalid", detail: "policy-selector and attestation-policy-selector disagree" });
  if (typeof selector !== "string" || selector.length === 0 || selector.length > 256) {
    return err({ reason: "policy_selector_invalid", detail: "the policy selector must be a non-empty string of at most 256 characters" });
  }
  const id = Object.hasOwn(mapping, selector) ? mapping[selector] : undefined;
  if (typeof id !== "string" || id.length === 0) return err({ reason: "policy_selector_unmapped", detail: `no policy is mapped to the selector '${selector.slice(0, 64)}'` });
  return ok(id);
}
