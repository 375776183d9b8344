/**
 * The parts of Intel QVL's algorithm that compare the quote with the (already trusted) collateral,
 * as in QVL d12717e (specs/tdx.md §3 steps 6, 7, 11, 12):
 *
 * - `matchQeIdentity`: TD_QE identity v2; MISCSELECT and ATTRIBUTES under their masks, MRSIGNER and
 *   ISVPRODID equal (QVL EnclaveReportVerifier).
 * - `checkTdxModule`: MRSIGNERSEAM and SEAMATTRIBUTES against `tdxModule`, or against the
 *   `tdxModuleIdentities` entry "TDX_%02X" of TEE_TCB_SVN[1] when that is non-zero (QVL 4.1.2.5.12).
 * - `evaluateTcb`: the platform TCB level, the TDX module level, the QE level, their convergence into
 *   one status, and for TD 1.5 bodies the relaunch advice from TEE_TCB_SVN2 (QVL EvaluateTcb,
 *   TcbLevelCheck, TDRelaunchCheck).
 *
 * Where the reference libraries disagree we follow Intel QVL, and say so where it matters.
 */
import { err, ok, type Result } from "../../result";
import { bytesEqual } from "../../x509/der-reader";
import { tdxFail, type TdxFailure } from "./errors";
import type { IsvSvnLevel, TcbLevelStatus } from "./json-fields";
import type { QeIdentity } from "./qe-identity";
import type { QeReport, TdReport } from "./quote";
import type { SgxExtension } from "./sgx-extension";
import type { TcbInfo, TdxModuleIdentity } from "./tcb-info";

export type TdxTcbStatus = TcbLevelStatus | "TDRelaunchAdvised" | "TDRelaunchAdvisedConfigurationNeeded";

export interface TcbEvaluation {
  readonly status: TdxTcbStatus;
  /** The earliest tcbDate among the platform, TDX module and QE levels. */
  readonly tcbDate: number;
  /** Platform, then QE, then TDX module advisories (QVL's order). */
  readonly advisoryIds: readonly string[];
}

function masked(value: Uint8Array, mask: Uint8Array, expected: Uint8Array): boolean {
  if (value.length !== mask.length || value.length !== expected.length) return false;
  for (let i = 0; i < value.length; i++) if ((value[i]! & mask[i]!) !== expected[i]) return false;
  return true;
}

export function matchQeIdentity(report: QeReport, identity: QeIdentity): Result<void, TdxFailure> {
  if (identity.version !== 2 || identity.id !== "TD_QE") {
    return tdxFail("qe_identity_mismatch", `QE Identity "${identity.id}" version ${identity.version} is not the TDX quoting enclave's (TD_QE, version 2)`);
  }
  if (!masked(report.miscSelect, identity.miscselectMask, identity.miscselect)) return tdxFail("qe_identity_mismatch", "the QE's MISCSELECT does not match the QE Identity");
  if (!masked(report.attributes, identity.attributesMask, identity.attributes)) return tdxFail("qe_identity_mismatch", "the QE's ATTRIBUTES do not match the QE Identity");
  if (!bytesEqual(report.mrSigner, identity.mrSigner)) return tdxFail("qe_identity_mismatch", "the QE's MRSIGNER is not the QE Identity's");
  if (report.isvProdId !== identity.isvProdId) return tdxFail("qe_identity_mismatch", `the QE's ISVPRODID ${report.isvProdId} is not ${identity.isvProdId}`);
  return ok(undefined);
}

function moduleIdentity(tcbInfo: TcbInfo, majorVersion: number): TdxModuleIdentity | undefined {
  const id = `TDX_${majorVersion.toString(16).toUpperCase().padStart(2, "0")}`;
  return tcbInfo.tdxModuleIdentities.find((m) => m.id.toUpperCase() === id);
}

export function checkTdxModule(body: TdReport, tcbInfo: TcbInfo): Result<void, TdxFailure> {
  const major = body.teeTcbSvn[1]!;
  let expected = tcbInfo.tdxModule;
  if (major > 0) {
    expected = moduleIdentity(tcbInfo, major);
    if (!expected) return tdxFail("tdx_module_mismatch", `TCB Info has no identity for TDX module TDX_${major.toString(16).padStart(2, "0").toUpperCase()}`);
  }
  if (!expected) return tdxFail("tdx_module_mismatch", "TCB Info has no TDX module identity");
  if (!bytesEqual(body.mrSignerSeam, expected.mrSigner)) return tdxFail("tdx_module_mismatch", "MRSIGNERSEAM is not the TDX module signer in TCB Info");
  // QVL requires SEAMATTRIBUTES to be all zero and equal to the expected attributes; dcap-qvl and
  // go-tdx-guest compare under attributesMask instead. We follow QVL.
  for (let i = 0; i < body.seamAttributes.length; i++) {
    if (body.seamAttributes[i] !== 0 || expected.attributes[i] !== 0) return tdxFail("tdx_module_mismatch", "SEAMATTRIBUTES are not zero as TCB Info requires");
  }
  return ok(undefined);
}

function allAtLeast(have: ArrayLike<number>, want: readonly number[], from = 0): boolean {
  for (let i = from; i < 16; i++) if (have[i]! < want[i]!) return false;
  return true;
}

const MODULE_STATUSES: ReadonlySet<TcbLevelStatus> = new Set(["UpToDate", "OutOfDate", "Revoked"]);
const QE_STATUSES: ReadonlySet<TcbLevelStatus> = new Set(["UpToDate", "OutOfDate", "ConfigurationNeeded", "Revoked", "OutOfDateConfigurationNeeded"]);

