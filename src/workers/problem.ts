/** RFC 9457 problem details for every error the Worker sends. */
import { ERROR_CATALOG, type ErrorCode } from "./errors";

export const PROBLEM_TYPE_PREFIX = "urn:signet:problem:";

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Stable machine-readable code (also the last part of `type`). */
  code: ErrorCode;
  /** The request id, for correlating with logs. */
  instance: string;
}

export function problemResponse(code: ErrorCode, detail: string, requestId: string, headers: Record<string, string> = {}): Response {
  const { status, title } = ERROR_CATALOG[code];
  const body: ProblemBody = { type: `${PROBLEM_TYPE_PREFIX}${code}`, title, status, detail, code, instance: `urn:signet:request:${requestId}` };
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "Content-Type": "application/problem+json", "Cache-Control": "no-store" },
  });
}

export const KBS_ERROR_TYPE_PREFIX = "https://github.com/confidential-containers/kbs/errors/";

/** The error body Trustee sends (kbs_types::ErrorInformation), a superset guests still parse. */
export interface KbsErrorBody {
  type: string;
  detail: string;
}

/**
 * An error in Trustee's wire form, for `/kbs/v0`: `{"type": …/errors/<Variant>, "detail"}` with
 * Trustee's status. The detail is what Trustee would say; never which attestation check failed.
 */
export function kbsErrorResponse(code: ErrorCode, detail: string, headers: Record<string, string> = {}): Response {
  const { variant, status } = ERROR_CATALOG[code].kbs;
  const body: KbsErrorBody = { type: `${KBS_ERROR_TYPE_PREFIX}${variant}`, detail };
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}

/** The one mapper: `/kbs/v0/*` speaks Trustee's flavour, everything else RFC 9457. */
export function errorResponse(path: string, code: ErrorCode, detail: string, requestId: string, headers: Record<string, string> = {}): Response {
  return isKbsPath(path) ? kbsErrorResponse(code, detail, headers) : problemResponse(code, detail, requestId, headers);
}

export function isKbsPath(path: string): boolean {
  return path === "/kbs/v0" || path.startsWith("/kbs/v0/");
}
