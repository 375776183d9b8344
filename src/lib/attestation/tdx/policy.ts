/**
 * Appraisal of verified TDX claims against a policy given as data (JSON), separate from verification
 * (specs/tdx.md §3 step 13). Every field is optional; unknown fields are refused, so a misspelt rule
 * cannot silently allow everything.
 *
 *   accepted_tcb_statuses     TCB statuses to accept (default ["UpToDate"]; "Revoked" never verifies)
 *   allow_debug               accept a TD with the DEBUG attribute (default false)
 *   require_sept_ve_disable   require SEPT_VE_DISABLE (default true, as dcap-qvl)
 *   mr_td                     allowed MRTD values (48-byte hex)
 *   rtmr0 … rtmr3             allowed values per RTMR (48-byte hex)
 *   mr_config_id              the expected MRCONFIGID (48-byte hex)
 *   report_data               the expected REPORTDATA (64-byte hex), e.g. a nonce/key binding
 *
 * A denial is `policy_denied:<rule>` with the rule's field name (`policy_denied:rtmr2`); a policy that
 * does not have this shape is `policy_invalid`.
 */
import { err, ok, type Result } from "../../result";
import { policyDenied, type AttestationFailure } from "../verifier";
import type { TdxClaims } from "./claims";
import type { TdxTcbStatus } from "./tcb-evaluation";

export interface TdxPolicy {
  readonly acceptedTcbStatuses: readonly TdxTcbStatus[];
  readonly allowDebug: boolean;
  readonly requireSeptVeDisable: boolean;
  readonly mrTd?: readonly string[];
  readonly rtmr: readonly [readonly string[] | undefined, readonly string[] | undefined, readonly string[] | undefined, readonly string[] | undefined];
  readonly mrConfigId?: string;
  readonly reportData?: string;
  /**
   * Allowed MRSERVICETD values (TD 1.5). A TD 1.0 quote has no service TD binding and is treated as
   * all-zero, so listing 96 zeros admits TDs without a bound service TD (specs/tdx.md §3 step 13).
   */
  readonly mrServiceTd?: readonly string[];
}

const NO_SERVICE_TD = "0".repeat(96);

export const ACCEPTABLE_TCB_STATUSES: readonly TdxTcbStatus[] = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "TDRelaunchAdvised",
  "TDRelaunchAdvisedConfigurationNeeded",
];

const FIELDS = [
  "accepted_tcb_statuses",
  "allow_debug",
  "require_sept_ve_disable",
  "mr_td",
  "rtmr0",
  "rtmr1",
  "rtmr2",
  "rtmr3",
  "mr_config_id",
  "report_data",
  "mr_service_td",
] as const;

function invalid(detail: string): { readonly ok: false; readonly error: AttestationFailure } {
  return err({ reason: "policy_invalid", detail });
}

function hexValue(v: unknown, field: string, bytes: number): Result<string, AttestationFailure> {
  if (typeof v !== "string" || v.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(v)) return invalid(`${field} values must be ${bytes * 2} hex digits`);
  return ok(v.toLowerCase());
}

function hexList(v: unknown, field: string, bytes: number): Result<string[] | undefined, AttestationFailure> {
  if (v === undefined) return ok(undefined);
  if (!Array.isArray(v) || v.length === 0) return invalid(`${field} must be a non-empty array of hex strings`);
  const out: string[] = [];
  for (const item of v) {
    const h = hexValue(item, field, bytes);
    if (!h.ok) return h;
    out.push(h.value);
  }
  return ok(out);
}

function bool(v: unknown, field: string, fallback: boolean): Result<boolean, AttestationFailure> {
  if (v === undefined) return ok(fallback);
  return typeof v === "boolean" ? ok(v) : invalid(`${field} must be true or false`);
}

