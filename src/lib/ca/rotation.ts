/**
 * CA key rotation as SPIRE does it (pkg/server/ca/manager/slot.go, manager.go), as a pure planner:
 * given the authorities of each track and the time, say what to change and when to look again.
 *
 *   prepare   when now ≥ notAfter − min(lifetime/2, 30 d)   (new key published in bundle and JWKS at once)
 *   activate  when now ≥ notAfter − min(lifetime/6, 7 d)    (current → old, prepared → active)
 *   prune     an old authority min(24 h, lifetime) after it expired   (SVIDs never outlive their key)
 *
 * With the default 24 h CA lifetime: prepare at +12 h, activate at +20 h, so every key sits in the
 * bundle for at least 8 h before it signs anything, and SVIDs of the old key stay verifiable.
 *
 * Recovery is a state, not an accident: the planner converges from ANY stored state in one plan
 * (a CA left alone for days, several active rows, expired prepared rows, a clock that jumped). It
 * runs the step rules below on a simulated copy until nothing is left to do, then returns the net
 * changes, which the engine applies in one transaction; planning again afterwards yields nothing.
 * When the active key expired while nobody looked, its successor is created and used at once, as
 * SPIRE does ("prepare and activate" in one rotation): there was no earlier moment to publish it.
 */

/**
 * One track per key role: the X.509 CA, the JWT-SVID keys, and the key broker's attestation-token
 * (EAR) key, which is never published in the SPIFFE bundle or the OIDC JWKS.
 */
export type Track = "x509" | "jwt-es256" | "jwt-rs256" | "ear-es256";
export const TRACKS: readonly Track[] = ["x509", "jwt-es256", "jwt-rs256", "ear-es256"];

export type AuthorityStatus = "prepared" | "active" | "old";

