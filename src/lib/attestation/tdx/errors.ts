/**
 * The TDX verifier's failure codes: stable snake_case values, one per distinct reason, so logs and
 * tests can tell a forged quote from stale collateral. They are logged, never sent on the wire.
 * The comments name the Intel QVL status each code corresponds to.
 */
import { err } from "../../result";
import type { AttestationFailure } from "../verifier";

export type TdxFailureReason =
  // The quote's structure (quote.ts); QVL STATUS_UNSUPPORTED_QUOTE_FORMAT.
  | "quote_truncated"
  | "quote_unsupported_version"
  | "quote_unsupported_attestation_key_type"
  | "quote_unsupported_tee_type"
  | "quote_unsupported_qe_vendor"
  | "quote_invalid_body"
  | "quote_unsupported_certification_data"
  | "quote_invalid_certification_data"
  // The collateral set's shape (collateral.ts, tcb-info.ts, qe-identity.ts).
  | "collateral_file_missing"
  | "tcb_info_malformed"
  | "qe_identity_malformed"
  | "pck_crl_malformed"
  | "root_ca_crl_malformed"
  | "issuer_chain_malformed"
  // Root CA CRL (collateral-check.ts); STATUS_SGX_CRL_UNKNOWN_ISSUER / _INVALID_SIGNATURE / _EXPIRED.
  | "root_ca_crl_untrusted"
  | "root_ca_crl_expired"
  | "root_ca_crl_not_yet_valid"
  // TCB Info and QE Identity: signing chain and signature; STATUS_SGX_SIGNING_CERT_CHAIN_*,
  // STATUS_TCB_INFO_INVALID_SIGNATURE, STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE, *_EXPIRED.
  | "tcb_info_untrusted"
  | "tcb_info_expired"
  | "tcb_info_not_yet_valid"
  | "qe_identity_untrusted"
  | "qe_identity_expired"
  | "qe_identity_not_yet_valid"
  // PCK CRL (collateral-check.ts, verify.ts); STATUS_INVALID_PCK_CRL / STATUS_SGX_CRL_EXPIRED.
  | "pck_crl_untrusted"
  | "pck_crl_wrong_issuer"
  | "pck_crl_expired"
  | "pck_crl_not_yet_valid"
  // The PCK certificate chain in the quote (pck-chain.ts); STATUS_SGX_PCK_CERT_CHAIN_*, STATUS_INVALID_PCK_CERT.
  | "pck_chain_malformed"
  | "pck_chain_untrusted"
  | "pck_chain_expired"
  | "pck_chain_not_yet_valid"
  | "pck_ca_revoked"
  | "pck_revoked"
  // Quote against collateral (verify.ts); STATUS_TCB_INFO_MISMATCH, STATUS_TDX_MODULE_MISMATCH.
  | "tcb_info_mismatch"
  | "tdx_module_mismatch"
  // Signatures and binding inside the quote; STATUS_INVALID_QE_REPORT_SIGNATURE / _DATA, STATUS_INVALID_QUOTE_SIGNATURE.
  | "qe_report_signature_invalid"
  | "qe_report_data_mismatch"
  | "qe_identity_mismatch"
  | "quote_signature_invalid"
  // TCB evaluation (tcb-evaluation.ts); STATUS_TCB_NOT_SUPPORTED, STATUS_TCB_UNRECOGNIZED_STATUS, STATUS_TCB_REVOKED.
  | "tcb_not_supported"
  | "tcb_status_unrecognized"
  | "tcb_revoked";

export interface TdxFailure extends AttestationFailure {
  readonly reason: TdxFailureReason;
}

export type TdxFail = { readonly ok: false; readonly error: TdxFailure };

export function tdxFail(reason: TdxFailureReason, detail: string): TdxFail {
  return err({ reason, detail });
}
