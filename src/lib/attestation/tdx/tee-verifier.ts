/**
 * Intel TDX behind the one verifier contract (../verifier.ts): guest-components' evidence JSON →
 * the quote → collateral for its platform from the CollateralProvider (FMSPC and PCK CA read from the
 * quote's PCK certificate) → `TdxVerifier` → the binding rule (../report-data.ts) → TeeClaims.
 *
 * The provider's files are parsed here, at the boundary (`parseTdxCollateral`): a parsed set's cache
 * marker would not survive a Durable Object RPC, and a set is only trusted once it verifies. The
 * warm verifier keeps the sets it parsed (and the platform each PCK chain names) by their exact
 * bytes, so a provider answering the same files again costs a byte comparison, not a parse; its
 * trust caches then hit as well.
 *
 * `platformId` is the PPID of the PCK certificate (per platform), not the FMSPC (per CPU family and
 * configuration). A provider that throws (a Durable Object RPC failure) propagates.
 */
import { ok, type Result } from "../../result";
import { checkBinding } from "../report-data";
import { checkVerifyInput, type AttestationFailure, type CollateralProvider, type TeeClaims, type TeeVerifier, type VerifyInput } from "../verifier";
import type { TdxClaims } from "./claims";
import { parseTdxEvidence } from "./evidence-json";
import { parseTdxQuote } from "./quote";
import { TdxVerifier } from "./verify";

export interface TdxTeeVerifierOptions {
  readonly collateral: CollateralProvider;
  /** A warm verifier (its caches are reused across calls); default: a new one. */
  readonly verifier?: TdxVerifier | undefined;
}

export class TdxTeeVerifier implements TeeVerifier<TdxClaims> {
  readonly #collateral: CollateralProvider;
  readonly #tdx: TdxVerifier;

  constructor(options: TdxTeeVerifierOptions) {
    this.#collateral = options.collateral;
    this.#tdx = options.verifier ?? new TdxVerifier();
  }

  async verify(input: VerifyInput): Promise<Result<TeeClaims<TdxClaims>, AttestationFailure>> {
    checkVerifyInput(input);
    const quote = parseTdxEvidence(input.evidence);
    if (!quote.ok) return quote;
    const parsed = parseTdxQuote(quote.value);
    if (!parsed.ok) return parsed;
    const platform = this.#tdx.platform(parsed.value.pckChainPem);
    if (!platform.ok) return platform;

    const got = await this.#collateral.tdxCollateral({ fmspc: platform.value.fmspc, ca: platform.value.ca });
    if (!got.ok) return { ok: false, error: { reason: got.error.reason, detail: got.error.detail } };
    const files = got.value.files;
    if (typeof files !== "object" || files === null) return { ok: false, error: { reason: "collateral_invalid", detail: "the provider's TDX collateral is not a set of files" } };
    const collateral = await this.#tdx.parseCollateral(files);
    if (!collateral.ok) return collateral;
    const verified = await this.#tdx.verify({ quote: quote.value, collateral: collateral.value, now: input.now });
    if (!verified.ok) return verified;

    const body = parsed.value.body;
    const binding = checkBinding("tdx", { reportData: body.reportData, initData: body.mrConfigId }, input);
    if (!binding.ok) return binding;
    const claims = verified.value;
    return ok({
      tee: "tdx",
      evidenceClaims: claims,
      reportData: claims.report_data,
      measurement: claims.mr_td,
      debug: claims.td_attributes.debug,
      platformId: platform.value.ppid,
      ...binding.value,
      tcbStatus: claims.tcb_status,
    });
  }
}
