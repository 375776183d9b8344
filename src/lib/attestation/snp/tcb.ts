/**
 * TCB_VERSION (a u64 in the report; SPL extensions in a VCEK/VLEK): the security patch level of each
 * firmware component. The byte layout depends on the product (specs/sev-snp.md §1.1):
 *
 *   byte        0           1           2      3      4      5      6      7
 *   Milan/Genoa BOOT_LOADER TEE         spl4   spl5   spl6   spl7   SNP    MICROCODE
 *   Turin       FMC         BOOT_LOADER TEE    SNP    rsvd   rsvd   rsvd   MICROCODE
 *
 * Read with the wrong layout, a Turin TCB would give wrong levels, so the product comes first.
 */
import type { SnpProduct } from "./product";

export interface TcbComponents {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin (and later) only. */
  readonly fmc?: number;
}

export type TcbComponentName = keyof TcbComponents;

export const TCB_COMPONENT_NAMES: readonly TcbComponentName[] = ["bootloader", "tee", "snp", "microcode", "fmc"];

export interface DecodedTcb extends TcbComponents {
  /** The u64 as 0x + 16 lowercase hex digits. */
  readonly raw: string;
  /** The reserved bytes (Milan/Genoa: 2–5, Turin: 4–6) as lowercase hex, in byte order. */
  readonly reserved: string;
}

export function hasFmc(product: SnpProduct): boolean {
  return product === "Turin";
}

/** The 8 bytes of a u64, least significant first (two BigInt operations, then plain numbers). */
function tcbBytes(v: bigint): number[] {
  const lo = Number(v & 0xffff_ffffn);
  const hi = Number((v >> 32n) & 0xffff_ffffn);
  return [lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff, (hi >>> 16) & 0xff, hi >>> 24];
}

export function decodeTcb(v: bigint, product: SnpProduct): DecodedTcb {
  const b = tcbBytes(v);
  const raw = `0x${v.toString(16).padStart(16, "0")}`;
  const hexBytes = (from: number, to: number) => b.slice(from, to).map((x) => (x < 16 ? "0" : "") + x.toString(16)).join("");
  if (hasFmc(product)) {
    return { raw, fmc: b[0]!, bootloader: b[1]!, tee: b[2]!, snp: b[3]!, microcode: b[7]!, reserved: hexBytes(4, 7) };
  }
  return { raw, bootloader: b[0]!, tee: b[1]!, snp: b[6]!, microcode: b[7]!, reserved: hexBytes(2, 6) };
}

/** The Milan/Genoa reserved bytes 2–5 (spl4–spl7 in the certificate), in order. */
export function legacyReservedSpls(v: bigint): readonly number[] {
  return tcbBytes(v).slice(2, 6);
}
