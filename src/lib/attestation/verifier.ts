/**
 * What every TEE verifier shares (like Trustee's `Verifier` trait): verification of evidence to a
 * vendor root at a given time yields claims or a specific failure; appraisal of those claims against
 * a policy given as data is a separate step. Both return values; neither throws on hostile input.
 */
import type { Result } from "../result";

/** A specific, stable failure code (snake_case), and a human sentence. Logged; never sent on the wire. */
export interface AttestationFailure {
  readonly reason: string;
  readonly detail: string;
}

/** Appraisal failures are `policy_denied:<rule>`. */
export function policyDenied(rule: string, detail: string): AttestationFailure {
  return { reason: `policy_denied:${rule}`, detail };
}

export type Verification<C> = Result<C, AttestationFailure>;
