import { describe, expect, it } from "vitest";
import {
  activateNextAt,
  bundleRetentionMs,
  planRotation,
  prepareAt,
  TRACKS,
  type AuthoritySchedule,
  type AuthorityStatus,
  type RotationAction,
  type Track,
} from "../../src/lib/ca/rotation";
import { prng } from "../support/prng";

const H = 3600_000;
const D = 24 * H;
const DAY_TTL = { lifetimeMs: D };
const a = (id: string, status: AuthoritySchedule["status"], notBefore: number, notAfter: number, track: AuthoritySchedule["track"] = "x509"): AuthoritySchedule => ({
  id,
  track,
  status,
  notBefore,
  notAfter,
});
/** A new authority made at `now` with a 24 h lifetime (backdated 10 s, whole seconds). */
const fresh = (track: Track, status: "active" | "prepared", now: number) => ({ kind: "create", track, status, notBefore: Math.floor((now - 10_000) / 1000) * 1000, notAfter: now + D });

/** Applies a plan the way the engine does (prunes and status changes, then creations). */
function apply(rows: readonly AuthoritySchedule[], actions: readonly RotationAction[]): AuthoritySchedule[] {
  let out = rows.map((r) => ({ ...r }));
  let n = 0;
  for (const action of actions) {
    if (action.kind === "prune") out = out.filter((r) => r.id !== action.id);
    else if (action.kind === "set_status") out = out.map((r) => (r.id === action.id ? { ...r, status: action.status } : r));
    else out.push({ id: `created-${n++}-${Math.random()}`, track: action.track, status: action.status, notBefore: action.notBefore, notAfter: action.notAfter });
  }
  return out;
}

describe("planRotation (SPIRE slot thresholds)", () => {
  it("creates an active authority for every track when there is none", () => {
    const plan = planRotation([], 0, DAY_TTL);
    expect(plan.actions).toEqual(TRACKS.map((t) => fresh(t, "active", 0)));
    // Half of the (backdated) lifetime.
    expect(plan.nextCheckAt).toBe(12 * H - 5_000);
  });

  it("thresholds: prepare at 1/2 of the lifetime, activate at 5/6; capped at 30 d / 7 d before expiry", () => {
    expect(prepareAt(a("x", "active", 0, D))).toBe(12 * H);
    expect(activateNextAt(a("x", "active", 0, D))).toBe(20 * H);
    expect(prepareAt(a("x", "active", 0, 365 * D))).toBe(335 * D);
    expect(activateNextAt(a("x", "active", 0, 365 * D))).toBe(358 * D);
  });

  it.each([
    ["before half-life: nothing, wake at half-life", [a("c", "active", 0, D)], 11 * H, [], 12 * H],
    ["at half-life: prepare", [a("c", "active", 0, D)], 12 * H, [fresh("x509", "prepared", 12 * H)], 20 * H],
    ["prepared, before 5/6: wake at 5/6", [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)], 13 * H, [], 20 * H],
    [
      "prepared, at 5/6: activate, the current one becomes old",
      [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)],
      20 * H,
      [{ kind: "set_status", id: "c", status: "old" }, { kind: "set_status", id: "n", status: "active" }],
      D,
    ],
    [
      "active expired, prepared usable: demote, activate, and prepare the next (the new one is past its half-life)",
      [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)],
      25 * H,
      [{ kind: "set_status", id: "c", status: "old" }, { kind: "set_status", id: "n", status: "active" }, fresh("x509", "prepared", 25 * H)],
      32 * H,
    ],
    [
      "past 5/6 with nothing prepared (the alarm did not run): prepare and activate at once",
      [a("c", "active", 0, D)],
      21 * H,
      [{ kind: "set_status", id: "c", status: "old" }, fresh("x509", "active", 21 * H)],
      33 * H - 5_000,
    ],
    [
      "active and prepared both expired: drop the prepared one, demote the active one, create a new active",
      [a("c", "active", 0, D), a("n", "prepared", 12 * H, 36 * H)],
      40 * H,
      [{ kind: "set_status", id: "c", status: "old" }, { kind: "prune", id: "n" }, fresh("x509", "active", 40 * H)],
      48 * H,
    ],
    ["old authority inside the 24 h grace: kept, wake at expiry + 24 h", [a("o", "old", 0, D), a("c", "active", 20 * H, 44 * H)], 30 * H, [], 32 * H],
    ["old authority past the grace: pruned", [a("o", "old", 0, D), a("c", "active", 40 * H, 64 * H)], 48 * H, [{ kind: "prune", id: "o" }], 52 * H],
    [
      "two active rows (the old bug's state): the longer-lived one stays",
      [a("c1", "active", 0, D), a("c2", "active", H, 25 * H)],
      2 * H,
      [{ kind: "set_status", id: "c1", status: "old" }],
      13 * H,
    ],
  ] as const)("%s", (_name, authorities, now, actions, next) => {
    const plan = planRotation(authorities, now, DAY_TTL, ["x509"]);
    expect(plan.actions).toEqual(actions);
    expect(plan.nextCheckAt).toBe(next);
  });

  it("tracks are independent", () => {
    const plan = planRotation([a("x", "active", 0, D, "x509"), a("j", "active", 0, 2 * D, "jwt-es256")], 12 * H, DAY_TTL, ["x509", "jwt-es256"]);
    expect(plan.actions).toEqual([fresh("x509", "prepared", 12 * H)]);
    expect(plan.nextCheckAt).toBe(20 * H);
  });

  it("a CA left alone 30 h past its lifetime: one new key per track, the expired ones old, nothing else", () => {
    // The state of issue 7: every authority 30 h in the past (active and prepared both expired).
    const now = 54 * H;
    const rows = TRACKS.flatMap((t) => [a(`${t}-a`, "active", 0, D, t), a(`${t}-p`, "prepared", 12 * H, 36 * H, t)]);
    const plan = planRotation(rows, now, DAY_TTL);
    expect(plan.actions.filter((x) => x.kind === "create")).toEqual(TRACKS.map((t) => fresh(t, "active", now)));
    const settled = apply(rows, plan.actions);
    // The old active rows expired 30 h ago (> 24 h grace): pruned; the never-used prepared ones too.
    expect(settled.filter((r) => !r.id.startsWith("created-"))).toEqual([]);
    expect(planRotation(settled, now, DAY_TTL).actions).toEqual([]);
  });
});

