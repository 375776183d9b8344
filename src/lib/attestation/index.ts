/**
 * The attestation module's door: one verifier contract for every TEE (like Trustee's `to_verifier`
 * + `Verifier::evaluate`). `verifierFor(tee, options)` gives the verifier for `snp`, `tdx` or
 * `sample`, or undefined for a TEE it does not know; every verifier takes guest-components' evidence
 * JSON, the expected report data and init-data digest and a time (VerifyInput), and returns plain
 * TeeClaims or one stable failure code. The binding rule is report-data.ts's, for all of them.
 *
 * The key broker passes `collateralStore(env)` as the CollateralProvider; the CLI a file-backed
 * one. Pass `snp`/`tdx` verifiers to keep their caches warm; by default one process-wide verifier of
 * each kind is shared (their caches are keyed by content, so sharing is safe).
 */
import { SampleVerifier, type SampleClaims } from "./sample";
import { SnpTeeVerifier, SnpVerifier, type SnpClaims, type SnpFailureReason } from "./snp";
import { TdxTeeVerifier, TdxVerifier, type TdxClaims, type TdxFailureReason } from "./tdx";
import type { CollateralError } from "./collateral/fetcher";
import type { BindingFailureReason, CollateralProvider, TeeVerifier } from "./verifier";

export type { AttestationFailure, BindingFailureReason, CollateralProvider, TeeClaims, TeeType, TeeVerifier, VerifyInput } from "./verifier";
export { policyDenied } from "./verifier";
export { checkBinding, regularizeData, REPORT_DATA_SIZE, INIT_DATA_FIELD_SIZE } from "./report-data";
export { SampleVerifier, type SampleClaims } from "./sample";
export type { SnpClaims } from "./snp";
export type { TdxClaims } from "./tdx";

/** Every failure code `TeeVerifier.verify` can return. */
export type TeeFailureReason = BindingFailureReason | SnpFailureReason | TdxFailureReason | CollateralError["reason"];

export interface VerifierForOptions {
  readonly collateral: CollateralProvider;
  /** Accept the sample TEE (the permissive profile only); otherwise it is refused with `sample_refused`. */
  readonly allowSample: boolean;
  /** Warm verifiers reused across calls (default: one shared per process). */
  readonly snp?: SnpVerifier | undefined;
  readonly tdx?: TdxVerifier | undefined;
}

let sharedSnp: SnpVerifier | undefined;
let sharedTdx: TdxVerifier | undefined;

export function verifierFor(tee: "snp", options: VerifierForOptions): TeeVerifier<SnpClaims>;
export function verifierFor(tee: "tdx", options: VerifierForOptions): TeeVerifier<TdxClaims>;
export function verifierFor(tee: "sample", options: VerifierForOptions): TeeVerifier<SampleClaims>;
export function verifierFor(tee: string, options: VerifierForOptions): TeeVerifier | undefined;
export function verifierFor(tee: string, options: VerifierForOptions): TeeVerifier<SnpClaims> | TeeVerifier<TdxClaims> | TeeVerifier<SampleClaims> | undefined {
  switch (tee) {
    case "snp":
      return new SnpTeeVerifier({ collateral: options.collateral, verifier: options.snp ?? (sharedSnp ??= new SnpVerifier()) });
    case "tdx":
      return new TdxTeeVerifier({ collateral: options.collateral, verifier: options.tdx ?? (sharedTdx ??= new TdxVerifier()) });
    case "sample":
      return new SampleVerifier({ allowSample: options.allowSample });
    default:
      return undefined;
  }
}
