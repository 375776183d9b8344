/**
 * Checks shared by the commands: flag values (each failure is a usage error naming the flag) and a
 * few field shapes of the server's answers.
 */
import { parseDuration } from "../lib/duration";
import { fromBase64 } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import { parseSpiffeId, pathOf, type SpiffeId } from "../lib/spiffe/id";
import { oneLine, usageError, type CliFailure } from "./failure";

export function requireFlag(value: string | undefined, flag: string, command: string): Result<string, CliFailure> {
  return value === undefined ? err(usageError(`missing required flag --${flag}`, command)) : ok(value);
}

/** A workload SPIFFE ID: valid, and with a path (the root ID names the trust domain, not a workload). */
export function spiffeIdFlag(value: string | undefined, command: string): Result<SpiffeId, CliFailure> {
  const raw = requireFlag(value, "spiffe-id", command);
  if (!raw.ok) return raw;
  const id = parseSpiffeId(raw.value);
  if (!id.ok) return err(usageError(`--spiffe-id '${oneLine(raw.value, 200)}' is not a valid SPIFFE ID: ${id.error.detail}`, command));
  if (pathOf(id.value) === "") {
    return err(usageError(`--spiffe-id '${id.value}' has no path; an SVID needs a workload ID such as ${id.value}/ns/prod/sa/api`, command));
  }
  return ok(id.value);
}

/** `--ttl` in whole seconds, or undefined to leave the lifetime to the server. */
export function ttlFlag(value: string | undefined, command: string): Result<number | undefined, CliFailure> {
  if (value === undefined) return ok(undefined);
  const seconds = parseDuration(value);
  if (!seconds.ok) return err(usageError(`--ttl '${oneLine(value, 100)}' is not a valid duration: ${seconds.error.detail}`, command));
  return ok(seconds.value);
}

export function oneOfFlag<T extends string>(
  value: string | undefined,
  flag: string,
  allowed: readonly T[],
  fallback: T | undefined,
  command: string,
): Result<T | undefined, CliFailure> {
  if (value === undefined) return ok(fallback);
  if ((allowed as readonly string[]).includes(value)) return ok(value as T);
  return err(usageError(`--${flag} must be one of ${allowed.join(", ")}; got '${oneLine(value, 100)}'`, command));
}

/** Unix seconds as `2025-01-31T12:00:00Z`. */
export function formatInstant(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A JSON list of standard-base64 DER objects (`cert_chain`, `x5c`), or undefined if it is not one. */
export function decodeDerList(value: unknown): Uint8Array[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Uint8Array[] = [];
  for (const item of value) {
    const der = typeof item === "string" ? fromBase64(item) : undefined;
    if (!der || der.length === 0) return undefined;
    out.push(der);
  }
  return out;
}
