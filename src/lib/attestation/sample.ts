/**
 * The sample TEE (development without hardware; Trustee `deps/verifier/src/sample/mod.rs`): evidence
 * `{"svn":"1","report_data":"<std base64 of the digest>"}` with no signature at all, so anyone can
 * make it. Only the permissive profile accepts it (`allowSample`); otherwise it is refused before it
 * is read (`sample_refused`). Claims are Trustee's fixed sample claims.
 */
import { toBase64 } from "../encoding";
import { ok, err, type Result } from "../result";
import { checkBinding } from "./report-data";
import { checkVerifyInput, decodeStdBase64, isJsonObject, malformedEvidence, type AttestationFailure, type TeeClaims, type TeeVerifier, type VerifyInput } from "./verifier";

export type SampleClaims = {
  readonly svn: string;
  /** As the evidence gave it (std base64). */
  readonly report_data: string;
  readonly launch_digest: "abcde";
  readonly platform_version: { readonly major: 1; readonly minor: 4 };
  readonly debug: false;
  /** Std base64 of the init-data digest, when one was expected (unchecked, as Trustee). */
  readonly init_data?: string;
};

/** Longest `svn` and `report_data` strings read (a digest is at most 64 bytes). */
const MAX_FIELD = 1024;

export class SampleVerifier implements TeeVerifier<SampleClaims> {
  readonly #allowed: boolean;

  constructor(options: { readonly allowSample: boolean }) {
    this.#allowed = options.allowSample;
  }

  async verify(input: VerifyInput): Promise<Result<TeeClaims<SampleClaims>, AttestationFailure>> {
    checkVerifyInput(input);
    if (!this.#allowed) return err({ reason: "sample_refused", detail: "sample evidence is accepted only in the permissive profile" });
    const e = input.evidence;
    if (!isJsonObject(e)) return malformedEvidence("sample evidence is a JSON object");
    const svn = e.svn;
    if (typeof svn !== "string" || svn.length > MAX_FIELD) return malformedEvidence("sample evidence: svn must be a string");
    // Trustee defaults a missing report_data to "" (which then binds nothing but an empty digest).
    const encoded = e.report_data === undefined ? "" : e.report_data;
    if (typeof encoded !== "string" || encoded.length > MAX_FIELD) return malformedEvidence("sample evidence: report_data must be a string");
    const reportData = decodeStdBase64(encoded);
    if (!reportData) return malformedEvidence("sample evidence: report_data is not standard base64");

    const binding = checkBinding("sample", { reportData }, input);
    if (!binding.ok) return binding;
    const digest = input.expectedInitDataDigest;
    const evidenceClaims: SampleClaims = {
      svn,
      report_data: encoded,
      launch_digest: "abcde",
      platform_version: { major: 1, minor: 4 },
      debug: false,
      ...(digest ? { init_data: toBase64(digest) } : {}),
    };
    return ok({
      tee: "sample",
      evidenceClaims,
      reportData: toBase64(reportData),
      measurement: evidenceClaims.launch_digest,
      debug: false,
      platformId: "sample",
      ...(binding.value.initDataDigest !== undefined ? { initDataDigest: binding.value.initDataDigest } : {}),
    });
  }
}