export interface AuthoritySchedule {
  readonly id: string;
  readonly track: Track;
  readonly status: AuthorityStatus;
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface RotationSettings {
  /** Lifetime of a new authority, ms (CA_TTL). */
  readonly lifetimeMs: number;
}

export type RotationAction =
  /** Make a new authority with this status and validity. */
  | { readonly kind: "create"; readonly track: Track; readonly status: "active" | "prepared"; readonly notBefore: number; readonly notAfter: number }
  /** Change a stored authority's status (prepared → active, active → old). */
  | { readonly kind: "set_status"; readonly id: string; readonly status: AuthorityStatus }
  /** Remove an authority from storage and from the bundle. */
  | { readonly kind: "prune"; readonly id: string };

export const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/**
 * Old keys stay published this long after they expire (SPIRE safetyThresholdBundle), or for one
 * lifetime when that is shorter: no SVID outlives its key, so a short CA_TTL must not pile up expired
 * keys (with CA_TTL=1h, 24 h would mean ~25 CAs and ~50 JWT keys published, past AWS's 100-key JWKS limit).
 */
export const BUNDLE_SAFETY_MS = DAY_MS;

export function bundleRetentionMs(lifetimeMs: number): number {
  return Math.min(BUNDLE_SAFETY_MS, lifetimeMs);
}
/** New CA certificates and keys are backdated like SPIRE backdates (clock skew between peers). */
export const BACKDATE_MS = 10_000;
/** More simulated steps than any state needs (each track settles in at most ~6). */
const MAX_STEPS_PER_TRACK = 64;

export function prepareAt(a: Pick<AuthoritySchedule, "notBefore" | "notAfter">): number {
  const lifetime = a.notAfter - a.notBefore;
  return a.notAfter - Math.min(lifetime / 2, 30 * DAY_MS);
}

export function activateNextAt(a: Pick<AuthoritySchedule, "notBefore" | "notAfter">): number {
  const lifetime = a.notAfter - a.notBefore;
  return a.notAfter - Math.min(lifetime / 6, 7 * DAY_MS);
}

/** Validity of an authority made at `now`: whole seconds, backdated. */
export function newAuthorityWindow(now: number, lifetimeMs: number): { notBefore: number; notAfter: number } {
  return { notBefore: Math.floor((now - BACKDATE_MS) / 1000) * 1000, notAfter: Math.floor((now + lifetimeMs) / 1000) * 1000 };
}

export interface RotationPlan {
  /** Net changes: prunes and status changes first, then creations. Empty when nothing is due. */
  readonly actions: RotationAction[];
  /** When to plan again (the alarm); always in the future. Undefined only when no track is managed. */
  readonly nextCheckAt: number | undefined;
}

interface Slot {
  readonly id: string;
  readonly track: Track;
  status: AuthorityStatus;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly created: boolean;
  pruned: boolean;
}

type Step =
  | { readonly kind: "prune" | "demote" | "activate"; readonly slot: Slot }
  | { readonly kind: "create"; readonly status: "active" | "prepared" };

/** The authority to keep among several of one status: the one that lasts longest. */
function best(slots: readonly Slot[]): Slot {
  return slots.reduce((a, b) => (b.notAfter > a.notAfter || (b.notAfter === a.notAfter && (b.notBefore > a.notBefore || (b.notBefore === a.notBefore && b.id > a.id))) ? b : a));
}

/** One rule of SPIRE's rotation, for one track; undefined when the track is settled. */
function nextStep(slots: readonly Slot[], now: number): Step | undefined {
  const prepared = slots.filter((s) => s.status === "prepared");
  const active = slots.filter((s) => s.status === "active");

  const deadPrepared = prepared.find((s) => now >= s.notAfter);
  if (deadPrepared) return { kind: "prune", slot: deadPrepared };
  // An active key that has expired (or is not valid yet: the clock moved back) cannot sign.
  const unusable = active.find((s) => now >= s.notAfter || now < s.notBefore);
  if (unusable) return { kind: "demote", slot: unusable };
  if (active.length > 1) {
    const keep = best(active);
    return { kind: "demote", slot: active.find((s) => s !== keep)! };
  }
  if (prepared.length > 1) {
    const keep = best(prepared);
    return { kind: "prune", slot: prepared.find((s) => s !== keep)! };
  }
  const current = active[0];
  const next = prepared[0];
  if (!current) return next && now >= next.notBefore ? { kind: "activate", slot: next } : { kind: "create", status: "active" };
  if (!next) return now >= prepareAt(current) ? { kind: "create", status: "prepared" } : undefined;
  if (now >= activateNextAt(current) && now >= next.notBefore) return { kind: "activate", slot: next };
  return undefined;
}

/** When a settled track next needs a step. */
function wakeups(slots: readonly Slot[]): number[] {
  const current = slots.find((s) => s.status === "active");
  const next = slots.find((s) => s.status === "prepared");
  const times: number[] = [];
  if (current) times.push(current.notAfter, next ? Math.max(activateNextAt(current), next.notBefore) : prepareAt(current));
  if (next) times.push(next.notAfter);
  return times;
}

/** Plans every change due at `now`, for every track, so that the result is settled. */
export function planRotation(all: readonly AuthoritySchedule[], now: number, settings: RotationSettings, tracks: readonly Track[] = TRACKS): RotationPlan {
  const slots: Slot[] = all.map((a) => ({ ...a, created: false, pruned: false }));
  const window = newAuthorityWindow(now, settings.lifetimeMs);
  if (!(window.notAfter > now)) throw new TypeError("the authority lifetime must be at least a second");
  const times: number[] = [];

  for (const track of tracks) {
    const live = () => slots.filter((s) => s.track === track && !s.pruned);
    for (let step = 0; ; step++) {
      if (step === MAX_STEPS_PER_TRACK) throw new Error(`rotation of ${track} does not settle`);
      const change = nextStep(live(), now);
      if (!change) break;
      if (change.kind === "create") {
        slots.push({ id: `new:${slots.length}`, track, status: change.status, ...window, created: true, pruned: false });
      } else if (change.kind === "prune") {
        change.slot.pruned = true;
      } else if (change.kind === "demote") {
        change.slot.status = "old";
      } else {
        for (const s of live()) if (s.status === "active") s.status = "old";
        change.slot.status = "active";
      }
    }
    times.push(...wakeups(live()));
  }

  for (const s of slots) {
    if (s.pruned || s.status !== "old") continue;
    const pruneAt = s.notAfter + bundleRetentionMs(settings.lifetimeMs);
    if (now >= pruneAt) s.pruned = true;
    else times.push(pruneAt);
  }
  if (times.some((t) => t <= now)) throw new Error("rotation settled on a state that is already due");

  const original = new Map(all.map((a) => [a.id, a]));
  const changes: RotationAction[] = [];
  const creations: RotationAction[] = [];
  for (const s of slots) {
    if (s.created) {
      if (!s.pruned && s.status !== "old") creations.push({ kind: "create", track: s.track, status: s.status, notBefore: s.notBefore, notAfter: s.notAfter });
    } else if (s.pruned) changes.push({ kind: "prune", id: s.id });
    else if (s.status !== original.get(s.id)!.status) changes.push({ kind: "set_status", id: s.id, status: s.status });
  }
  return { actions: [...changes, ...creations], nextCheckAt: times.length > 0 ? Math.min(...times) : undefined };
}
