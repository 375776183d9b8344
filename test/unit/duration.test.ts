import { describe, expect, it } from "vitest";
import { MAX_DURATION_SECONDS, formatDuration, parseDuration, type DurationErrorReason } from "../../src/lib/duration";

describe("parseDuration", () => {
  it.each<[string, number]>([
    ["90s", 90],
    ["1s", 1],
    ["5m", 300],
    ["1h", 3_600],
    ["1h30m", 5_400],
    ["24h", 86_400],
    ["7d", 604_800],
    ["1d12h", 129_600],
    ["1d2h3m4s", 93_784],
    ["1h0m", 3_600],
    ["0h5m", 300],
    ["05m", 300],
    ["300", 300],
    ["1", 1],
    ["0300", 300],
    ["3650d", MAX_DURATION_SECONDS],
    [String(MAX_DURATION_SECONDS), MAX_DURATION_SECONDS],
    ["87600h", MAX_DURATION_SECONDS],
  ])("parses %j as %d seconds", (input, seconds) => {
    expect(parseDuration(input)).toEqual({ ok: true, value: seconds });
  });

  it.each<[string, DurationErrorReason]>([
    ["", "empty"],
    // sign and zero
    ["0", "not_positive"],
    ["0s", "not_positive"],
    ["0h0m0s", "not_positive"],
    ["-5m", "not_positive"],
    ["-300", "not_positive"],
    ["-0", "not_positive"],
    ["-100000d", "not_positive"],
    ["+5m", "bad_format"],
    ["-", "bad_format"],
    // fractions
    ["1.5h", "fractional"],
    ["0.5s", "fractional"],
    ["1.", "fractional"],
    ["300.0", "fractional"],
    [".5h", "bad_format"],
    // units
    ["100ms", "bad_unit"],
    ["5us", "bad_unit"],
    ["2w", "bad_unit"],
    ["1y", "bad_unit"],
    ["5M", "bad_unit"],
    ["1H", "bad_unit"],
    ["1e3", "bad_unit"],
    ["5min", "bad_unit"],
    ["30m1h", "bad_unit_order"],
    ["1h1h", "bad_unit_order"],
    ["1s1m", "bad_unit_order"],
    // garbage and whitespace
    ["h", "bad_format"],
    ["abc", "bad_format"],
    ["1h30", "bad_format"],
    [" 5m", "bad_format"],
    ["5m ", "bad_format"],
    ["5 m", "bad_format"],
    ["5m\n", "bad_format"],
    ["1h 30m", "bad_format"],
    ["5µs", "bad_format"],
    ["٣s", "bad_format"],
    ["5m-1s", "bad_format"],
    ["0x10", "bad_unit"],
    ["1_000", "bad_format"],
    // overflow
    ["3651d", "too_long"],
    [String(MAX_DURATION_SECONDS + 1), "too_long"],
    ["3650d1s", "too_long"],
    ["99999999999999999999999999s", "too_long"],
    ["9".repeat(400), "too_long"],
    ["9007199254740993", "too_long"],
  ])("rejects %j (%s)", (input, reason) => {
    const r = parseDuration(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.reason).toBe(reason);
      expect(r.error.detail).toMatch(/\S/);
    }
  });

  it("throws TypeError on a non-string (caller misuse)", () => {
    expect(() => parseDuration(300 as unknown as string)).toThrow(TypeError);
  });

  it("20,000 random strings never throw; accepted values are positive integers within the cap", () => {
    let seed = 0xd0;
    const next = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 4294967296;
    };
    const alphabet = [..."0123456789dhmsxMH.-+ µ", "é", "😀", "\u0000", "99999"];
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const len = Math.floor(next() * 12);
      let s = "";
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(next() * alphabet.length)]!;
      const r = parseDuration(s);
      if (r.ok) {
        accepted++;
        expect(Number.isSafeInteger(r.value)).toBe(true);
        expect(r.value).toBeGreaterThan(0);
        expect(r.value).toBeLessThanOrEqual(MAX_DURATION_SECONDS);
        expect(parseDuration(formatDuration(r.value))).toEqual({ ok: true, value: r.value });
      } else {
        expect(r.error.detail.length).toBeGreaterThan(0);
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });
});

describe("formatDuration", () => {
  it.each<[number, string]>([
    [0, "0s"],
    [1, "1s"],
    [59, "59s"],
    [60, "1m"],
    [90, "1m30s"],
    [300, "5m"],
    [3_600, "1h"],
    [3_601, "1h1s"],
    [5_400, "1h30m"],
    [86_400, "24h"],
    [604_800, "168h"],
    [93_784, "26h3m4s"],
  ])("formats %d as %j", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it.each([[1], [59], [90], [5_400], [86_400], [93_784], [MAX_DURATION_SECONDS]])("round-trips %d", (seconds) => {
    expect(parseDuration(formatDuration(seconds))).toEqual({ ok: true, value: seconds });
  });

  it.each([[-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY]])("throws TypeError for %d", (v) => {
    expect(() => formatDuration(v)).toThrow(TypeError);
  });
});
