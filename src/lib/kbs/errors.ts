/**
 * The KBS protocol library's failure codes: stable snake_case values, one per distinct reason, so
 * a log line says which rule refused a message. The Worker maps them all to Trustee's generic
 * `{type, detail}` errors (401); only `detail` of a version mismatch is meant for the client, as
 * Trustee words it.
 */
import { err } from "../result";

export type KbsFailureReason =
  // protocol.ts: the Request and the session.
  | "malformed_version"
  | "protocol_version_mismatch"
  | "malformed_session_id"
  | "unsupported_hash_algorithm"
  | "nonce_mismatch"
  // tee-pubkey.ts
  | "malformed_tee_pubkey"
  | "unsupported_key_type"
  | "unsupported_key_algorithm"
  | "rsa1_5_refused"
  | "unsupported_curve"
  | "bad_coordinate"
  | "point_not_on_curve"
  | "bad_rsa_key"
  // init-data.ts
  | "unsupported_init_data_format"
  | "init_data_too_large"
  | "malformed_init_data"
  | "unsupported_init_data_algorithm"
  // resource-jwe.ts (guest side: what came back from a KBS)
  | "malformed_jwe"
  | "unsupported_jwe_algorithm"
  | "jwe_key_mismatch"
  | "jwe_decrypt_failed";

export interface KbsFailure {
  readonly reason: KbsFailureReason;
  readonly detail: string;
}

export function kbsFail(reason: KbsFailureReason, detail: string): { readonly ok: false; readonly error: KbsFailure } {
  return err({ reason, detail });
}