export interface TcbInput {
  readonly sgx: SgxExtension;
  readonly qeSvn: number;
  readonly tcbInfo: TcbInfo;
  readonly qeIdentity: QeIdentity;
}

/** QVL tdxEvaluateTCB for one TEE_TCB_SVN (4.1.2.5.2). */
function evaluateOnce(input: TcbInput, teeTcbSvn: Uint8Array): Result<TcbEvaluation, TdxFailure> {
  const { sgx, tcbInfo } = input;
  const major = teeTcbSvn[1]!;
  // With a TDX module version (major > 0), TEE_TCB_SVN[0..1] are judged by the module identity, not
  // by tdxtcbcomponents (QVL, go-tdx-guest); dcap-qvl compares all 16 and disagrees on real quotes.
  const start = major > 0 ? 2 : 0;
  const platform = tcbInfo.tcbLevels.find(
    (l) => allAtLeast(sgx.sgxTcbComponents, l.sgxTcbComponents) && sgx.pceSvn >= l.pceSvn && allAtLeast(teeTcbSvn, l.tdxTcbComponents, start),
  );
  if (!platform) return tdxFail("tcb_not_supported", "the platform's TCB (SGX components, PCESVN, TEE_TCB_SVN) is below every TCB level");

  const components: TcbLevelStatus[] = [];
  const dates = [platform.tcbDate];
  let moduleLevel: IsvSvnLevel | undefined;
  if (major > 0) {
    const identity = moduleIdentity(tcbInfo, major);
    if (!identity) return tdxFail("tcb_not_supported", `TCB Info has no levels for TDX module version ${major}`);
    moduleLevel = identity.tcbLevels.find((l) => teeTcbSvn[0]! >= l.isvSvn);
    if (!moduleLevel) return tdxFail("tcb_not_supported", `TDX module SVN ${teeTcbSvn[0]} is below every ${identity.id} level`);
    if (!MODULE_STATUSES.has(moduleLevel.tcbStatus)) return tdxFail("tcb_status_unrecognized", `TDX module level status ${moduleLevel.tcbStatus} is not allowed`);
    components.push(moduleLevel.tcbStatus);
    dates.push(moduleLevel.tcbDate);
  }
  const qeLevel = input.qeIdentity.tcbLevels.find((l) => l.isvSvn <= input.qeSvn);
  if (!qeLevel) return tdxFail("tcb_not_supported", `QE ISVSVN ${input.qeSvn} is below every QE Identity level`);
  if (!QE_STATUSES.has(qeLevel.tcbStatus)) return tdxFail("tcb_status_unrecognized", `QE level status ${qeLevel.tcbStatus} is not allowed`);
  components.push(qeLevel.tcbStatus);
  dates.push(qeLevel.tcbDate);

  // Convergence (QVL convergeTcbStatuses): an out-of-date module or QE makes the platform out of
  // date; a revoked one revokes it. go-tdx-guest instead reports the module status alone.
  let status: TcbLevelStatus = platform.tcbStatus;
  if (components.includes("OutOfDate")) {
    if (status === "UpToDate" || status === "SWHardeningNeeded") status = "OutOfDate";
    else if (status === "ConfigurationNeeded" || status === "ConfigurationAndSWHardeningNeeded") status = "OutOfDateConfigurationNeeded";
  }
  if (components.includes("Revoked")) status = "Revoked";
  return ok({
    status,
    tcbDate: Math.min(...dates),
    advisoryIds: [...platform.advisoryIds, ...qeLevel.advisoryIds, ...(moduleLevel?.advisoryIds ?? [])],
  });
}

function needsConfiguration(s: TdxTcbStatus): boolean {
  return s === "ConfigurationNeeded" || s === "OutOfDateConfigurationNeeded" || s === "ConfigurationAndSWHardeningNeeded" || s === "TDRelaunchAdvisedConfigurationNeeded";
}

/** QVL checkForRelaunch: an out-of-date launch TCB whose current TCB is fine advises a relaunch. */
export function relaunchStatus(launch: TdxTcbStatus, current: TdxTcbStatus): TdxTcbStatus {
  const launchOutOfDate = launch === "OutOfDate" || launch === "OutOfDateConfigurationNeeded";
  const currentFine = current === "UpToDate" || current === "SWHardeningNeeded" || current === "ConfigurationNeeded" || current === "ConfigurationAndSWHardeningNeeded";
  if (!launchOutOfDate || !currentFine) return launch;
  return needsConfiguration(launch) || needsConfiguration(current) ? "TDRelaunchAdvisedConfigurationNeeded" : "TDRelaunchAdvised";
}

/** The TCB status of a TD: from TEE_TCB_SVN and, for TD 1.5 bodies, TEE_TCB_SVN2 (QVL checkTcbLevel). */
export function evaluateTcb(input: TcbInput, body: TdReport): Result<TcbEvaluation, TdxFailure> {
  const launch = evaluateOnce(input, body.teeTcbSvn);
  if (!launch.ok) return launch;
  if (!body.teeTcbSvn2) return launch;
  const current = evaluateOnce(input, body.teeTcbSvn2);
  if (!current.ok) return err({ ...current.error, detail: `TEE_TCB_SVN2: ${current.error.detail}` });
  return ok({ ...launch.value, status: relaunchStatus(launch.value.status, current.value.status) });
}
