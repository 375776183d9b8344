/**
 * SEV-SNP behind the one verifier contract (../verifier.ts): guest-components' evidence JSON →
 * the rebuilt binary report (evidence-json.ts) → `SnpVerifier` (chain to the pinned roots, CRL,
 * signature, chip and TCB binding) → the binding rule (../report-data.ts) → TeeClaims.
 *
 * Where the endorsement key comes from:
 * - the evidence's `cert_chain` when it holds an entry of the report's signing key (`VCEK` for a
 *   VCEK-signed report, `VLEK` for a VLEK-signed one); its ASK/ARK entries are ignored (the roots are
 *   pinned). It is verified like any VCEK.
 * - else, for a VCEK, the CollateralProvider, asked for the report's CHIP_ID and REPORTED_TCB and the
 *   product its CPUID names (v3+). A version 2 report names no product: Milan is asked, then Genoa
 *   (Turin when its CHIP_ID is Turin-like). A VLEK, or a masked CHIP_ID, cannot be looked up (KDS
 *   serves VCEKs by chip): `missing_endorsement_key`.
 *
 * Revocation: when the provider has `snpCrl`, the CRL of the report's product and chain is asked
 * for and checked; a provider failure fails verification (fail closed; Trustee does not check SNP
 * CRLs at all). Without `snpCrl` (the CLI without `--crl`) there is no revocation check.
 *
 * Unlike Trustee, VMPL is not required to be 0 here: it is in the claims for the policy (`max_vmpl`).
 * A provider that throws (a Durable Object RPC failure) is an infrastructure failure and propagates.
 */
import { ok, type Result } from "../../result";
import { parseCertificate } from "../../x509/cert-reader";
import { checkBinding } from "../report-data";
import { checkVerifyInput, type AttestationFailure, type CollateralProvider, type TeeClaims, type TeeVerifier, type VerifyInput } from "../verifier";
import type { SnpClaims } from "./claims";
import { derOrPem } from "./der-or-pem";
import { readEndorsementFacts } from "./endorsement-cert";
import { snpFail } from "./errors";
import { parseSnpEvidence, type SnpCertChainEntry } from "./evidence-json";
import { productFromCpuid, type SnpProduct } from "./product";
import { parseSnpReport, type SnpReport } from "./report";
import { decodeTcb } from "./tcb";
import { SnpVerifier } from "./verify";

export interface SnpTeeVerifierOptions {
  readonly collateral: CollateralProvider;
  /** A warm verifier (its caches are reused across calls); default: a new one. */
  readonly verifier?: SnpVerifier | undefined;
}

type Fallible<T> = Promise<Result<T, AttestationFailure>>;

export class SnpTeeVerifier implements TeeVerifier<SnpClaims> {
  readonly #collateral: CollateralProvider;
  readonly #snp: SnpVerifier;

  constructor(options: SnpTeeVerifierOptions) {
    this.#collateral = options.collateral;
    this.#snp = options.verifier ?? new SnpVerifier();
  }

