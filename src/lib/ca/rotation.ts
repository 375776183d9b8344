/**
 * CA key rotation as SPIRE does it (pkg/server/ca/manager/slot.go, manager.go), as a pure planner:
 * given the authorities of each track and the time, say what to do and when to look again.
 *
 *   prepare   when now ≥ notAfter − min(lifetime/2, 30 d)   (new key published in bundle and JWKS at once)
 *   activate  when now ≥ notAfter − min(lifetime/6, 7 d)    (current → old, prepared → active)
 *   prune     an old authority 24 h after it expired        (SVIDs it signed are long gone by then)
 *
 * With the default 24 h CA lifetime: prepare at +12 h, activate at +20 h, so every key sits in the
 * bundle for at least 8 h before it signs anything, and SVIDs of the old key stay verifiable.
 */

export type Track = "x509" | "jwt-es256" | "jwt-rs256";
export const TRACKS: readonly Track[] = ["x509", "jwt-es256", "jwt-rs256"];

export type AuthorityStatus = "prepared" | "active" | "old";

export interface AuthoritySchedule {
  readonly id: string;
  readonly track: Track;
  readonly status: AuthorityStatus;
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export type RotationAction =
  /** No usable active authority and nothing prepared: make one and use it at once. */
  | { readonly kind: "create_active"; readonly track: Track }
  /** Make the next authority and publish it, without using it yet. */
  | { readonly kind: "prepare"; readonly track: Track }
  /** The prepared authority becomes active; the active one (if any) becomes old. */
  | { readonly kind: "activate"; readonly track: Track; readonly id: string }
  /** Remove an authority from storage and from the bundle. */
  | { readonly kind: "prune"; readonly id: string };

export const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Old keys stay published this long after they expire (SPIRE safetyThresholdBundle). */
export const BUNDLE_SAFETY_MS = DAY_MS;

export function prepareAt(a: AuthoritySchedule): number {
  const lifetime = a.notAfter - a.notBefore;
  return a.notAfter - Math.min(lifetime / 2, 30 * DAY_MS);
}

export function activateNextAt(a: AuthoritySchedule): number {
  const lifetime = a.notAfter - a.notBefore;
  return a.notAfter - Math.min(lifetime / 6, 7 * DAY_MS);
}

export interface RotationPlan {
  readonly actions: RotationAction[];
  /** When to run the planner again (the alarm), or undefined if nothing is scheduled. */
  readonly nextCheckAt: number | undefined;
}

/**
 * Plans one step for every track. Apply the actions, then plan again: a plan never depends on
 * actions of the same step (at most one action per track, plus prunes).
 */
export function planRotation(all: readonly AuthoritySchedule[], now: number, tracks: readonly Track[] = TRACKS): RotationPlan {
  const actions: RotationAction[] = [];
  const wakeups: number[] = [];

  for (const a of all) {
    if (a.status !== "old") continue;
    const pruneAt = a.notAfter + BUNDLE_SAFETY_MS;
    if (now >= pruneAt) actions.push({ kind: "prune", id: a.id });
    else wakeups.push(pruneAt);
  }

  for (const track of tracks) {
    const active = all.find((a) => a.track === track && a.status === "active");
    const prepared = all.find((a) => a.track === track && a.status === "prepared");
    const activeUsable = active !== undefined && now < active.notAfter;
    const preparedUsable = prepared !== undefined && now >= prepared.notBefore && now < prepared.notAfter;

    if (!activeUsable) {
      if (prepared && preparedUsable) actions.push({ kind: "activate", track, id: prepared.id });
      else {
        if (prepared) actions.push({ kind: "prune", id: prepared.id });
        actions.push({ kind: "create_active", track });
      }
      continue;
    }
    if (!prepared) {
      const at = prepareAt(active);
      if (now >= at) actions.push({ kind: "prepare", track });
      else wakeups.push(at);
      continue;
    }
    const at = activateNextAt(active);
    if (now >= at && preparedUsable) actions.push({ kind: "activate", track, id: prepared.id });
    else wakeups.push(now < at ? at : prepared.notBefore, active.notAfter);
  }

  const future = wakeups.filter((t) => t > now);
  return { actions, nextCheckAt: future.length > 0 ? Math.min(...future) : undefined };
}
