import { describe, expect, it } from "vitest";
import { activateNextAt, planRotation, prepareAt, type AuthoritySchedule } from "../../src/lib/ca/rotation";

const H = 3600_000;
const D = 24 * H;
const a = (id: string, status: AuthoritySchedule["status"], notBefore: number, notAfter: number, track: AuthoritySchedule["track"] = "x509"): AuthoritySchedule => ({
  id,
  track,
  status,
  notBefore,
  notAfter,
});

describe("planRotation (SPIRE slot thresholds)", () => {
  it("creates an active authority for every track when there is none", () => {
    const plan = planRotation([], 0);
    expect(plan.actions).toEqual([
      { kind: "create_active", track: "x509" },
      { kind: "create_active", track: "jwt-es256" },
      { kind: "create_active", track: "jwt-rs256" },
    ]);
  });

  it("thresholds: prepare at 1/2 of the lifetime, activate at 5/6; capped at 30 d / 7 d before expiry", () => {
    expect(prepareAt(a("x", "active", 0, D))).toBe(12 * H);
    expect(activateNextAt(a("x", "active", 0, D))).toBe(20 * H);
    expect(prepareAt(a("x", "active", 0, 365 * D))).toBe(335 * D);
    expect(activateNextAt(a("x", "active", 0, 365 * D))).toBe(358 * D);
  });

  it.each([
    ["before half-life: nothing, wake at half-life", [a("c", "active", 0, D)], 11 * H, [], 12 * H],
    ["at half-life: prepare", [a("c", "active", 0, D)], 12 * H, [{ kind: "prepare", track: "x509" }], undefined],
    ["prepared, before 5/6: wake at 5/6", [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)], 13 * H, [], 20 * H],
    ["prepared, at 5/6: activate", [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)], 20 * H, [{ kind: "activate", track: "x509", id: "n" }], undefined],
    ["active expired, prepared usable: activate", [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)], 25 * H, [{ kind: "activate", track: "x509", id: "n" }], undefined],
    [
      "active and prepared both expired: drop the prepared one, create a new active",
      [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)],
      40 * H,
      [{ kind: "prune", id: "n" }, { kind: "create_active", track: "x509" }],
      undefined,
    ],
    ["old authority inside the 24 h grace: kept, wake at expiry + 24 h", [a("o", "old", 0, D), a("c", "active", 20 * H, 44 * H)], 30 * H, [], 32 * H],
    ["old authority past the grace: pruned", [a("o", "old", 0, D), a("c", "active", 40 * H, 64 * H)], 48 * H, [{ kind: "prune", id: "o" }], 52 * H],
  ] as const)("%s", (_name, authorities, now, actions, next) => {
    const plan = planRotation(authorities, now, ["x509"]);
    expect(plan.actions).toEqual(actions);
    if (next !== undefined) expect(plan.nextCheckAt).toBe(next);
  });

  it("tracks are independent", () => {
    const plan = planRotation([a("x", "active", 0, D, "x509"), a("j", "active", 0, 2 * D, "jwt-es256")], 12 * H, ["x509", "jwt-es256"]);
    expect(plan.actions).toEqual([{ kind: "prepare", track: "x509" }]);
    expect(plan.nextCheckAt).toBe(D);
  });
});
