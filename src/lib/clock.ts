/** Verification and issuance time is always injected, so tests run at a fixed clock. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to (tests, simulations). */
export class ManualClock implements Clock {
  #ms: number;
  constructor(start: number | Date) {
    this.#ms = typeof start === "number" ? start : start.getTime();
  }
  now(): number {
    return this.#ms;
  }
  set(ms: number | Date): void {
    this.#ms = typeof ms === "number" ? ms : ms.getTime();
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}
