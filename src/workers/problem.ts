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