  async verify(input: VerifyInput): Fallible<TeeClaims<SnpClaims>> {
    checkVerifyInput(input);
    const evidence = parseSnpEvidence(input.evidence);
    if (!evidence.ok) return evidence;
    const parsed = parseSnpReport(evidence.value.report);
    if (!parsed.ok) return parsed;
    const report = parsed.value;
    if (report.signingKey === "none") return snpFail("unsupported_signing_key", "SIGNING_KEY 7: the report is not signed");

    const endorsementCert = await this.#endorsement(report, evidence.value.certChain);
    if (!endorsementCert.ok) return endorsementCert;
    const crl = await this.#crl(report, endorsementCert.value);
    if (!crl.ok) return crl;
    const verified = await this.#snp.verify({
      report: evidence.value.report,
      endorsementCert: endorsementCert.value,
      ...(crl.value ? { crl: crl.value, crlFor: report.signingKey } : {}),
      now: input.now,
    });
    if (!verified.ok) return verified;

    const binding = checkBinding("snp", { reportData: report.reportData, initData: report.hostData }, input);
    if (!binding.ok) return binding;
    const claims = verified.value;
    return ok({
      tee: "snp",
      evidenceClaims: claims,
      reportData: claims.report_data,
      measurement: claims.measurement,
      debug: claims.policy.debug,
      platformId: claims.chip_id,
      ...binding.value,
    });
  }

  async #endorsement(report: SnpReport, chain: readonly SnpCertChainEntry[] | null): Fallible<Uint8Array> {
    const signer = report.signingKey === "vlek" ? "VLEK" : "VCEK";
    const carried = chain?.find((e) => e.certType === signer);
    if (carried) return certificate(carried.data, `the evidence's ${signer}`);
    if (signer === "VLEK") return snpFail("missing_endorsement_key", "a VLEK-signed report must carry its VLEK in cert_chain (KDS serves VCEKs only)");
    if (report.chipId.every((b) => b === 0)) return snpFail("missing_endorsement_key", "CHIP_ID is masked, so the VCEK cannot be looked up: it must come in cert_chain");

    let first: AttestationFailure | undefined;
    for (const product of candidateProducts(report)) {
      const t = decodeTcb(report.reportedTcb, product);
      const tcb = { bootloader: t.bootloader, tee: t.tee, snp: t.snp, microcode: t.microcode, ...(t.fmc === undefined ? {} : { fmc: t.fmc }) };
      const got = await this.#collateral.snpVcek({ product, chipId: report.chipId.slice(), tcb });
      if (got.ok) return got.value.der instanceof Uint8Array ? certificate(got.value.der, "the provider's VCEK") : collateralInvalid("the provider's VCEK is not bytes");
      first ??= { reason: got.error.reason, detail: got.error.detail };
    }
    return { ok: false, error: first! };
  }

  /** The CRL for the report's product and chain, when the provider has CRLs; undefined otherwise. */
  async #crl(report: SnpReport, endorsementCert: Uint8Array): Fallible<Uint8Array | undefined> {
    if (!this.#collateral.snpCrl || report.signingKey === "none") return ok(undefined);
    const product = productOf(report, endorsementCert);
    if (!product.ok) return product;
    const got = await this.#collateral.snpCrl({ product: product.value, signer: report.signingKey });
    if (!got.ok) return { ok: false, error: { reason: got.error.reason, detail: got.error.detail } };
    if (!(got.value.der instanceof Uint8Array)) return collateralInvalid("the provider's CRL is not bytes");
    const der = derOrPem(got.value.der, "X509 CRL");
    return der ? ok(der) : snpFail("malformed_crl", "the CRL is PEM without a readable X509 CRL block");
  }
}

function certificate(bytes: Uint8Array, what: string): Result<Uint8Array, AttestationFailure> {
  const der = derOrPem(bytes, "CERTIFICATE");
  return der ? ok(der) : snpFail("malformed_endorsement_cert", `${what} is PEM without a readable CERTIFICATE block`);
}

function collateralInvalid(detail: string): { readonly ok: false; readonly error: AttestationFailure } {
  return { ok: false, error: { reason: "collateral_invalid", detail } };
}

/** sev's rule for the TCB layout of a v2 report (no CPUID): a Turin-like CHIP_ID has only 8 bytes. */
function candidateProducts(report: SnpReport): readonly SnpProduct[] {
  const c = report.cpuid;
  const fromCpuid = c ? productFromCpuid(c.family, c.model) : undefined;
  if (fromCpuid) return [fromCpuid];
  return report.chipId.subarray(8).every((b) => b === 0) ? ["Turin"] : ["Milan", "Genoa"];
}

/** The product whose CRL applies: from CPUID (v3+), else as the certificate names it (checked by the verifier). */
function productOf(report: SnpReport, der: Uint8Array): Result<SnpProduct, AttestationFailure> {
  const c = report.cpuid;
  const fromCpuid = c ? productFromCpuid(c.family, c.model) : undefined;
  if (fromCpuid) return ok(fromCpuid);
  const cert = parseCertificate(der.slice());
  if (!cert.ok) return snpFail("malformed_endorsement_cert", `the VCEK/VLEK does not parse: ${cert.error.detail ?? cert.error.reason}`);
  const facts = readEndorsementFacts(cert.value);
  return facts.ok ? ok(facts.value.product) : facts;
}
