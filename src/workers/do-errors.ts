/** Maps Durable Object results to HTTP errors (one place, exhaustive). */
import type { SvidError } from "../lib/ca/issue";
import type { CaUnavailable } from "../durable/ca";
import { AppError } from "./errors";

export function svidErrorToAppError(e: SvidError): AppError {
  return new AppError(e.reason, e.detail);
}

export function caUnavailable(e: CaUnavailable): AppError {
  return new AppError("service_misconfigured", "The certificate authority is not configured; see its logs.", { internal: e.detail });
}
