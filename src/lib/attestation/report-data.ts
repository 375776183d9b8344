/**
 * The single binding rule (Trustee's `regularize_data`, deps/verifier/src/lib.rs; specs/kbs-protocol.md
 * §3.2–3.3): what the evidence must carry for a given expected report data and init-data digest.
 *
 * - SNP and TDX REPORT_DATA (64 bytes) = the expected digest zero-padded, or truncated, to 64 bytes,
 *   byte exact (the guest writes a 48-byte SHA-384 digest followed by 16 zero bytes).
 * - Sample: the base64-decoded `report_data` equals the digest exactly (no padding).
 * - Init data: SNP HOST_DATA (32 bytes) = the digest padded/truncated to 32; TDX MRCONFIGID (48
 *   bytes) = the digest padded/truncated to 48. Sample carries no field and is not checked (as
 *   Trustee's sample verifier); the digest is reported as given.
 *
 * Every verifier calls `checkBinding` after the evidence verified, so the rule lives here only. The
 * data is public: the comparison is exact, not constant-time.
 */
import { toHex } from "../encoding";
import { err, ok, type Result } from "../result";
import { bytesEqual } from "../x509/der-reader";
import type { AttestationFailure, TeeType, VerifyInput } from "./verifier";

export const REPORT_DATA_SIZE = 64;
/** HOST_DATA (SNP) and MRCONFIGID (TDX) sizes. */
export const INIT_DATA_FIELD_SIZE = { snp: 32, tdx: 48 } as const;

/** `data` zero-padded or truncated to `size` bytes (a copy). */
export function regularizeData(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(data.subarray(0, size));
  return out;
}

/** The binding fields of verified evidence. */
export interface BindingFields {
  /** SNP/TDX: the 64-byte REPORT_DATA; sample: the decoded report data. */
  readonly reportData: Uint8Array;
  /** SNP HOST_DATA or TDX MRCONFIGID; absent for sample. */
  readonly initData?: Uint8Array;
}

export interface CheckedBinding {
  /** Hex of the init-data field that matched (sample: of the digest as given), when one was expected. */
  readonly initDataDigest?: string;
}

const fail = (reason: "report_data_mismatch" | "init_data_mismatch", detail: string) => err<AttestationFailure>({ reason, detail });

/** Checks the binding of verified evidence against the expected values. Never throws. */
export function checkBinding(tee: TeeType, fields: BindingFields, input: Pick<VerifyInput, "expectedReportData" | "expectedInitDataDigest">): Result<CheckedBinding, AttestationFailure> {
  const expected = tee === "sample" ? input.expectedReportData : regularizeData(input.expectedReportData, REPORT_DATA_SIZE);
  if (!bytesEqual(fields.reportData, expected)) {
    const rule = tee === "sample" ? "the expected digest exactly" : `the expected digest zero-padded to ${REPORT_DATA_SIZE} bytes`;
    return fail("report_data_mismatch", `${tee.toUpperCase()} REPORT_DATA is not ${rule}`);
  }
  const digest = input.expectedInitDataDigest;
  if (digest === undefined) return ok({});
  if (tee === "sample") return ok({ initDataDigest: toHex(digest) });
  const field = tee === "snp" ? "HOST_DATA" : "MRCONFIGID";
  const size = INIT_DATA_FIELD_SIZE[tee];
  if (!fields.initData || !bytesEqual(fields.initData, regularizeData(digest, size))) {
    return fail("init_data_mismatch", `${field} is not the init-data digest zero-padded to ${size} bytes`);
  }
  return ok({ initDataDigest: toHex(fields.initData) });
}
