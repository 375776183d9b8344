/**
 * What every TEE verifier shares (like Trustee's `Verifier::evaluate(evidence, expected_report_data,
 * expected_init_data_hash)`): evidence, the expected binding and a time → normalised claims, or one
 * stable failure code. Appraisal of those claims against a policy is a separate step. Nothing here
 * throws on hostile input; a caller's misuse (a non-finite `now`, no expected report data) is a
 * TypeError.
 *
 * Everything in and out is plain data (no class instances, no WeakSet markers), so inputs and
 * results survive structured clone across a Durable Object RPC boundary.
 */
import type { EndorsementSigner, KdsTcb, SnpProductLine } from "./collateral/amd-kds";
import type { CollateralError } from "./collateral/fetcher";
import type { PckCa } from "./collateral/intel-pcs";
import { fromBase64 } from "../encoding";
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

export type TeeType = "snp" | "tdx" | "sample";

/**
 * The contract's own failure codes, beside each verifier's (SnpFailureReason, TdxFailureReason) and
 * the collateral provider's (`collateral_unavailable`, `collateral_invalid`, passed through).
 */
export type BindingFailureReason = "report_data_mismatch" | "init_data_mismatch" | "malformed_evidence" | "sample_refused";

/**
 * Where vendor collateral comes from: structurally the CollateralStore Durable Object's stub
 * (`collateralStore(env)` can be passed as is), or a file-backed one in the CLI. Only plain data in
 * and out; whatever is returned is verified again by the verifier, so a provider is not trusted.
 */
export interface CollateralProvider {
  /** The VCEK (DER; PEM tolerated) for a chip at a REPORTED_TCB. */
  snpVcek(input: { readonly product: SnpProductLine; readonly chipId: Uint8Array; readonly tcb: KdsTcb }): Promise<Result<{ readonly der: Uint8Array }, CollateralError>>;
  /**
   * AMD's CRL for a product and chain (DER; PEM tolerated). Optional: a provider without it (the CLI
   * without `--crl`) means no revocation check. When present, a failure fails verification.
   */
  snpCrl?(input: { readonly product: SnpProductLine; readonly signer: EndorsementSigner }): Promise<Result<{ readonly der: Uint8Array }, CollateralError>>;
  /** The TDX collateral directory (file name → bytes, the names of TDX_COLLATERAL_FILES) for a platform. */
  tdxCollateral(input: { readonly fmspc: string; readonly ca: PckCa }): Promise<Result<{ readonly files: Readonly<Record<string, Uint8Array>> }, CollateralError>>;
}

export interface VerifyInput {
  /** The parsed JSON `primary_evidence` exactly as guest-components sends it (specs/kbs-protocol.md §3.4). */
  readonly evidence: unknown;
  /** The binding digest (KBS: the hash of the JCS runtime data); the rule is report-data.ts's. Not empty. */
  readonly expectedReportData: Uint8Array;
  /** The init-data digest, when the client sent init data; compared with HOST_DATA (SNP) or MRCONFIGID (TDX). */
  readonly expectedInitDataDigest?: Uint8Array | undefined;
  /** Verification time, milliseconds since the epoch. */
  readonly now: number;
}

/** Normalised claims of verified evidence: plain JSON-safe data. */
export interface TeeClaims<C extends Record<string, unknown> = Record<string, unknown>> {
  readonly tee: TeeType;
  /**
   * The verifier's own stable claims (SnpClaims, TdxClaims; for sample Trustee's sample claims): what
   * an EAR token carries under `annotated-evidence[tee]`.
   */
  readonly evidenceClaims: C;
  /** The whole REPORT_DATA field as hex (snp, tdx); std base64 of the decoded report data (sample). */
  readonly reportData: string;
  /** Hex: SNP MEASUREMENT, TDX MR_TD; sample: its launch_digest. */
  readonly measurement: string;
  /** SNP POLICY.DEBUG, TDX TDATTRIBUTES.DEBUG; sample: false. */
  readonly debug: boolean;
  /**
   * Which machine: SNP hex CHIP_ID (all zeros when MASK_CHIP_ID is set); TDX hex of the PPID in the
   * quote's (verified) PCK certificate; sample: "sample".
   */
  readonly platformId: string;
  /**
   * Hex of the HOST_DATA (SNP) or MRCONFIGID (TDX) field that matched, when an expected digest was
   * given. Sample has no such field: there it is the given digest, unchecked (as Trustee's sample).
   */
  readonly initDataDigest?: string;
  /** TDX only: the TCB status of the platform's level (UpToDate, OutOfDate, …). */
  readonly tcbStatus?: string;
}

export interface TeeVerifier<C extends Record<string, unknown> = Record<string, unknown>> {
  /** Never throws on hostile evidence or provider answers; see VerifyInput for what is misuse. */
  verify(input: VerifyInput): Promise<Result<TeeClaims<C>, AttestationFailure>>;
}

/** Misuse checks every verifier runs first (TypeError: a bug in the caller, not hostile input). */
export function checkVerifyInput(input: VerifyInput): void {
  if (typeof input.now !== "number" || !Number.isFinite(input.now)) throw new TypeError("now must be a finite number of milliseconds");
  if (!(input.expectedReportData instanceof Uint8Array) || input.expectedReportData.length === 0) {
    throw new TypeError("expectedReportData must be a non-empty Uint8Array: an empty digest binds nothing");
  }
  if (input.expectedInitDataDigest !== undefined && !(input.expectedInitDataDigest instanceof Uint8Array)) {
    throw new TypeError("expectedInitDataDigest must be a Uint8Array when given");
  }
}

// Reading untrusted evidence JSON (all three verifiers).

export function isJsonObject(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function malformedEvidence(detail: string): { readonly ok: false; readonly error: AttestationFailure } {
  return { ok: false, error: { reason: "malformed_evidence", detail } };
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

type NativeFromBase64 = (s: string, options: { alphabet: "base64"; lastChunkHandling: "loose" }) => Uint8Array;
/** `Uint8Array.fromBase64` (workerd has it; Node 20 does not). */
const nativeFromBase64 = (Uint8Array as unknown as { fromBase64?: NativeFromBase64 }).fromBase64;

/**
 * Standard base64 with padding (Rust's `STANDARD` engine, which Trustee decodes with), or undefined.
 * A TDX quote is ~10,000 characters, decoded on every attestation: where the runtime has
 * `Uint8Array.fromBase64` it decodes natively (the pattern test alone costs more than a P-256
 * verify in workerd). Same answers either way: the native decoder refuses any character outside
 * the standard alphabet and padding that does not end the text; it skips ASCII whitespace and
 * accepts a missing padding, which the length checks refuse (whitespace always makes the result
 * shorter than a text of that length and padding decodes to); "loose" ignores non-zero bits in
 * the last character, as `fromBase64` does.
 */
export function decodeStdBase64(s: string): Uint8Array | undefined {
  if (nativeFromBase64 === undefined) return STD_BASE64.test(s) ? fromBase64(s) : undefined;
  if (s.length % 4 !== 0) return undefined;
  let pad = 0;
  while (pad < 3 && pad < s.length && s.charCodeAt(s.length - 1 - pad) === 61 /* = */) pad++;
  if (pad > 2) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = nativeFromBase64(s, { alphabet: "base64", lastChunkHandling: "loose" });
  } catch {
    return undefined;
  }
  return bytes.length === (s.length / 4) * 3 - pad ? bytes : undefined;
}
