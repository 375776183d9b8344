/**
 * Appraisal of verified SNP claims against a policy given as data (a plain JSON object), separate
 * from verification. Every rule is optional except the two permissions, which default to deny:
 *
 *   {
 *     "allow_debug": false,            // POLICY.DEBUG may be set only if true (default false)
 *     "allow_migrate_ma": false,       // POLICY.MIGRATE_MA may be set only if true (default false)
 *     "min_tcb": { "bootloader": 3, "tee": 0, "snp": 8, "microcode": 115, "fmc": 0 },
 *     "measurements": ["<96 hex>", …], // allowlist of launch measurements
 *     "host_data": "<64 hex>",         // exact HOST_DATA
 *     "report_data": "<128 hex>",      // exact REPORT_DATA
 *     "max_vmpl": 0,                   // VMPL ≤ this (0–3)
 *     "min_guest_svn": 1
 *   }
 *
 * `min_tcb` is compared with REPORTED_TCB, the TCB the VCEK/VLEK certifies (the only TCB the key
 * derivation binds; CURRENT/COMMITTED are the firmware's own statements). `fmc` applies only to
 * products whose TCB has an FMC component (Turin). Unknown fields, wrong types and malformed hex
 * are `invalid_policy`; hex is compared case-insensitively. A denial is `policy_denied:<rule>`.
 */
import { err, ok, type Result } from "../../result";
import { policyDenied, type AttestationFailure } from "../verifier";
import type { SnpClaims } from "./claims";
import { TCB_COMPONENT_NAMES, type TcbComponentName } from "./tcb";

export interface SnpPolicy {
  readonly allow_debug?: boolean;
  readonly allow_migrate_ma?: boolean;
  readonly min_tcb?: Partial<Readonly<Record<TcbComponentName, number>>>;
  readonly measurements?: readonly string[];
  readonly host_data?: string;
  readonly report_data?: string;
  readonly max_vmpl?: number;
  readonly min_guest_svn?: number;
}

/** A policy after validation: hex lowercased, permissions resolved. */
export interface ValidatedSnpPolicy {
  readonly allowDebug: boolean;
  readonly allowMigrateMa: boolean;
  readonly minTcb: ReadonlyMap<TcbComponentName, number>;
  readonly measurements: ReadonlySet<string> | undefined;
  readonly hostData: string | undefined;
  readonly reportData: string | undefined;
  readonly maxVmpl: number | undefined;
  readonly minGuestSvn: number | undefined;
}

/** Policies that came out of `parseSnpPolicy` (so `appraiseSnp` need not validate them again). */
const VALIDATED = new WeakSet<object>();

const FIELDS = new Set(["allow_debug", "allow_migrate_ma", "min_tcb", "measurements", "host_data", "report_data", "max_vmpl", "min_guest_svn"]);

type Fail = { readonly ok: false; readonly error: AttestationFailure };
const invalid = (detail: string): Fail => err({ reason: "invalid_policy", detail });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function intIn(v: unknown, name: string, min: number, max: number): Result<number | undefined, AttestationFailure> {
  if (v === undefined) return ok(undefined);
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) return invalid(`${name} must be an integer from ${min} to ${max}`);
  return ok(v);
}

function hexOf(v: unknown, name: string, bytes: number): Result<string | undefined, AttestationFailure> {
  if (v === undefined) return ok(undefined);
  if (typeof v !== "string" || v.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(v)) return invalid(`${name} must be ${bytes * 2} hex digits`);
  return ok(v.toLowerCase());
}

function boolOf(v: unknown, name: string): Result<boolean, AttestationFailure> {
  if (v === undefined) return ok(false);
  return typeof v === "boolean" ? ok(v) : invalid(`${name} must be true or false`);
}

