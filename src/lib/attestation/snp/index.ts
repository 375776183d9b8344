/** AMD SEV-SNP: verify a report to AMD's pinned roots, then appraise its claims against a policy. */
export { SnpVerifier, verifySnpEvidence, type SnpVerifierOptions, type SnpVerifyInput } from "./verify";
export { appraiseSnp, parseSnpPolicy, type SnpPolicy, type ValidatedSnpPolicy } from "./policy";
export type { SnpClaims, SnpGuestPolicy, SnpPlatformInfo, SnpFirmware } from "./claims";
export type { SnpFailure, SnpFailureReason } from "./errors";
export type { SnpProduct } from "./product";
export { parseSnpReport, REPORT_SIZE, type SnpReport } from "./report";
export type { DecodedTcb, TcbComponents } from "./tcb";
export { SnpTeeVerifier, type SnpTeeVerifierOptions } from "./tee-verifier";
export { parseSnpEvidence, snpEvidenceJson, type ParsedSnpEvidence, type SnpCertChainEntry, type SnpEvidenceJson } from "./evidence-json";
export { derOrPem } from "./der-or-pem";
