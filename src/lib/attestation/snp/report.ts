/**
 * ATTESTATION_REPORT (SEV-SNP Firmware ABI #56860, table "ATTESTATION_REPORT Structure"): a
 * bounds-checked parser for untrusted bytes. Layout and the reserved-field rules are those of
 * specs/sev-snp.md §1 and §4.1; every rule was checked against the real vectors.
 *
 * Decisions:
 * - Exactly 0x4A0 bytes, nothing more (`bad_length`): callers that hold a report inside a larger
 *   blob (an Azure HCL report, a cert table) slice it out explicitly.
 * - Versions 2, 3, 4 and 5. Version 4 (seen from firmware 1.55.31) has the version 3 layout
 *   (go-sev-guest b8d75ce; virtee/sev maps 3 and 4 to its V3 type). 0, 1 and ≥ 6 are
 *   `unsupported_version`: a future layout may give meaning to bytes this parser treats as reserved.
 * - Reserved bytes must be zero (`reserved_nonzero`), per version: 0x188–0x19F (v2) or 0x18B–0x19F
 *   (v3+), 0x1F8–0x207 unless v5 (mitigation vectors), and 0x04C, 0x1EB, 0x1EF, 0x208–0x29F and
 *   the signature tail 0x330–0x49F always. TCB_VERSION reserved bytes and unknown PLATFORM_INFO
 *   bits are not checked: their layout differs per product (Turin) and firmware sets new bits
 *   (the real Turin report has PLATFORM_INFO bit 6 set).
 * - 64-bit fields are bigints; nothing is read into a lossy number.
 * - The signature's r and s are little-endian in 72-byte fields; they are returned big-endian as a
 *   96-byte IEEE P1363 `r ‖ s` for WebCrypto. Non-zero bytes above the low 48 cannot belong to a
 *   P-384 signature (`bad_report_signature`).
 */
import { ok, type Result } from "../../result";
import { snpFail, type SnpFailure } from "./errors";

export const REPORT_SIZE = 0x4a0;
/** The signed part of the report: bytes [0, 0x2A0). */
export const SIGNED_SIZE = 0x2a0;
export const SUPPORTED_VERSIONS: readonly number[] = [2, 3, 4, 5];
/** SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384 (the only defined value). */
export const ECDSA_P384_SHA384 = 1;

export type SnpSigningKey = "vcek" | "vlek" | "none";

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

export interface Cpuid {
  /** Extended family + base family: 0x19 (Zen 3/4), 0x1A (Zen 5). */
  readonly family: number;
  /** Extended model << 4 | base model. */
  readonly model: number;
  readonly stepping: number;
}

/** A parsed report. Byte fields are views into `bytes`, a private copy of the input. */
export interface SnpReport {
  readonly bytes: Uint8Array;
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: bigint;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: bigint;
  readonly platformInfo: bigint;
  /** The raw signer-info word at 0x48. */
  readonly signerInfo: number;
  readonly authorKeyEn: boolean;
  readonly maskChipKey: boolean;
  readonly signingKey: SnpSigningKey;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: bigint;
  /** Version 3 and later; undefined for version 2. */
  readonly cpuid: Cpuid | undefined;
  readonly chipId: Uint8Array;
  readonly committedTcb: bigint;
  readonly currentFirmware: FirmwareVersion;
  readonly committedFirmware: FirmwareVersion;
  readonly launchTcb: bigint;
  /** Version 5 and later; undefined before. */
  readonly launchMitVector: bigint | undefined;
  readonly currentMitVector: bigint | undefined;
  /** Bytes [0, 0x2A0), what the signature covers. */
  readonly signedBytes: Uint8Array;
  /** Big-endian r ‖ s, 48 bytes each (IEEE P1363), for WebCrypto ECDSA P-384. */
  readonly signature: Uint8Array;
}

/** POLICY bit 17 is reserved and must be 1; bits 63:26 must be zero. */
const POLICY_RESERVED_ONE = 1n << 17n;
const POLICY_MBZ = ~((1n << 26n) - 1n) & 0xffff_ffff_ffff_ffffn;
/** Signer info: bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY, 31:5 MBZ. */
const SIGNER_INFO_MBZ = ~0x1f >>> 0;

