import { describe, expect, it } from "vitest";
import { parseAt } from "../../../src/cli/commands/verify-output";

describe("--at", () => {
  it.each([
    ["2025-01-16T21:21:54Z", Date.UTC(2025, 0, 16, 21, 21, 54)],
    ["2025-01-16T21:21Z", Date.UTC(2025, 0, 16, 21, 21)],
    ["2025-01-16T23:30:00+02:00", Date.UTC(2025, 0, 16, 21, 30)],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
  ])("accepts %s", (value, expected) => {
    expect(parseAt(value, () => 0, "verify snp")).toEqual({ ok: true, value: expected });
  });

  it.each(["2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z", "2025-01-16", "yesterday", "2025-01-16T25:00:00Z"])("refuses %s as a usage error", (value) => {
    expect(parseAt(value, () => 0, "verify snp")).toMatchObject({ ok: false, error: { reason: "usage" } });
  });

  it("defaults to now", () => {
    expect(parseAt(undefined, () => 42, "verify snp")).toEqual({ ok: true, value: 42 });
  });
});
