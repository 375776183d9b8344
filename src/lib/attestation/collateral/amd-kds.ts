/**
 * AMD Key Distribution Service (KDS) collateral (specs/sev-snp.md §3): VCEKs per chip and TCB, and the
 * ASK/ASVK CRLs per product. Builds requests for CollateralFetcher; reads the identity of an uploaded
 * VCEK so it lands under the same key a fetch would use.
 */
import { err, ok, type Result } from "../../result";
import { toHex } from "../../encoding";
import { commonName, parseCertificate } from "../../x509/cert-reader";
import { parseCrl } from "../../x509/crl-reader";
import { readEndorsementFacts } from "../snp/endorsement-cert";
import type { SnpProduct } from "../snp/product";
import type { CollateralRequest } from "./fetcher";

export const DEFAULT_KDS_URL = "https://kdsintf.amd.com";

export type SnpProductLine = SnpProduct;
export type EndorsementSigner = "vcek" | "vlek";

/** TCB components a VCEK is issued for (REPORTED_TCB). `fmc` exists on Turin only. */
export interface KdsTcb {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  readonly fmc?: number | undefined;
}

/** The hwID path element: 64-byte CHIP_ID on Milan/Genoa, its first 8 bytes on Turin. */
export function kdsHardwareId(product: SnpProductLine, chipId: Uint8Array): string {
  return toHex(product === "Turin" ? chipId.subarray(0, 8) : chipId);
}

function tcbQuery(product: SnpProductLine, tcb: KdsTcb): string {
  const parts = product === "Turin" ? [`fmcSPL=${tcb.fmc ?? 0}`] : [];
  parts.push(`blSPL=${tcb.bootloader}`, `teeSPL=${tcb.tee}`, `snpSPL=${tcb.snp}`, `ucodeSPL=${tcb.microcode}`);
  return parts.join("&");
}

export function vcekKey(product: SnpProductLine, hwid: string, tcb: KdsTcb): string {
  return `snp/vcek/${product}/${hwid}/${tcbQuery(product, tcb)}`;
}

/** A VCEK: DER, CN SEV-VCEK; usable until its notAfter. */
export function vcekRequest(base: string, product: SnpProductLine, chipId: Uint8Array, tcb: KdsTcb): CollateralRequest {
  const hwid = kdsHardwareId(product, chipId);
  return {
    key: vcekKey(product, hwid, tcb),
    url: `${base}/vcek/v1/${product}/${hwid}?${tcbQuery(product, tcb)}`,
    expiry: (body) => {
      const cert = parseCertificate(body);
      if (!cert.ok) return err(cert.error.detail ?? cert.error.reason);
      if (commonName(cert.value.subject) !== "SEV-VCEK") return err("not a VCEK");
      return ok(cert.value.notAfter);
    },
  };
}

export function crlKey(product: SnpProductLine, signer: EndorsementSigner): string {
  return `snp/crl/${product}/${signer}`;
}

/** The CRL of the ASK (VCEK chain) or ASVK (VLEK chain); usable until its nextUpdate. */
export function crlRequest(base: string, product: SnpProductLine, signer: EndorsementSigner): CollateralRequest {
  return { key: crlKey(product, signer), url: `${base}/${signer}/v1/${product}/crl`, expiry: crlExpiry };
}

export function crlExpiry(body: Uint8Array): Result<number, string> {
  const crl = parseCrl(body);
  if (!crl.ok) return err(crl.error.detail ?? crl.error.reason);
  if (crl.value.nextUpdate === undefined) return err("the CRL has no nextUpdate");
  return ok(crl.value.nextUpdate);
}

export interface VcekIdentity {
  readonly product: SnpProductLine;
  readonly hwid: string;
  readonly tcb: KdsTcb;
  readonly notAfter: number;
}

/** Reads product, hwID and SPLs from a VCEK's AMD extensions (for uploads). */
export function vcekIdentity(der: Uint8Array): Result<VcekIdentity, string> {
  const cert = parseCertificate(der);
  if (!cert.ok) return err("not a DER X.509 certificate");
  const facts = readEndorsementFacts(cert.value);
  if (!facts.ok) return err(facts.error.detail);
  const f = facts.value;
  if (f.kind !== "vcek" || !f.hwId) return err("not a VCEK (a VLEK comes with the guest's evidence, not from KDS)");
  return ok({ product: f.product, hwid: toHex(f.hwId), tcb: { bootloader: f.tcb.bootloader, tee: f.tcb.tee, snp: f.tcb.snp, microcode: f.tcb.microcode, fmc: f.tcb.fmc }, notAfter: cert.value.notAfter });
}
