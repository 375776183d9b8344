/** Intel TDX DCAP quote verification: the public surface of `lib/attestation/tdx`. */
export { TdxVerifier, verifyTdxQuote, type TdxVerifierOptions, type TdxVerifyInput } from "./verify";
export { parseTdxCollateral, TDX_COLLATERAL_FILES, type TdxCollateral } from "./collateral";
export { parseTdxQuote, type TdxQuote, type TdReport, type QeReport } from "./quote";
export { buildTdxClaims, decodeTdAttributes, type TdxClaims, type TdAttributes } from "./claims";
export { appraiseTdx, parseTdxPolicy, ACCEPTABLE_TCB_STATUSES, type TdxPolicy } from "./policy";
export { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from "./roots";
export type { TdxFailure, TdxFailureReason } from "./errors";
export type { TdxTcbStatus } from "./tcb-evaluation";
export { TdxTeeVerifier, type TdxTeeVerifierOptions } from "./tee-verifier";
export { parseTdxEvidence, tdxEvidenceJson } from "./evidence-json";
export { readTdxPlatform, type TdxPlatform } from "./platform";
