/**
 * The Worker's one throwable, and the catalogue of stable error codes. `app.onError` renders every
 * AppError as application/problem+json (RFC 9457); anything else is a 500 with the detail logged only.
 */
/**
 * Trustee's error variants (kbs/src/error.rs): the `type` of a `/kbs/v0` error body is
 * `https://github.com/confidential-containers/kbs/errors/<variant>`.
 */
export type KbsVariant =
  | "AdminAuthAccess"
  | "AttestationError"
  | "HTTPFailed"
  | "InvalidRequestPath"
  | "JweError"
  | "ParsePolicyError"
  | "PluginInternalError"
  | "PluginNotFound"
  | "PolicyDeny"
  | "RvpsError"
  | "SerdeError"
  | "TokenNotFound"
  | "TokenVerifierError";

/**
 * Every error the Worker sends, once: its RFC 9457 status and title, and how it reads on `/kbs/v0`
 * (Trustee's variant and status: 401 for everything but a bad path or plugin, 404; misconfiguration,
 * overload, oversized bodies and rate limits keep their own status there too, since a 401 would only
 * make a guest re-run its handshake).
 */
export const ERROR_CATALOG = {
  invalid_request: { status: 400, title: "Invalid request", kbs: { variant: "SerdeError", status: 401 } },
  malformed_json: { status: 400, title: "Malformed JSON body", kbs: { variant: "SerdeError", status: 401 } },
  unknown_field: { status: 400, title: "Unknown field in request", kbs: { variant: "SerdeError", status: 401 } },
  invalid_spiffe_id: { status: 400, title: "Invalid SPIFFE ID", kbs: { variant: "SerdeError", status: 401 } },
  foreign_trust_domain: { status: 400, title: "SPIFFE ID is not in this trust domain", kbs: { variant: "SerdeError", status: 401 } },
  invalid_public_key: { status: 400, title: "Invalid or unsupported public key", kbs: { variant: "SerdeError", status: 401 } },
  invalid_csr: { status: 400, title: "Invalid certificate signing request", kbs: { variant: "SerdeError", status: 401 } },
  bad_csr_signature: { status: 400, title: "CSR signature does not verify", kbs: { variant: "SerdeError", status: 401 } },
  invalid_ttl: { status: 400, title: "TTL out of range", kbs: { variant: "SerdeError", status: 401 } },
  invalid_dns_name: { status: 400, title: "Invalid DNS name", kbs: { variant: "SerdeError", status: 401 } },
  invalid_audience: { status: 400, title: "Invalid audience", kbs: { variant: "SerdeError", status: 401 } },
  unsupported_algorithm: { status: 400, title: "Unsupported signing algorithm", kbs: { variant: "SerdeError", status: 401 } },
  invalid_collateral: { status: 400, title: "Invalid attestation collateral", kbs: { variant: "SerdeError", status: 401 } },
  invalid_policy: { status: 400, title: "Invalid policy", kbs: { variant: "ParsePolicyError", status: 401 } },
  invalid_reference_value: { status: 400, title: "Invalid reference value", kbs: { variant: "RvpsError", status: 401 } },
  invalid_resource: { status: 400, title: "Invalid resource", kbs: { variant: "PluginInternalError", status: 401 } },
  invalid_selector: { status: 400, title: "Invalid selector", kbs: { variant: "SerdeError", status: 401 } },
  invalid_entry: { status: 400, title: "Invalid registration entry", kbs: { variant: "SerdeError", status: 401 } },
  invalid_entry_id: { status: 400, title: "Invalid entry id", kbs: { variant: "SerdeError", status: 401 } },
  entry_loop: { status: 400, title: "The entry would be its own ancestor", kbs: { variant: "SerdeError", status: 401 } },
  batch_too_large: { status: 400, title: "Too many items in one batch", kbs: { variant: "SerdeError", status: 401 } },
  invalid_page_token: { status: 400, title: "Invalid page token", kbs: { variant: "SerdeError", status: 401 } },
  invalid_join_token: { status: 400, title: "Invalid join token", kbs: { variant: "SerdeError", status: 401 } },
  entry_not_found: { status: 404, title: "No such registration entry", kbs: { variant: "SerdeError", status: 401 } },
  entry_exists: { status: 409, title: "A similar registration entry exists", kbs: { variant: "SerdeError", status: 401 } },
  revision_conflict: { status: 409, title: "The entry has changed since it was read", kbs: { variant: "SerdeError", status: 401 } },
  join_token_exists: { status: 409, title: "That join token exists", kbs: { variant: "SerdeError", status: 401 } },
  invalid_trust_domain: { status: 400, title: "Invalid trust domain", kbs: { variant: "SerdeError", status: 401 } },
  invalid_bundle_endpoint_url: { status: 400, title: "Invalid bundle endpoint URL", kbs: { variant: "SerdeError", status: 401 } },
  unsupported_bundle_endpoint_profile: { status: 400, title: "Unsupported bundle endpoint profile", kbs: { variant: "SerdeError", status: 401 } },
  federation_not_found: { status: 404, title: "No such federation relationship", kbs: { variant: "SerdeError", status: 401 } },
  federation_exists: { status: 409, title: "A federation relationship with that trust domain exists", kbs: { variant: "SerdeError", status: 401 } },
  too_many_federations: { status: 409, title: "Too many federation relationships", kbs: { variant: "SerdeError", status: 401 } },
  unauthorized: { status: 401, title: "Missing or invalid credentials", kbs: { variant: "AdminAuthAccess", status: 401 } },
  attestation_method_disabled: { status: 400, title: "Attestation method not enabled", kbs: { variant: "SerdeError", status: 401 } },
  entry_not_authorized: { status: 403, title: "Entry not authorized for this agent", kbs: { variant: "PolicyDeny", status: 401 } },
  attestation_failed: { status: 401, title: "Node attestation failed", kbs: { variant: "AttestationError", status: 401 } },
  agent_unauthorized: { status: 401, title: "Agent not authenticated", kbs: { variant: "TokenVerifierError", status: 401 } },
  agent_banned: { status: 403, title: "Agent banned", kbs: { variant: "PolicyDeny", status: 401 } },
  kbs_auth_failed: { status: 401, title: "RCAR handshake Auth failed", kbs: { variant: "AttestationError", status: 401 } },
  kbs_attest_failed: { status: 401, title: "RCAR handshake Attest failed", kbs: { variant: "AttestationError", status: 401 } },
  token_not_found: { status: 401, title: "No attestation token", kbs: { variant: "TokenNotFound", status: 401 } },
  token_invalid: { status: 401, title: "Attestation token not valid", kbs: { variant: "TokenVerifierError", status: 401 } },
  policy_denied: { status: 403, title: "Access denied by policy", kbs: { variant: "PolicyDeny", status: 401 } },
  resource_not_found: { status: 404, title: "No such resource", kbs: { variant: "PluginInternalError", status: 401 } },
  jwe_failed: { status: 500, title: "The resource could not be encrypted", kbs: { variant: "JweError", status: 401 } },
  reference_value_not_found: { status: 404, title: "No such reference value", kbs: { variant: "RvpsError", status: 401 } },
  invalid_request_path: { status: 404, title: "Invalid request path", kbs: { variant: "InvalidRequestPath", status: 404 } },
  not_found: { status: 404, title: "Not found", kbs: { variant: "PluginNotFound", status: 404 } },
  method_not_allowed: { status: 405, title: "Method not allowed", kbs: { variant: "InvalidRequestPath", status: 404 } },
  payload_too_large: { status: 413, title: "Request body too large", kbs: { variant: "HTTPFailed", status: 413 } },
  unsupported_media_type: { status: 415, title: "Unsupported media type", kbs: { variant: "SerdeError", status: 401 } },
  too_many_requests: { status: 429, title: "Too many requests", kbs: { variant: "AttestationError", status: 429 } },
  internal_error: { status: 500, title: "Internal error", kbs: { variant: "PluginInternalError", status: 500 } },
  service_misconfigured: { status: 503, title: "Service is not configured", kbs: { variant: "PluginInternalError", status: 503 } },
  service_overloaded: { status: 503, title: "Service overloaded", kbs: { variant: "PluginInternalError", status: 503 } },
  collateral_unavailable: { status: 503, title: "Attestation collateral unavailable", kbs: { variant: "AttestationError", status: 503 } },
} as const satisfies Record<string, { status: number; title: string; kbs: { variant: KbsVariant; status: 401 | 404 | 413 | 429 | 500 | 503 } }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  /** Logged, never sent. */
  readonly internal: string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, detail?: string, options: { internal?: string; headers?: Record<string, string> } = {}) {
    super(`${code}: ${detail ?? ERROR_CATALOG[code].title}`);
    this.name = "AppError";
    this.code = code;
    this.detail = detail ?? ERROR_CATALOG[code].title;
    this.internal = options.internal;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}