describe("planRotation converges from any stored state (property)", () => {
  const STATUSES: AuthorityStatus[] = ["prepared", "active", "old"];

  function randomState(rand: () => number, now: number): AuthoritySchedule[] {
    const rows: AuthoritySchedule[] = [];
    for (const track of TRACKS) {
      const count = Math.floor(rand() * 6);
      for (let i = 0; i < count; i++) {
        const lifetime = H + Math.floor(rand() * 10 * D);
        const notBefore = now - Math.floor(rand() * 20 * D) + Math.floor(rand() * 2 * D);
        rows.push({ id: `${track}-${i}`, track, status: STATUSES[Math.floor(rand() * 3)]!, notBefore, notAfter: notBefore + lifetime });
      }
    }
    return rows;
  }

  function assertSettled(before: readonly AuthoritySchedule[], plan: ReturnType<typeof planRotation>, now: number, lifetimeMs: number): AuthoritySchedule[] {
    const after = apply(before, plan.actions);
    for (const track of TRACKS) {
      const mine = after.filter((r) => r.track === track);
      const active = mine.filter((r) => r.status === "active");
      const prepared = mine.filter((r) => r.status === "prepared");
      // Exactly one active key, valid now; at most one prepared key, not expired.
      expect(active.length).toBe(1);
      expect(now >= active[0]!.notBefore && now < active[0]!.notAfter).toBe(true);
      expect(prepared.length).toBeLessThanOrEqual(1);
      for (const p of prepared) expect(now).toBeLessThan(p.notAfter);
      // At most one new key per track per pass (the old bug minted eight).
      expect(plan.actions.filter((x) => x.kind === "create" && x.track === track).length).toBeLessThanOrEqual(1);
    }
    for (const r of after) {
      // Old keys stay published until min(24 h, CA_TTL) after they expire, and not longer.
      if (r.status === "old") expect(now).toBeLessThan(r.notAfter + bundleRetentionMs(lifetimeMs));
    }
    const beforeIds = new Map(before.map((r) => [r.id, r]));
    for (const action of plan.actions) {
      if (action.kind !== "prune") continue;
      const pruned = beforeIds.get(action.id)!;
      // Only never-used prepared keys, expired prepared keys, or old keys past their grace are removed;
      // an active key is demoted (and kept while its SVIDs may be alive), never deleted inside the grace.
      if (pruned.status !== "prepared") expect(now).toBeGreaterThanOrEqual(pruned.notAfter + bundleRetentionMs(lifetimeMs));
    }
    // A second pass is a no-op, and the next look is in the future.
    const again = planRotation(after, now, { lifetimeMs });
    expect(again.actions).toEqual([]);
    expect(plan.nextCheckAt).toBeGreaterThan(now);
    expect(again.nextCheckAt).toBe(plan.nextCheckAt);
    return after;
  }

  it("after one plan, over 3,000 random states and forward clock jumps", () => {
    const rand = prng(7);
    let checked = 0;
    for (let i = 0; i < 600; i++) {
      const lifetimeMs = H + Math.floor(rand() * 30 * D);
      let now = 100 * D + Math.floor(rand() * D);
      let rows = randomState(rand, now);
      for (let jump = 0; jump < 5; jump++) {
        rows = assertSettled(rows, planRotation(rows, now, { lifetimeMs }), now, lifetimeMs);
        checked++;
        // Any forward jump: none, a minute, past a threshold, a week of dormancy.
        now += [0, 60_000, Math.floor(rand() * lifetimeMs), Math.floor(rand() * 7 * D)][Math.floor(rand() * 4)]!;
      }
    }
    expect(checked).toBe(3000);
  });
});

describe("bundle size at steady state", () => {
  it("for any CA_TTL ≥ 1 h, every track publishes fewer than 10 keys, and an old key stays min(24 h, CA_TTL) after expiry", () => {
    for (const lifetimeMs of [H, 2 * H, 3 * H, 6 * H, 12 * H, D, 3 * D, 30 * D, 90 * D]) {
      let now = 100 * D;
      let rows: AuthoritySchedule[] = apply([], planRotation([], now, { lifetimeMs }).actions);
      let most = 0;
      // Run the alarm schedule for 20 lifetimes (at least 10 days), planning at every wake-up.
      const end = now + Math.max(20 * lifetimeMs, 10 * D);
      while (now < end) {
        const plan = planRotation(rows, now, { lifetimeMs });
        rows = apply(rows, plan.actions);
        for (const track of TRACKS) most = Math.max(most, rows.filter((r) => r.track === track).length);
        for (const r of rows) if (r.status === "old") expect(now).toBeLessThan(r.notAfter + Math.min(D, lifetimeMs));
        now = plan.nextCheckAt!;
      }
      expect(most, `CA_TTL ${lifetimeMs / H} h`).toBeLessThan(10);
      expect(most, `CA_TTL ${lifetimeMs / H} h`).toBeGreaterThanOrEqual(2);
    }
  });
});
