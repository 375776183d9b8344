/**
 * The claims of a verified SNP report: a stable, JSON-ready shape that policies and tokens use.
 * Byte strings are lowercase hex; u64 values are `0x` + 16 lowercase hex digits (never lossy
 * numbers); TCBs are decoded per product with components by name. Nothing here is trusted unless
 * it came out of `SnpVerifier.verify`.
 */
import { claimHex } from "../hex";
import type { EndorsementFacts } from "./endorsement-cert";
import type { SnpProduct } from "./product";
import { hex64, type FirmwareVersion, type SnpReport } from "./report";
import { decodeTcb, type DecodedTcb } from "./tcb";

export interface SnpGuestPolicy {
  readonly raw: string;
  readonly abi_major: number;
  readonly abi_minor: number;
  readonly smt: boolean;
  readonly migrate_ma: boolean;
  readonly debug: boolean;
  readonly single_socket: boolean;
  readonly cxl_allow: boolean;
  readonly mem_aes_256_xts: boolean;
  readonly rapl_dis: boolean;
  readonly ciphertext_hiding: boolean;
  readonly page_swap_disable: boolean;
}

export interface SnpPlatformInfo {
  readonly raw: string;
  readonly smt_en: boolean;
  readonly tsme_en: boolean;
  readonly ecc_en: boolean;
  readonly rapl_dis: boolean;
  readonly ciphertext_hiding_dram_en: boolean;
  readonly alias_check_complete: boolean;
  readonly sev_tio_en: boolean;
  /** Bits this verifier does not name (e.g. bit 6 on Turin), as 0x…; they never fail verification. */
  readonly unknown_bits: string;
}

export interface SnpFirmware extends FirmwareVersion {
  /** `major.minor.build`. */
  readonly version: string;
}

/** A type alias (not an interface) so that it is a `Record<string, unknown>`, as TeeClaims carries it. */
export type SnpClaims = {
  readonly version: number;
  readonly product: SnpProduct;
  readonly signer: "vcek" | "vlek";
  readonly measurement: string;
  readonly report_data: string;
  readonly host_data: string;
  readonly id_key_digest: string;
  readonly author_key_digest: string;
  readonly author_key_en: boolean;
  readonly mask_chip_key: boolean;
  readonly chip_id: string;
  readonly vmpl: number;
  readonly guest_svn: number;
  readonly policy: SnpGuestPolicy;
  readonly platform_info: SnpPlatformInfo;
  readonly current_tcb: DecodedTcb;
  readonly reported_tcb: DecodedTcb;
  readonly committed_tcb: DecodedTcb;
  readonly launch_tcb: DecodedTcb;
  readonly family_id: string;
  readonly image_id: string;
  readonly report_id: string;
  readonly report_id_ma: string;
  readonly signature_algo: number;
  readonly current_firmware: SnpFirmware;
  readonly committed_firmware: SnpFirmware;
  /** Version 3+: CPUID family/model/stepping; null on version 2. */
  readonly cpuid: { readonly family: number; readonly model: number; readonly stepping: number } | null;
  /** Version 5+: mitigation vectors as 0x…; null before. */
  readonly launch_mit_vector: string | null;
  readonly current_mit_vector: string | null;
  /** What the endorsement certificate says about itself. */
  readonly endorsement: { readonly product_name: string; readonly csp_id: string | null };
};

const u64 = (v: bigint) => `0x${hex64(v)}`;
/** Bit n (< 32) of the low word. All named bits of POLICY and PLATFORM_INFO are below 32. */
const bit = (low: number, n: number) => ((low >>> n) & 1) === 1;
const lowWord = (v: bigint) => Number(v & 0xffff_ffffn);

const hex = claimHex;

export function decodeGuestPolicy(p: bigint): SnpGuestPolicy {
  const low = lowWord(p);
  return {
    raw: u64(p),
    abi_major: (low >>> 8) & 0xff,
    abi_minor: low & 0xff,
    smt: bit(low, 16),
    migrate_ma: bit(low, 18),
    debug: bit(low, 19),
    single_socket: bit(low, 20),
    cxl_allow: bit(low, 21),
    mem_aes_256_xts: bit(low, 22),
    rapl_dis: bit(low, 23),
    ciphertext_hiding: bit(low, 24),
    page_swap_disable: bit(low, 25),
  };
}

/** Bits 0–5 and 7 are named (ABI 1.58); everything else is kept raw in `unknown_bits`. */
const KNOWN_PLATFORM_BITS = 0b1011_1111n;

export function decodePlatformInfo(v: bigint): SnpPlatformInfo {
  const low = lowWord(v);
  return {
    raw: u64(v),
    smt_en: bit(low, 0),
    tsme_en: bit(low, 1),
    ecc_en: bit(low, 2),
    rapl_dis: bit(low, 3),
    ciphertext_hiding_dram_en: bit(low, 4),
    alias_check_complete: bit(low, 5),
    sev_tio_en: bit(low, 7),
    unknown_bits: u64(v & ~KNOWN_PLATFORM_BITS),
  };
}

function firmware(f: FirmwareVersion): SnpFirmware {
  return { major: f.major, minor: f.minor, build: f.build, version: `${f.major}.${f.minor}.${f.build}` };
}

export function snpClaims(report: SnpReport, product: SnpProduct, e: Pick<EndorsementFacts, "kind" | "productName" | "cspId">): SnpClaims {
  return {
    version: report.version,
    product,
    signer: e.kind,
    measurement: hex(report.measurement),
    report_data: hex(report.reportData),
    host_data: hex(report.hostData),
    id_key_digest: hex(report.idKeyDigest),
    author_key_digest: hex(report.authorKeyDigest),
    author_key_en: report.authorKeyEn,
    mask_chip_key: report.maskChipKey,
    chip_id: hex(report.chipId),
    vmpl: report.vmpl,
    guest_svn: report.guestSvn,
    policy: decodeGuestPolicy(report.policy),
    platform_info: decodePlatformInfo(report.platformInfo),
    current_tcb: decodeTcb(report.currentTcb, product),
    reported_tcb: decodeTcb(report.reportedTcb, product),
    committed_tcb: decodeTcb(report.committedTcb, product),
    launch_tcb: decodeTcb(report.launchTcb, product),
    family_id: hex(report.familyId),
    image_id: hex(report.imageId),
    report_id: hex(report.reportId),
    report_id_ma: hex(report.reportIdMa),
    signature_algo: report.signatureAlgo,
    current_firmware: firmware(report.currentFirmware),
    committed_firmware: firmware(report.committedFirmware),
    cpuid: report.cpuid ? { ...report.cpuid } : null,
    launch_mit_vector: report.launchMitVector === undefined ? null : u64(report.launchMitVector),
    current_mit_vector: report.currentMitVector === undefined ? null : u64(report.currentMitVector),
    endorsement: { product_name: e.productName, csp_id: e.cspId ?? null },
  };
}
