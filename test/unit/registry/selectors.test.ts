import { describe, expect, it } from "vitest";
import {
  canonicalSelectors,
  checkSelector,
  isSubsetOf,
  MAX_SELECTORS,
  parseSelector,
  selectorSet,
  selectorsFromKey,
  selectorsKey,
  type SelectorErrorReason,
} from "../../../src/lib/registry/selectors";

describe("parseSelector", () => {
  it.each([
    ["unix:uid:1000", { type: "unix", value: "uid:1000" }],
    ["k8s:ns:prod", { type: "k8s", value: "ns:prod" }],
    ["tee:type:snp", { type: "tee", value: "type:snp" }],
    ["a:b", { type: "a", value: "b" }],
    ["x:" + "v".repeat(1024), { type: "x", value: "v".repeat(1024) }],
  ])("%j is accepted (split at the first ':')", (text, expected) => {
    expect(parseSelector(text)).toEqual({ ok: true, value: expected });
  });

  it.each<[string, SelectorErrorReason]>([
    ["unix", "no_colon"],
    ["", "no_colon"],
    [":uid:1000", "empty_type"],
    ["unix:", "empty_value"],
    ["t".repeat(129) + ":v", "type_too_long"],
    ["x:" + "v".repeat(1025), "value_too_long"],
    ["un\u0000ix:v", "control_character"],
    ["unix:uid\n1000", "control_character"],
    ["unix:a\u2028b", "control_character"],
    ["unix:a\u009bb", "control_character"],
    ["\t:v", "control_character"],
  ])("%j is refused (%s)", (text, reason) => {
    const r = parseSelector(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe(reason);
  });

  it("checkSelector refuses a ':' in the type (only parseSelector can split it)", () => {
    expect(checkSelector({ type: "a:b", value: "c" })).toMatchObject({ ok: false, error: { reason: "type_has_colon" } });
  });
});

describe("canonicalSelectors", () => {
  it("removes duplicates and sorts by type, then value", () => {
    const r = canonicalSelectors([
      { type: "unix", value: "uid:1000" },
      { type: "k8s", value: "ns:prod" },
      { type: "unix", value: "gid:0" },
      { type: "unix", value: "uid:1000" },
    ]);
    expect(r).toEqual({ ok: true, value: [{ type: "k8s", value: "ns:prod" }, { type: "unix", value: "gid:0" }, { type: "unix", value: "uid:1000" }] });
  });

  it("the same set in any order has the same key, and the key round-trips", () => {
    const a = canonicalSelectors([{ type: "b", value: "2:x" }, { type: "a", value: "1" }]);
    const b = canonicalSelectors([{ type: "a", value: "1" }, { type: "b", value: "2:x" }, { type: "a", value: "1" }]);
    if (!a.ok || !b.ok) throw new Error("expected ok");
    expect(selectorsKey(a.value)).toBe(selectorsKey(b.value));
    expect(selectorsKey(a.value)).toBe("a:1\nb:2:x");
    expect(selectorsFromKey(selectorsKey(a.value))).toEqual(a.value);
    expect(selectorsFromKey("")).toEqual([]);
  });

  it.each<[string, { type: string; value: string }[], SelectorErrorReason]>([
    ["an empty list", [], "no_selectors"],
    ["too many", Array.from({ length: MAX_SELECTORS + 1 }, (_, i) => ({ type: "t", value: `v${i}` })), "too_many_selectors"],
    ["one bad selector among good ones", [{ type: "a", value: "1" }, { type: "", value: "2" }], "empty_type"],
    ["a colon in a type", [{ type: "a:b", value: "1" }], "type_has_colon"],
    ["an empty value", [{ type: "a", value: "" }], "empty_value"],
  ])("refuses %s", (_name, list, reason) => {
    const r = canonicalSelectors(list);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe(reason);
  });

  it("exactly the maximum, counted after removing repeats, is accepted", () => {
    const list = Array.from({ length: MAX_SELECTORS }, (_, i) => ({ type: "t", value: `v${i}` }));
    expect(canonicalSelectors([...list, ...list]).ok).toBe(true);
  });

  it("isSubsetOf", () => {
    const set = selectorSet([{ type: "a", value: "1" }, { type: "b", value: "2" }]);
    expect(isSubsetOf([{ type: "a", value: "1" }], set)).toBe(true);
    expect(isSubsetOf([], set)).toBe(true);
    expect(isSubsetOf([{ type: "a", value: "1" }, { type: "c", value: "3" }], set)).toBe(false);
    expect(isSubsetOf([{ type: "a", value: "2" }], set)).toBe(false);
  });
});
