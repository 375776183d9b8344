/**
 * Selectors (`type:value`), as SPIRE's entry API checks them (specs/spiffe.md §2.4): the type is
 * non-empty and has no `:`, the value is non-empty (it may contain `:`, as in `unix:uid:1000` whose
 * type is `unix` and value `uid:1000`). Stricter than SPIRE: both are bounded in length and free of
 * control characters, so the canonical key below (`type:value` lines joined by `\n`) is unambiguous.
 *
 * A list is canonical when each selector is valid, duplicates are removed and the rest is sorted by
 * type, then value (SPIRE's `util.SortSelectors` order): two entries with the same selectors in any
 * order then have the same key, which is what the uniqueness of (spiffe_id, parent_id, selectors) needs.
 *
 * | reason               | meaning                                               |
 * |----------------------|-------------------------------------------------------|
 * | `no_colon`           | `parseSelector`: the text has no `:`                  |
 * | `empty_type`         | the type is empty                                     |
 * | `type_has_colon`     | the type contains `:`                                 |
 * | `type_too_long`      | the type is longer than 128 characters                |
 * | `empty_value`        | the value is empty                                    |
 * | `value_too_long`     | the value is longer than 1024 characters              |
 * | `control_character`  | a control character (C0, C1, U+2028/9) in either part |
 * | `no_selectors`       | a list with no selector (an entry needs at least one) |
 * | `too_many_selectors` | more than 32 selectors in one list                    |
 */
import { err, ok, type Result } from "../result";

export interface Selector {
  readonly type: string;
  readonly value: string;
}

export type SelectorErrorReason =
  | "no_colon"
  | "empty_type"
  | "type_has_colon"
  | "type_too_long"
  | "empty_value"
  | "value_too_long"
  | "control_character"
  | "no_selectors"
  | "too_many_selectors";

export interface SelectorError {
  readonly reason: SelectorErrorReason;
  readonly detail: string;
  /** The position of the offending selector in the input list, when there is one. */
  readonly index?: number;
}

export const MAX_SELECTOR_TYPE_LENGTH = 128;
export const MAX_SELECTOR_VALUE_LENGTH = 1024;
/** Per entry or filter; also keeps every statement under the Durable Object's 100 bound parameters. */
export const MAX_SELECTORS = 32;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

const fail = (reason: SelectorErrorReason, detail: string, index?: number): Result<never, SelectorError> =>
  err(index === undefined ? { reason, detail } : { reason, detail, index });

/** Checks one selector given as its two parts. */
export function checkSelector(s: Selector, index?: number): Result<Selector, SelectorError> {
  if (typeof s?.type !== "string" || typeof s.value !== "string") throw new TypeError("checkSelector: type and value must be strings");
  const at = index === undefined ? "" : ` (selector ${index})`;
  if (s.type === "") return fail("empty_type", `the selector type is empty${at}`, index);
  if (s.type.includes(":")) return fail("type_has_colon", `the selector type must not contain ':'${at}`, index);
  if (s.type.length > MAX_SELECTOR_TYPE_LENGTH) return fail("type_too_long", `the selector type is longer than ${MAX_SELECTOR_TYPE_LENGTH} characters${at}`, index);
  if (s.value === "") return fail("empty_value", `the selector value is empty${at}`, index);
  if (s.value.length > MAX_SELECTOR_VALUE_LENGTH) return fail("value_too_long", `the selector value is longer than ${MAX_SELECTOR_VALUE_LENGTH} characters${at}`, index);
  if (CONTROL.test(s.type) || CONTROL.test(s.value)) return fail("control_character", `the selector contains a control character${at}`, index);
  return ok({ type: s.type, value: s.value });
}

/** Parses `type:value` (split at the first `:`), as `--selector` and the list filter take it. */
export function parseSelector(text: string, index?: number): Result<Selector, SelectorError> {
  if (typeof text !== "string") throw new TypeError("parseSelector: expected a string");
  const colon = text.indexOf(":");
  if (colon === -1) return fail("no_colon", `a selector is written type:value${index === undefined ? "" : ` (selector ${index})`}`, index);
  return checkSelector({ type: text.slice(0, colon), value: text.slice(colon + 1) }, index);
}

export function compareSelectors(a: Selector, b: Selector): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return 0;
}

/** Validates a list, removes duplicates and sorts it canonically; 1 to 32 selectors. */
export function canonicalSelectors(list: readonly Selector[]): Result<Selector[], SelectorError> {
  if (list.length === 0) return fail("no_selectors", "at least one selector is required");
  const seen = new Map<string, Selector>();
  for (const [i, s] of list.entries()) {
    const checked = checkSelector(s, i);
    if (!checked.ok) return checked;
    seen.set(formatSelector(checked.value), checked.value);
  }
  if (seen.size > MAX_SELECTORS) return fail("too_many_selectors", `at most ${MAX_SELECTORS} distinct selectors are allowed, got ${seen.size}`);
  return ok([...seen.values()].sort(compareSelectors));
}

export function formatSelector(s: Selector): string {
  return `${s.type}:${s.value}`;
}

/** The canonical key of a canonical list: one `type:value` per line. */
export function selectorsKey(canonical: readonly Selector[]): string {
  return canonical.map(formatSelector).join("\n");
}

/** The list back from its key (the key is only ever made by `selectorsKey`). */
export function selectorsFromKey(key: string): Selector[] {
  if (key === "") return [];
  return key.split("\n").map((line) => {
    const colon = line.indexOf(":");
    return { type: line.slice(0, colon), value: line.slice(colon + 1) };
  });
}

/** A set of formatted selectors, for the subset checks below. */
export function selectorSet(list: readonly Selector[]): Set<string> {
  return new Set(list.map(formatSelector));
}

/** Whether every selector of `list` is in `set`. */
export function isSubsetOf(list: readonly Selector[], set: ReadonlySet<string>): boolean {
  for (const s of list) if (!set.has(formatSelector(s))) return false;
  return true;
}