/** Validates a policy given as data. Never throws. */
export function parseSnpPolicy(value: unknown): Result<ValidatedSnpPolicy, AttestationFailure> {
  if (!isRecord(value)) return invalid("an SNP policy is a JSON object");
  for (const k of Object.keys(value)) if (!FIELDS.has(k)) return invalid(`unknown field '${k.slice(0, 40)}' (known: ${[...FIELDS].join(", ")})`);
  const allowDebug = boolOf(value.allow_debug, "allow_debug");
  if (!allowDebug.ok) return allowDebug;
  const allowMigrateMa = boolOf(value.allow_migrate_ma, "allow_migrate_ma");
  if (!allowMigrateMa.ok) return allowMigrateMa;

  const minTcb = new Map<TcbComponentName, number>();
  if (value.min_tcb !== undefined) {
    if (!isRecord(value.min_tcb)) return invalid("min_tcb must be an object of component → minimum");
    for (const [k, v] of Object.entries(value.min_tcb)) {
      const name = TCB_COMPONENT_NAMES.find((c) => c === k);
      if (!name) return invalid(`min_tcb.${k.slice(0, 40)} is not a TCB component (${TCB_COMPONENT_NAMES.join(", ")})`);
      const n = intIn(v, `min_tcb.${k}`, 0, 255);
      if (!n.ok) return n;
      if (n.value !== undefined) minTcb.set(name, n.value);
    }
  }

  let measurements: Set<string> | undefined;
  if (value.measurements !== undefined) {
    if (!Array.isArray(value.measurements) || value.measurements.length === 0) return invalid("measurements must be a non-empty array of 96-hex-digit strings");
    measurements = new Set();
    for (const [i, m] of value.measurements.entries()) {
      const h = hexOf(m, `measurements[${i}]`, 48);
      if (!h.ok) return h;
      if (h.value !== undefined) measurements.add(h.value);
    }
  }
  const hostData = hexOf(value.host_data, "host_data", 32);
  if (!hostData.ok) return hostData;
  const reportData = hexOf(value.report_data, "report_data", 64);
  if (!reportData.ok) return reportData;
  const maxVmpl = intIn(value.max_vmpl, "max_vmpl", 0, 3);
  if (!maxVmpl.ok) return maxVmpl;
  const minGuestSvn = intIn(value.min_guest_svn, "min_guest_svn", 0, 0xffff_ffff);
  if (!minGuestSvn.ok) return minGuestSvn;

  const validated: ValidatedSnpPolicy = Object.freeze({
    allowDebug: allowDebug.value,
    allowMigrateMa: allowMigrateMa.value,
    minTcb,
    measurements,
    hostData: hostData.value,
    reportData: reportData.value,
    maxVmpl: maxVmpl.value,
    minGuestSvn: minGuestSvn.value,
  });
  VALIDATED.add(validated);
  return ok(validated);
}

/**
 * Appraises verified claims. `policy` is data (validated here, so a JSON object can be passed as
 * is) or the result of `parseSnpPolicy`. The first rule that denies is returned.
 */
export function appraiseSnp(claims: SnpClaims, policy: SnpPolicy | ValidatedSnpPolicy): Result<void, AttestationFailure> {
  let p: ValidatedSnpPolicy;
  if (VALIDATED.has(policy)) {
    p = policy as ValidatedSnpPolicy;
  } else {
    const parsed = parseSnpPolicy(policy);
    if (!parsed.ok) return parsed;
    p = parsed.value;
  }
  if (claims.policy.debug && !p.allowDebug) return err(policyDenied("debug", "the guest policy allows debugging (POLICY.DEBUG = 1)"));
  if (claims.policy.migrate_ma && !p.allowMigrateMa) return err(policyDenied("migrate_ma", "the guest policy allows a migration agent (POLICY.MIGRATE_MA = 1)"));
  const tcb = claims.reported_tcb;
  for (const [name, min] of p.minTcb) {
    const have = tcb[name];
    if (have === undefined) continue; // fmc on a product without one
    if (have < min) return err(policyDenied(`min_tcb.${name}`, `REPORTED_TCB ${name} ${have} is below the minimum ${min}`));
  }
  if (p.measurements && !p.measurements.has(claims.measurement)) return err(policyDenied("measurement", `measurement ${claims.measurement} is not in the allowlist`));
  if (p.hostData !== undefined && p.hostData !== claims.host_data) return err(policyDenied("host_data", "HOST_DATA is not the expected value"));
  if (p.reportData !== undefined && p.reportData !== claims.report_data) return err(policyDenied("report_data", "REPORT_DATA is not the expected value"));
  if (p.maxVmpl !== undefined && claims.vmpl > p.maxVmpl) return err(policyDenied("vmpl", `VMPL ${claims.vmpl} is above the maximum ${p.maxVmpl}`));
  if (p.minGuestSvn !== undefined && claims.guest_svn < p.minGuestSvn) return err(policyDenied("min_guest_svn", `GUEST_SVN ${claims.guest_svn} is below the minimum ${p.minGuestSvn}`));
  return ok(undefined);
}