/** Validates a policy document (already parsed from JSON). */
export function parseTdxPolicy(value: unknown): Result<TdxPolicy, AttestationFailure> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return invalid("a TDX policy must be a JSON object");
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(key)) return invalid(`unknown policy field '${key.slice(0, 60)}'; known: ${FIELDS.join(", ")}`);
  }
  let statuses: TdxTcbStatus[] = ["UpToDate"];
  if (o.accepted_tcb_statuses !== undefined) {
    const list = o.accepted_tcb_statuses;
    if (!Array.isArray(list) || list.length === 0) return invalid("accepted_tcb_statuses must be a non-empty array");
    for (const s of list) {
      if (typeof s !== "string" || !(ACCEPTABLE_TCB_STATUSES as readonly string[]).includes(s)) {
        return invalid(`accepted_tcb_statuses: '${String(s).slice(0, 40)}' is not one of ${ACCEPTABLE_TCB_STATUSES.join(", ")}`);
      }
    }
    statuses = list as TdxTcbStatus[];
  }
  const allowDebug = bool(o.allow_debug, "allow_debug", false);
  if (!allowDebug.ok) return allowDebug;
  const requireSept = bool(o.require_sept_ve_disable, "require_sept_ve_disable", true);
  if (!requireSept.ok) return requireSept;
  const mrTd = hexList(o.mr_td, "mr_td", 48);
  if (!mrTd.ok) return mrTd;
  const rtmr: (string[] | undefined)[] = [];
  for (const i of [0, 1, 2, 3]) {
    const list = hexList(o[`rtmr${i}`], `rtmr${i}`, 48);
    if (!list.ok) return list;
    rtmr.push(list.value);
  }
  const mrConfigId = o.mr_config_id === undefined ? ok(undefined) : hexValue(o.mr_config_id, "mr_config_id", 48);
  if (!mrConfigId.ok) return mrConfigId;
  const reportData = o.report_data === undefined ? ok(undefined) : hexValue(o.report_data, "report_data", 64);
  if (!reportData.ok) return reportData;
  const mrServiceTd = hexList(o.mr_service_td, "mr_service_td", 48);
  if (!mrServiceTd.ok) return mrServiceTd;
  return ok({
    acceptedTcbStatuses: statuses,
    allowDebug: allowDebug.value,
    requireSeptVeDisable: requireSept.value,
    ...(mrTd.value ? { mrTd: mrTd.value } : {}),
    rtmr: [rtmr[0], rtmr[1], rtmr[2], rtmr[3]],
    ...(mrConfigId.value !== undefined ? { mrConfigId: mrConfigId.value } : {}),
    ...(reportData.value !== undefined ? { reportData: reportData.value } : {}),
    ...(mrServiceTd.value ? { mrServiceTd: mrServiceTd.value } : {}),
  });
}

/** Appraises verified claims; the first rule that denies is reported. */
export function appraiseTdx(claims: TdxClaims, policy: TdxPolicy): Result<void, AttestationFailure> {
  if (!policy.acceptedTcbStatuses.includes(claims.tcb_status)) {
    return err(policyDenied("tcb_status", `TCB status ${claims.tcb_status} is not accepted (accepted: ${policy.acceptedTcbStatuses.join(", ")})`));
  }
  if (claims.td_attributes.debug && !policy.allowDebug) return err(policyDenied("debug", "the TD runs in debug mode"));
  if (policy.requireSeptVeDisable && !claims.td_attributes.sept_ve_disable) return err(policyDenied("sept_ve_disable", "the TD does not have SEPT_VE_DISABLE set"));
  if (policy.mrTd && !policy.mrTd.includes(claims.mr_td)) return err(policyDenied("mr_td", `MRTD ${claims.mr_td} is not allowed`));
  for (const [i, allowed] of policy.rtmr.entries()) {
    const value = claims.rtmr[i as 0 | 1 | 2 | 3];
    if (allowed && !allowed.includes(value)) return err(policyDenied(`rtmr${i}`, `RTMR${i} ${value} is not allowed`));
  }
  if (policy.mrConfigId !== undefined && claims.mr_config_id !== policy.mrConfigId) return err(policyDenied("mr_config_id", "MRCONFIGID is not the expected value"));
  if (policy.reportData !== undefined && claims.report_data !== policy.reportData) return err(policyDenied("report_data", "REPORTDATA is not the expected value"));
  const serviceTd = claims.mr_service_td ?? NO_SERVICE_TD;
  if (policy.mrServiceTd && !policy.mrServiceTd.includes(serviceTd)) return err(policyDenied("mr_service_td", `MRSERVICETD ${serviceTd} is not allowed`));
  return ok(undefined);
}
