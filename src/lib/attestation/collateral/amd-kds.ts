/**
 * AMD Key Distribution Service (KDS) collateral (specs/sev-snp.md §3): VCEKs per chip and TCB, and the
 * ASK/ASVK CRLs per product. Builds requests for CollateralFetcher, whose verifiers (signatures to
 * the pinned AMD roots, then the key of what the item is for) judge fetched and uploaded items alike.
 */
import { err, ok, type Result } from "../../result";
import { toHex } from "../../encoding";
import { verifyEndorsementChain } from "../snp/chain";
import { verifyAmdCrl } from "../snp/crl";
import type { EndorsementKind } from "../snp/endorsement-cert";
import type { SnpProduct } from "../snp/product";
import { pinnedRoots } from "../snp/roots";
import { hasFmc } from "../snp/tcb";
import type { CollateralRequest, VerifiedCollateral } from "./fetcher";

export const DEFAULT_KDS_URL = "https://kdsintf.amd.com";

export type SnpProductLine = SnpProduct;
export type EndorsementSigner = EndorsementKind;

/** AMD refreshes its CRLs rarely but a revocation must not wait for nextUpdate (about a year). */
export const CRL_MAX_AGE_MS = 24 * 60 * 60 * 1000;

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
  if (hasFmc(product) !== (tcb.fmc !== undefined)) throw new TypeError(`fmc is ${hasFmc(product) ? "required" : "not defined"} for ${product}`);
  const parts = hasFmc(product) ? [`fmcSPL=${tcb.fmc}`] : [];
  parts.push(`blSPL=${tcb.bootloader}`, `teeSPL=${tcb.tee}`, `snpSPL=${tcb.snp}`, `ucodeSPL=${tcb.microcode}`);
  return parts.join("&");
}

export function vcekKey(product: SnpProductLine, hwid: string, tcb: KdsTcb): string {
  return `snp/vcek/${product}/${hwid}/${tcbQuery(product, tcb)}`;
}

/**
 * A VCEK: stored only if it chains to the pinned AMD roots and is the one asked for (same product,
 * chip and TCB), so a bad answer can never displace a good certificate; usable until its notAfter.
 */
export function vcekRequest(base: string, product: SnpProductLine, chipId: Uint8Array, tcb: KdsTcb): CollateralRequest {
  const hwid = kdsHardwareId(product, chipId);
  return { key: vcekKey(product, hwid, tcb), url: `${base}/vcek/v1/${product}/${hwid}?${tcbQuery(product, tcb)}`, verify: verifiedVcek };
}

/** A VCEK (fetched or uploaded) verified to the pinned AMD roots → the key of its product, chip and TCB. */
export async function verifiedVcek(der: Uint8Array): Promise<Result<VerifiedCollateral, string>> {
  const id = await verifiedVcekIdentity(der);
  if (!id.ok) return id;
  return ok({ key: vcekKey(id.value.product, id.value.hwid, id.value.tcb), expiresAt: id.value.notAfter });
}

export function crlKey(product: SnpProductLine, signer: EndorsementSigner): string {
  return `snp/crl/${product}/${signer}`;
}

/** The CRL of the ASK (VCEK chain) or ASVK (VLEK chain); usable until its nextUpdate. */
export function crlRequest(base: string, product: SnpProductLine, signer: EndorsementSigner): CollateralRequest {
  return {
    key: crlKey(product, signer),
    url: `${base}/${signer}/v1/${product}/crl`,
    verify: (body) => verifiedSnpCrl(body, product, signer),
    maxAgeMs: CRL_MAX_AGE_MS,
  };
}

/**
 * A CRL the product's pinned ARK signed, for the `signer` chain (fetched or uploaded). Both CRLs of a
 * product come from its ARK, so which chain one is for is what it was fetched or uploaded as.
 */
export async function verifiedSnpCrl(body: Uint8Array, product: SnpProductLine, signer: EndorsementSigner): Promise<Result<VerifiedCollateral, string>> {
  const roots = await pinnedRoots();
  const productRoots = roots.ok ? roots.value.find((r) => r.product === product) : undefined;
  if (!productRoots) return err("pinned AMD roots unavailable");
  const crl = await verifyAmdCrl(body, productRoots);
  if (!crl.ok) return err(`${crl.error.reason}: ${crl.error.detail}`);
  return ok({ key: crlKey(product, signer), expiresAt: crl.value.nextUpdate, issuedAt: crl.value.thisUpdate });
}

interface VcekIdentity {
  readonly product: SnpProductLine;
  readonly hwid: string;
  readonly tcb: KdsTcb;
  readonly notAfter: number;
}

/** A VCEK verified to the pinned AMD roots → its product, hwID and SPLs. */
async function verifiedVcekIdentity(der: Uint8Array): Promise<Result<VcekIdentity, string>> {
  const e = await verifyEndorsementChain(der);
  if (!e.ok) return err(`${e.error.reason}: ${e.error.detail}`);
  const f = e.value;
  if (f.kind !== "vcek" || !f.hwId) return err("not a VCEK (a VLEK comes with the guest's evidence, not from KDS)");
  const tcb: KdsTcb = { bootloader: f.tcb.bootloader, tee: f.tcb.tee, snp: f.tcb.snp, microcode: f.tcb.microcode, fmc: f.tcb.fmc };
  return ok({ product: f.product, hwid: toHex(f.hwId), tcb, notAfter: Math.min(...f.windows.map((w) => w.notAfter)) });
}
