/**
 * The SNP verifier's failure codes: stable snake_case values, one per distinct reason, so logs and
 * tests can tell a forged report from a stale certificate. They are logged, never sent on the wire.
 */
import { err } from "../../result";
import type { AttestationFailure } from "../verifier";

export type SnpFailureReason =
  // The report itself (report.ts).
  | "bad_length"
  | "unsupported_version"
  | "unsupported_signature_algorithm"
  | "bad_guest_policy"
  | "bad_signer_info"
  | "reserved_nonzero"
  | "unsupported_signing_key"
  | "unsupported_product"
  // The endorsement key certificate and its chain (endorsement-cert.ts, chain.ts).
  | "missing_endorsement_key"
  | "malformed_endorsement_cert"
  | "vcek_chain_invalid"
  | "cert_expired"
  // Binding the certificate to the report (binding.ts, verify.ts).
  | "signer_mismatch"
  | "product_mismatch"
  | "bad_report_signature"
  | "hwid_mismatch"
  | "tcb_mismatch"
  // Revocation (crl.ts).
  | "malformed_crl"
  | "crl_issuer_mismatch"
  | "crl_signature_invalid"
  | "crl_not_yet_valid"
  | "crl_expired"
  | "cert_revoked";

export interface SnpFailure extends AttestationFailure {
  readonly reason: SnpFailureReason;
}

export function snpFail(reason: SnpFailureReason, detail: string): { readonly ok: false; readonly error: SnpFailure } {
  return err({ reason, detail });
}

/** A time for a failure detail: ISO 8601 when representable, else the raw number. */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}
