/**
 * AMD Key Distribution Service (KDS) collateral (specs/sev-snp.md §3): VCEKs per chip and TCB, and the
 * ASK/ASVK CRLs per product. Builds requests for CollateralFetcher; reads the identity of an uploaded
 * VCEK so it lands under the same key a fetch would use.
 */
import { err, ok, type Result } from "../../result";
import { toHex } from "../../encoding";
import { commonName, parseCertificate, type ParsedCertificate } from "../../x509/cert-reader";
import { parseCrl } from "../../x509/crl-reader";
import { decodeSmallInteger, readSingle } from "../../x509/der-reader";
import { TAG } from "../../x509/der-writer";
import type { CollateralRequest } from "./fetcher";

export const DEFAULT_KDS_URL = "https://kdsintf.amd.com";

export type SnpProductLine = "Milan" | "Genoa" | "Turin";
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

const AMD_OID = "1.3.6.1.4.1.3704.1.";

export interface VcekIdentity {
  readonly product: SnpProductLine;
  readonly hwid: string;
  readonly tcb: KdsTcb;
  readonly notAfter: number;
}

function integerExtension(cert: ParsedCertificate, suffix: string): number | undefined {
  const ext = cert.extensions.get(AMD_OID + suffix);
  if (!ext) return undefined;
  const tlv = readSingle(ext.value, TAG.INTEGER, "SPL");
  if (!tlv.ok) return undefined;
  const n = decodeSmallInteger(tlv.value.reader.contents(tlv.value.tlv));
  return n.ok ? n.value : undefined;
}

/** Reads product, hwID and SPLs from a VCEK's AMD extensions (for uploads). */
export function vcekIdentity(der: Uint8Array): Result<VcekIdentity, string> {
  const cert = parseCertificate(der);
  if (!cert.ok) return err("not a DER X.509 certificate");
  const c = cert.value;
  if (commonName(c.subject) !== "SEV-VCEK") return err("not a VCEK (subject CN is not SEV-VCEK)");
  const name = c.extensions.get(`${AMD_OID}2`);
  const nameTlv = name ? readSingle(name.value, TAG.IA5_STRING, "productName") : undefined;
  const productName = nameTlv?.ok ? String.fromCharCode(...nameTlv.value.reader.contents(nameTlv.value.tlv)) : "";
  const product = (["Milan", "Genoa", "Turin"] as const).find((p) => productName === p || productName.startsWith(`${p}-`));
  if (!product) return err(`unknown productName '${productName.slice(0, 20)}'`);
  const hw = c.extensions.get(`${AMD_OID}4`)?.value;
  if (!hw || hw.length !== (product === "Turin" ? 8 : 64)) return err("missing or malformed hwID extension");
  const spl = (s: string) => integerExtension(c, `3.${s}`);
  const tcb = { bootloader: spl("1"), tee: spl("2"), snp: spl("3"), microcode: spl("8"), fmc: product === "Turin" ? spl("9") : undefined };
  if ([tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode].some((v) => v === undefined) || (product === "Turin" && tcb.fmc === undefined)) {
    return err("missing SPL extensions");
  }
  return ok({ product, hwid: toHex(hw), tcb: tcb as KdsTcb, notAfter: c.notAfter });
}
