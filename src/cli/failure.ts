/**
 * How a CLI invocation can fail, and the exit code each failure maps to.
 * Commands return these as values; only `main` turns them into stderr and an exit code.
 */
export type FailureReason =
  /** Bad flags or values, or no admin token: exit 2. */
  | "usage"
  /** The server answered, but with an error (4xx/5xx/redirect): exit 1. */
  | "rejected"
  /** A local operation after a successful answer failed (writing files): exit 1. */
  | "local"
  /** The server could not be reached (refused, DNS, TLS, timeout): exit 3. */
  | "unreachable"
  /** The server answered 2xx with something we cannot use: exit 3. */
  | "bad_response"
  /** Local evidence could not be read (no TEE interface, permissions, a malformed report): exit 3. */
  | "unreadable"
  /** Evidence was checked and rejected (the verdict is on stdout): exit 1. */
  | "not_verified";

export interface CliFailure {
  readonly reason: FailureReason;
  /** One line, shown after `signet: `. Never contains the admin token. */
  readonly message: string;
  /** For usage errors: the command whose `--help` to suggest. */
  readonly helpFor?: string;
}

export const EXIT_SUCCESS = 0;

export const EXIT_CODES: Readonly<Record<FailureReason, number>> = {
  rejected: 1,
  local: 1,
  usage: 2,
  unreachable: 3,
  bad_response: 3,
  unreadable: 3,
  not_verified: 1,
};

export function usageError(message: string, helpFor?: string): CliFailure {
  return helpFor === undefined ? { reason: "usage", message } : { reason: "usage", message, helpFor };
}

export function failure(reason: FailureReason, message: string): CliFailure {
  return { reason, message };
}

/** Text from the server or the OS, made safe for one terminal line (no control characters). */
export function oneLine(s: string, max = 500): string {
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
