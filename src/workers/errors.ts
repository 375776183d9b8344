/**
 * The Worker's one throwable, and the catalogue of stable error codes. `app.onError` renders every
 * AppError as application/problem+json (RFC 9457); anything else is a 500 with the detail logged only.
 */
export const ERROR_CATALOG = {
  invalid_request: { status: 400, title: "Invalid request" },
  malformed_json: { status: 400, title: "Malformed JSON body" },
  unknown_field: { status: 400, title: "Unknown field in request" },
  invalid_spiffe_id: { status: 400, title: "Invalid SPIFFE ID" },
  foreign_trust_domain: { status: 400, title: "SPIFFE ID is not in this trust domain" },
  invalid_public_key: { status: 400, title: "Invalid or unsupported public key" },
  invalid_csr: { status: 400, title: "Invalid certificate signing request" },
  bad_csr_signature: { status: 400, title: "CSR signature does not verify" },
  invalid_ttl: { status: 400, title: "TTL out of range" },
  invalid_dns_name: { status: 400, title: "Invalid DNS name" },
  invalid_audience: { status: 400, title: "Invalid audience" },
  unsupported_algorithm: { status: 400, title: "Unsupported signing algorithm" },
  invalid_collateral: { status: 400, title: "Invalid attestation collateral" },
  unauthorized: { status: 401, title: "Missing or invalid credentials" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  payload_too_large: { status: 413, title: "Request body too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  internal_error: { status: 500, title: "Internal error" },
  service_misconfigured: { status: 503, title: "Service is not configured" },
  service_overloaded: { status: 503, title: "Service overloaded" },
  collateral_unavailable: { status: 503, title: "Attestation collateral unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

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
