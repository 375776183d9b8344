/**
 * Binding a verified VCEK/VLEK to a report: the report's signing key and product must be those of
 * the certificate, the report must be signed by its key, and (VCEK) the chip and TCB the key was
 * derived for must be the report's CHIP_ID and REPORTED_TCB. Pure functions; only the signature
 * check awaits WebCrypto.
 */
import { ok, type Result } from "../../result";
import type { EndorsementFacts } from "./endorsement-cert";
import { snpFail, type SnpFailure } from "./errors";
import { productFromCpuid, type SnpProduct } from "./product";
import type { SnpReport } from "./report";
import { decodeTcb, hasFmc, legacyReservedSpls } from "./tcb";

/** SIGNING_KEY must name the certificate's kind (a VLEK report needs a VLEK, and so on). */
export function checkSigner(report: SnpReport, e: Pick<EndorsementFacts, "kind">): Result<void, SnpFailure> {
  if (report.signingKey === "none") return snpFail("unsupported_signing_key", "SIGNING_KEY 7: the report is not signed");
  if (report.signingKey !== e.kind) {
    return snpFail("signer_mismatch", `the report says it is signed by a ${report.signingKey.toUpperCase()}, the certificate is a ${e.kind.toUpperCase()}`);
  }
  return ok(undefined);
}

/**
 * The product whose TCB layout and roots apply: from CPUID on v3+ reports, which must then agree
 * with the certificate; from the certificate on v2 reports (which carry no CPUID) and on reports
 * whose CPUID fields are all zero. The certificate's product is itself fixed by the pinned ASK/ASVK
 * that issued it.
 */
export function resolveProduct(report: SnpReport, e: Pick<EndorsementFacts, "product" | "productName">): Result<SnpProduct, SnpFailure> {
  const c = report.cpuid;
  if (!c || (c.family === 0 && c.model === 0 && c.stepping === 0)) return ok(e.product);
  const fromCpuid = productFromCpuid(c.family, c.model);
  const fms = `family 0x${c.family.toString(16)} model 0x${c.model.toString(16)}`;
  if (!fromCpuid) return snpFail("unsupported_product", `CPUID ${fms} is not Milan, Genoa or Turin`);
  if (fromCpuid !== e.product) return snpFail("product_mismatch", `the report is from a ${fromCpuid} CPU (${fms}), the certificate is for ${e.productName}`);
  return ok(fromCpuid);
}

/** ECDSA P-384 / SHA-384 over bytes [0, 0x2A0) with the VCEK/VLEK key. Never throws. */
export async function verifyReportSignature(report: SnpReport, key: CryptoKey): Promise<Result<void, SnpFailure>> {
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-384" },
      key,
      report.signature as Uint8Array<ArrayBuffer>,
      report.signedBytes as Uint8Array<ArrayBuffer>,
    );
  } catch {
    valid = false;
  }
  return valid ? ok(undefined) : snpFail("bad_report_signature", "the report's signature does not verify with the endorsement key");
}

/**
 * VCEK only: hwID must equal CHIP_ID (Turin: its first 8 bytes). Skipped when CHIP_ID is all zero
 * (MASK_CHIP_ID): then the signature alone binds the report to the chip's key.
 */
export function checkHwId(report: SnpReport, e: Pick<EndorsementFacts, "kind" | "hwId">): Result<void, SnpFailure> {
  if (e.kind !== "vcek" || !e.hwId) return ok(undefined);
  if (report.chipId.every((b) => b === 0)) return ok(undefined);
  const want = e.hwId;
  for (let i = 0; i < want.length; i++) {
    if (report.chipId[i] !== want[i]) return snpFail("hwid_mismatch", `the VCEK's hwID is not the report's CHIP_ID${want.length < 64 ? `[0:${want.length}]` : ""}`);
  }
  return ok(undefined);
}

/** The certificate's SPL extensions must equal REPORTED_TCB, read in the product's layout. */
export function checkTcb(report: SnpReport, e: Pick<EndorsementFacts, "tcb">, product: SnpProduct): Result<void, SnpFailure> {
  const reported = decodeTcb(report.reportedTcb, product);
  const cert = e.tcb;
  const pairs: [string, number | undefined, number | undefined][] = [
    ["bootloader", cert.bootloader, reported.bootloader],
    ["tee", cert.tee, reported.tee],
    ["snp", cert.snp, reported.snp],
    ["microcode", cert.microcode, reported.microcode],
  ];
  if (hasFmc(product)) {
    pairs.push(["fmc", cert.fmc, reported.fmc]);
  } else {
    const bytes = legacyReservedSpls(report.reportedTcb);
    cert.spl4to7.forEach((v, i) => {
      if (v !== undefined) pairs.push([`spl${i + 4}`, v, bytes[i]]);
    });
  }
  for (const [name, want, got] of pairs) {
    if (want !== got) return snpFail("tcb_mismatch", `REPORTED_TCB ${name} is ${got ?? "absent"}, the certificate was issued for ${want ?? "absent"} (${reported.raw})`);
  }
  return ok(undefined);
}