/** Parses one report. Never throws. */
export function parseSnpReport(input: Uint8Array): Result<SnpReport, SnpFailure> {
  if (input.length !== REPORT_SIZE) return snpFail("bad_length", `a report is ${REPORT_SIZE} bytes, got ${input.length}`);
  const bytes = input.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => view.getBigUint64(at, true);
  const field = (at: number, size: number) => bytes.subarray(at, at + size);

  const version = u32(0x000);
  if (!SUPPORTED_VERSIONS.includes(version)) return snpFail("unsupported_version", `report version ${version} (supported: 2, 3, 4, 5)`);
  const signatureAlgo = u32(0x034);
  if (signatureAlgo !== ECDSA_P384_SHA384) return snpFail("unsupported_signature_algorithm", `SIGNATURE_ALGO ${signatureAlgo} (only 1, ECDSA P-384/SHA-384)`);

  const policy = u64(0x008);
  if ((policy & POLICY_RESERVED_ONE) === 0n) return snpFail("bad_guest_policy", "POLICY bit 17 is reserved and must be 1");
  if ((policy & POLICY_MBZ) !== 0n) return snpFail("bad_guest_policy", `POLICY bits 63:26 must be zero (0x${hex64(policy)})`);

  const signerInfo = u32(0x048);
  if ((signerInfo & SIGNER_INFO_MBZ) !== 0) return snpFail("bad_signer_info", `signer info bits 31:5 must be zero (0x${signerInfo.toString(16)})`);
  const keySelect = (signerInfo >>> 2) & 0x7;
  const signingKey: SnpSigningKey | undefined = keySelect === 0 ? "vcek" : keySelect === 1 ? "vlek" : keySelect === 7 ? "none" : undefined;
  if (signingKey === undefined) return snpFail("bad_signer_info", `SIGNING_KEY ${keySelect} is reserved`);

  const hasCpuid = version >= 3;
  const hasMitigations = version >= 5;
  const reserved: readonly (readonly [number, number])[] = [
    [0x04c, 0x050],
    [hasCpuid ? 0x18b : 0x188, 0x1a0],
    [0x1eb, 0x1ec],
    [0x1ef, 0x1f0],
    [hasMitigations ? 0x208 : 0x1f8, SIGNED_SIZE],
    [0x330, REPORT_SIZE],
  ];
  for (const [from, to] of reserved) {
    const at = firstNonZero(bytes, from, to);
    if (at !== -1) return snpFail("reserved_nonzero", `reserved byte 0x${at.toString(16)} (range 0x${from.toString(16)}–0x${(to - 1).toString(16)}) is not zero`);
  }

  const r = littleEndianScalar(bytes, 0x2a0);
  const s = littleEndianScalar(bytes, 0x2e8);
  if (!r || !s) return snpFail("bad_report_signature", "signature r or s does not fit in 48 bytes");
  const signature = new Uint8Array(96);
  signature.set(r, 0);
  signature.set(s, 48);

  const firmware = (at: number): FirmwareVersion => ({ build: bytes[at]!, minor: bytes[at + 1]!, major: bytes[at + 2]! });
  return ok({
    bytes,
    version,
    guestSvn: u32(0x004),
    policy,
    familyId: field(0x010, 16),
    imageId: field(0x020, 16),
    vmpl: u32(0x030),
    signatureAlgo,
    currentTcb: u64(0x038),
    platformInfo: u64(0x040),
    signerInfo,
    authorKeyEn: (signerInfo & 1) !== 0,
    maskChipKey: (signerInfo & 2) !== 0,
    signingKey,
    reportData: field(0x050, 64),
    measurement: field(0x090, 48),
    hostData: field(0x0c0, 32),
    idKeyDigest: field(0x0e0, 48),
    authorKeyDigest: field(0x110, 48),
    reportId: field(0x140, 32),
    reportIdMa: field(0x160, 32),
    reportedTcb: u64(0x180),
    cpuid: hasCpuid ? { family: bytes[0x188]!, model: bytes[0x189]!, stepping: bytes[0x18a]! } : undefined,
    chipId: field(0x1a0, 64),
    committedTcb: u64(0x1e0),
    currentFirmware: firmware(0x1e8),
    committedFirmware: firmware(0x1ec),
    launchTcb: u64(0x1f0),
    launchMitVector: hasMitigations ? u64(0x1f8) : undefined,
    currentMitVector: hasMitigations ? u64(0x200) : undefined,
    signedBytes: field(0, SIGNED_SIZE),
    signature,
  });
}

function firstNonZero(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return i;
  return -1;
}

/** A 72-byte little-endian field → 48 big-endian bytes, or undefined if the top 24 bytes are not zero. */
function littleEndianScalar(bytes: Uint8Array, at: number): Uint8Array | undefined {
  if (firstNonZero(bytes, at + 48, at + 72) !== -1) return undefined;
  const out = new Uint8Array(48);
  for (let i = 0; i < 48; i++) out[i] = bytes[at + 47 - i]!;
  return out;
}

/** A u64 as 16 lowercase hex digits. */
export function hex64(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}
