/**
 * What `signet verify snp|tdx` print: exactly one JSON object on stdout,
 * `{"ok":true,"tee":…,"claims":{…}}` (exit 0) or `{"ok":false,"error":"<code>","detail":"…"}` (exit 1).
 * Usage errors (exit 2) print nothing on stdout.
 */
import { isAbsolute, join } from "node:path";
import { fromHex } from "../../lib/encoding";
import { err, ok, type Result } from "../../lib/result";
import type { CliIo } from "../command";
import { failure, usageError, type CliFailure } from "../failure";
import { readRegularFile } from "../../node/input-file";

export type VerifyOutcome =
  | { readonly ok: true; readonly tee: "snp" | "tdx"; readonly claims: unknown }
  | { readonly ok: false; readonly error: string; readonly detail: string };

export function printOutcome(io: CliIo, outcome: VerifyOutcome): Result<void, CliFailure> {
  io.stdout(`${JSON.stringify(outcome)}\n`);
  return outcome.ok ? ok(undefined) : err(failure("not_verified", `verification failed: ${outcome.error}`));
}

/**
 * Reads a file named on the command line (relative to the CLI's cwd). Anything but a regular file
 * of at most `maxBytes` (a FIFO, /dev/zero, a directory, a missing file) is a usage error, at once.
 */
export async function readInputFile(io: CliIo, path: string, what: string, command: string, maxBytes = 16 * 1024 * 1024): Promise<Result<Uint8Array, CliFailure>> {
  const read = await readRegularFile(isAbsolute(path) ? path : join(io.cwd, path), maxBytes);
  if (read.ok) return read;
  const e = read.error;
  if (e.reason === "not_regular_file") return err(usageError(`${what} ${path} is not a regular file (a ${e.kind})`, command));
  if (e.reason === "too_large") return err(usageError(`${what} ${path} is larger than ${e.maxBytes} bytes`, command));
  return err(usageError(`cannot read ${what} ${path} (${e.code})`, command));
}

/** `--at ISO8601` → milliseconds; a usage error when it is not a full date-time. */
export function parseAt(value: string | undefined, now: () => number, command: string): Result<number, CliFailure> {
  if (value === undefined) return ok(now());
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value)) {
    return err(usageError(`--at must be an ISO 8601 date-time such as 2025-01-16T21:21:54Z, not '${value.slice(0, 60)}'`, command));
  }
  const t = Date.parse(value);
  // Date.parse rolls impossible dates over (2025-02-30 → March 2): compare the calendar date back.
  const [y, mo, d] = value.slice(0, 10).split("-").map(Number);
  const local = value.endsWith("Z") ? new Date(t) : new Date(t + offsetMinutes(value) * 60_000);
  const sameDay = local.getUTCFullYear() === y && local.getUTCMonth() + 1 === mo && local.getUTCDate() === d;
  return Number.isNaN(t) || !sameDay ? err(usageError(`--at is not a valid date-time: '${value.slice(0, 60)}'`, command)) : ok(t);
}

function offsetMinutes(value: string): number {
  const m = /([+-])(\d\d):(\d\d)$/.exec(value);
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

export interface BindingFlags {
  /** `--report-data HEX`: the expected binding digest. */
  readonly reportData?: Uint8Array;
  /** `--init-data-digest HEX`: the expected init-data digest. */
  readonly initDataDigest?: Uint8Array;
}

/** `--report-data` and `--init-data-digest`: 1 to 64 bytes of hex each, else a usage error. */
export function parseBindingFlags(flags: { readonly "report-data"?: string; readonly "init-data-digest"?: string }, command: string): Result<BindingFlags, CliFailure> {
  const out: { reportData?: Uint8Array; initDataDigest?: Uint8Array } = {};
  for (const [flag, key] of [["report-data", "reportData"], ["init-data-digest", "initDataDigest"]] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    const bytes = /^([0-9a-fA-F]{2}){1,64}$/.test(value) ? fromHex(value) : undefined;
    if (!bytes) return err(usageError(`--${flag} must be 1 to 64 bytes of hex, not '${value.slice(0, 60)}'`, command));
    out[key] = bytes;
  }
  return ok(out);
}
