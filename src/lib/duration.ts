/**
 * Durations in configuration (CA_TTL, SVID TTLs, refresh hints), in whole seconds.
 *
 * Accepted: the Go `time.ParseDuration` spelling that SPIRE configuration uses, restricted to whole
 * seconds, plus a day unit and bare integers:
 *
 * - `<int><unit>` components with units `d` (= 24h; not in Go), `h`, `m`, `s`, e.g. `90s`, `5m`, `1h30m`,
 *   `7d`. Each unit at most once, largest first (`30m1h` and `1h1h`, which Go accepts, are refused).
 * - A bare non-negative integer means seconds (`"300"`).
 *
 * Refused: signs (`-5m` is `not_positive`; `+5m` is `bad_format`), zero, fractions (`1.5h`), sub-second
 * or unknown units (`ms`, `w`, uppercase `H`), whitespace, and anything over 10 years.
 *
 * Reason codes (stable):
 *
 * | reason           | meaning                                                      |
 * |------------------|--------------------------------------------------------------|
 * | `empty`          | the input is the empty string                                |
 * | `bad_format`     | not `<int><unit>…` or a bare integer (garbage, whitespace, missing unit) |
 * | `fractional`     | a component has a fractional part (`1.5h`)                   |
 * | `bad_unit`       | a unit other than `d`, `h`, `m`, `s`                         |
 * | `bad_unit_order` | a unit repeated or out of order (`30m1h`, `1h1h`)            |
 * | `not_positive`   | zero or negative                                             |
 * | `too_long`       | more than 10 years (3650 days)                               |
 */
import { err, ok, type Result } from "./result";

export type DurationErrorReason =
  | "empty"
  | "bad_format"
  | "fractional"
  | "bad_unit"
  | "bad_unit_order"
  | "not_positive"
  | "too_long";

export interface DurationError {
  readonly reason: DurationErrorReason;
  readonly detail: string;
}

/** 10 × 365 days. Far above any sensible CA or SVID lifetime; keeps arithmetic exact. */
export const MAX_DURATION_SECONDS = 10 * 365 * 86_400;

/** Largest first; `rank` enforces ordering. */
const UNITS: Readonly<Record<string, { readonly seconds: number; readonly rank: number }>> = {
  d: { seconds: 86_400, rank: 4 },
  h: { seconds: 3_600, rank: 3 },
  m: { seconds: 60, rank: 2 },
  s: { seconds: 1, rank: 1 },
};

const fail = (reason: DurationErrorReason, detail: string): Result<never, DurationError> => err({ reason, detail });

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAsciiLetter = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);

const TOO_LONG_DETAIL = `the duration exceeds the maximum of ${MAX_DURATION_SECONDS / 86_400} days (10 years)`;

/** Parses a duration to whole seconds. Never throws on hostile input. */
export function parseDuration(s: string): Result<number, DurationError> {
  if (typeof s !== "string") throw new TypeError(`parseDuration: expected a string, got ${typeof s}`);
  if (s.length === 0) return fail("empty", "the duration is empty");

  let i = 0;
  let negative = false;
  if (s.charCodeAt(0) === 0x2d) {
    negative = true;
    i = 1;
  }

  let total = 0;
  let lastRank = Number.POSITIVE_INFINITY;
  let components = 0;
  while (i < s.length) {
    const numStart = i;
    let n = 0;
    let overflow = false;
    while (i < s.length && isDigit(s.charCodeAt(i))) {
      n = n * 10 + (s.charCodeAt(i) - 0x30);
      if (n > MAX_DURATION_SECONDS) overflow = true; // keep scanning, but stop trusting n
      i++;
    }
    if (i === numStart) {
      return fail("bad_format", `expected a number at offset ${i}; use e.g. '90s', '5m', '1h30m', '7d' or '300'`);
    }
    if (i < s.length && s.charCodeAt(i) === 0x2e) {
      return fail("fractional", "fractional durations are not allowed; use a smaller unit (e.g. '90m' for 1.5h)");
    }
    if (i === s.length) {
      // Digits with no unit: only valid as the whole input (plain seconds).
      if (components > 0) return fail("bad_format", `missing unit after the number at offset ${numStart}`);
      if (negative || n === 0) return fail("not_positive", "the duration must be positive");
      if (overflow || n > MAX_DURATION_SECONDS) return fail("too_long", TOO_LONG_DETAIL);
      return ok(n);
    }
    const unitStart = i;
    while (i < s.length && isAsciiLetter(s.charCodeAt(i))) i++;
    if (i === unitStart) {
      return fail("bad_format", `unexpected character at offset ${i}; use e.g. '90s', '5m', '1h30m', '7d' or '300'`);
    }
    const unitName = s.slice(unitStart, i);
    const unit = Object.hasOwn(UNITS, unitName) ? UNITS[unitName] : undefined;
    if (!unit) {
      const shown = unitName.length > 8 ? `${unitName.slice(0, 8)}…` : unitName;
      return fail("bad_unit", `unknown unit '${shown}'; allowed units are d, h, m, s`);
    }
    if (unit.rank >= lastRank) {
      return fail("bad_unit_order", `unit '${unitName}' is repeated or out of order; write units largest first, once each`);
    }
    lastRank = unit.rank;
    components++;
    if (!overflow) total += n * unit.seconds;
    if (overflow || total > MAX_DURATION_SECONDS) {
      // Sign before size: "-100000d" is not_positive, like "-5m".
      if (negative) return fail("not_positive", "the duration must be positive");
      return fail("too_long", TOO_LONG_DETAIL);
    }
  }
  if (components === 0) return fail("bad_format", "expected a number after '-'");
  if (negative || total === 0) return fail("not_positive", "the duration must be positive");
  return ok(total);
}

/**
 * Formats whole seconds as `1h30m`-style text, omitting zero components; `0` is `0s`. Uses only
 * `h`, `m`, `s` (no `d`), so the output also parses with Go's `time.ParseDuration` (SPIRE config).
 * Throws TypeError for anything that is not a non-negative safe integer (caller misuse).
 */
export function formatDuration(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new TypeError(`formatDuration: expected a non-negative integer number of seconds, got ${String(seconds)}`);
  }
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3_600);
  const m = Math.floor((seconds % 3_600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ""}${m > 0 ? `${m}m` : ""}${s > 0 ? `${s}s` : ""}`;
}
