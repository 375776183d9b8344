/** ATTESTATION_REPORT parsing: layouts per version, reserved-field rules, exact u64s, signature encoding. */
import { describe, expect, it } from "vitest";
import { decodeGuestPolicy, decodePlatformInfo } from "../../../src/lib/attestation/snp/claims";
import { parseSnpReport, REPORT_SIZE, type SnpReport } from "../../../src/lib/attestation/snp/report";
import { decodeTcb } from "../../../src/lib/attestation/snp/tcb";
import { bytes, SNP, vector } from "./snp-fixtures";

const real = (name: string) => bytes(`${SNP}/${vector(name).report}`);
const V2 = real("gsg-milan-v2");
const V3 = real("oak-milan-v3");
const V5 = real("oak-genoa-v5");
const TURIN = real("oak-turin-v5");

function edit(base: Uint8Array, f: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = base.slice();
  f(b, new DataView(b.buffer));
  return b;
}

function parsed(b: Uint8Array): SnpReport {
  const r = parseSnpReport(b);
  if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
  return r.value;
}

function reason(b: Uint8Array): string {
  const r = parseSnpReport(b);
  return r.ok ? "ok" : r.error.reason;
}

describe("parseSnpReport: lengths and versions", () => {
  it.each([0, 1, 0x2a0, REPORT_SIZE - 1, REPORT_SIZE + 1, 4096])("%i bytes is bad_length", (n) => {
    const b = new Uint8Array(n);
    b.set(V3.subarray(0, Math.min(n, REPORT_SIZE)));
    expect(reason(b)).toBe("bad_length");
  });

  it.each([0, 1, 6, 7, 0xffffffff])("version %i is unsupported_version", (version) => {
    expect(reason(edit(V3, (_b, v) => v.setUint32(0, version, true)))).toBe("unsupported_version");
  });

  it("version 4 is read with the version 3 layout (CPUID fields, no mitigation vectors)", () => {
    const r = parsed(edit(V3, (_b, v) => v.setUint32(0, 4, true)));
    expect(r.version).toBe(4);
    expect(r.cpuid).toEqual({ family: 0x19, model: 0x01, stepping: 0x01 });
    expect(r.launchMitVector).toBeUndefined();
    // v3/v4: the mitigation vector bytes are reserved.
    expect(reason(edit(V3, (b, v) => (v.setUint32(0, 4, true), (b[0x1f8] = 1))))).toBe("reserved_nonzero");
  });

  it("version 2 has no CPUID fields: 0x188–0x19F are reserved", () => {
    const r = parsed(V2);
    expect(r.cpuid).toBeUndefined();
    for (const at of [0x188, 0x18a, 0x19f]) expect(reason(edit(V2, (b) => (b[at] = 1)))).toBe("reserved_nonzero");
  });

  it("version 3 reads CPUID family/model/stepping; 0x18B–0x19F stay reserved", () => {
    expect(parsed(V3).cpuid).toEqual({ family: 0x19, model: 0x01, stepping: 0x01 });
    expect(parsed(TURIN).cpuid).toEqual({ family: 0x1a, model: 0x02, stepping: 0x01 });
    expect(reason(edit(V3, (b) => (b[0x18b] = 1)))).toBe("reserved_nonzero");
    expect(reason(edit(V3, (b) => (b[0x188] = 0x42)))).toBe("ok");
  });

  it("version 5 reads both mitigation vectors as exact u64s", () => {
    const r = parsed(V5);
    expect([r.launchMitVector, r.currentMitVector]).toEqual([1n, 1n]);
    const big = parsed(edit(V5, (_b, v) => (v.setBigUint64(0x1f8, 0xfedcba9876543210n, true), v.setBigUint64(0x200, 0xffffffffffffffffn, true))));
    expect([big.launchMitVector, big.currentMitVector]).toEqual([0xfedcba9876543210n, 0xffffffffffffffffn]);
    expect(reason(edit(V5, (b) => (b[0x208] = 1)))).toBe("reserved_nonzero");
  });
});

describe("parseSnpReport: reserved and must-be-zero fields", () => {
  it.each([
    ["0x04C reserved", 0x04c],
    ["0x04F reserved", 0x04f],
    ["0x1EB (after CURRENT_MAJOR)", 0x1eb],
    ["0x1EF (after COMMITTED_MAJOR)", 0x1ef],
    ["0x208 reserved", 0x208],
    ["0x29F (last signed byte)", 0x29f],
    ["0x330 signature tail", 0x330],
    ["0x49F (last byte)", 0x49f],
  ])("%s must be zero", (_what, at) => {
    const r = parseSnpReport(edit(V3, (b) => (b[at] = 0x80)));
    expect(r.ok ? "ok" : r.error).toEqual({ reason: "reserved_nonzero", detail: expect.stringContaining(`0x${at.toString(16)}`) });
  });

  it("POLICY bit 17 must be 1 and bits 63:26 zero (bad_guest_policy)", () => {
    expect(reason(edit(V3, (b) => (b[0x008 + 2] = b[0x008 + 2]! & ~0x02)))).toBe("bad_guest_policy");
    for (const bit of [26, 31, 32, 63]) {
      expect(reason(edit(V3, (_b, v) => v.setBigUint64(0x008, v.getBigUint64(0x008, true) | (1n << BigInt(bit)), true)))).toBe("bad_guest_policy");
    }
    expect(reason(edit(V3, (_b, v) => v.setBigUint64(0x008, v.getBigUint64(0x008, true) | (1n << 25n), true)))).toBe("ok");
  });

  it("signer info bits 31:5 must be zero and SIGNING_KEY 2–6 is reserved (bad_signer_info)", () => {
    for (const info of [0x20, 0x8000_0000, 2 << 2, 3 << 2, 6 << 2]) expect(reason(edit(V3, (_b, v) => v.setUint32(0x048, info, true)))).toBe("bad_signer_info");
    const none = parsed(edit(V3, (_b, v) => v.setUint32(0x048, (7 << 2) | 3, true)));
    expect([none.signingKey, none.authorKeyEn, none.maskChipKey]).toEqual(["none", true, true]);
    expect(parsed(real("trustee-milan-vlek-v3")).signingKey).toBe("vlek");
  });

  it("SIGNATURE_ALGO other than 1 is unsupported_signature_algorithm", () => {
    for (const algo of [0, 2, 0xffffffff]) expect(reason(edit(V3, (_b, v) => v.setUint32(0x034, algo, true)))).toBe("unsupported_signature_algorithm");
  });

  it("unknown PLATFORM_INFO bits and TCB reserved bytes do not fail parsing", () => {
    const r = parsed(edit(V3, (_b, v) => (v.setBigUint64(0x040, 0xffffffffffffffffn, true), v.setBigUint64(0x038, 0x00ffffffff000000n, true))));
    expect(r.platformInfo).toBe(0xffffffffffffffffn);
    expect(decodePlatformInfo(r.platformInfo).unknown_bits).toBe("0xffffffffffffff40");
    expect(decodePlatformInfo(parsed(TURIN).platformInfo)).toMatchObject({ raw: "0x0000000000000067", smt_en: true, tsme_en: true, ecc_en: true, alias_check_complete: true, unknown_bits: "0x0000000000000040" });
  });
});

describe("parseSnpReport: fields", () => {
  it("keeps 64-bit fields exact", () => {
    const r = parsed(edit(V3, (_b, v) => (v.setBigUint64(0x180, 0xfffffffffffffffen, true), v.setBigUint64(0x1e0, 0x8000000000000001n, true))));
    expect(r.reportedTcb).toBe(0xfffffffffffffffen);
    expect(r.committedTcb).toBe(0x8000000000000001n);
    expect(decodeTcb(r.reportedTcb, "Milan").raw).toBe("0xfffffffffffffffe");
  });

  it("reads the byte fields at their offsets (views of a private copy)", () => {
    const input = V3.slice();
    const r = parsed(input);
    expect(r.reportData).toEqual(V3.subarray(0x50, 0x90));
    expect(r.measurement).toEqual(V3.subarray(0x90, 0xc0));
    expect(r.chipId).toEqual(V3.subarray(0x1a0, 0x1e0));
    expect(r.signedBytes.length).toBe(0x2a0);
    input.fill(0);
    expect(r.measurement).toEqual(V3.subarray(0x90, 0xc0));
  });

  it("decodes firmware versions (build, minor, major bytes)", () => {
    const r = parsed(V3);
    expect(r.currentFirmware).toEqual({ major: V3[0x1ea], minor: V3[0x1e9], build: V3[0x1e8] });
    expect(r.committedFirmware).toEqual({ major: V3[0x1ee], minor: V3[0x1ed], build: V3[0x1ec] });
  });

  it("turns little-endian r and s into a big-endian P1363 signature", () => {
    const r = parsed(V3);
    expect(r.signature.length).toBe(96);
    expect(r.signature.subarray(0, 48)).toEqual(V3.slice(0x2a0, 0x2d0).reverse());
    expect(r.signature.subarray(48, 96)).toEqual(V3.slice(0x2e8, 0x318).reverse());
  });

  it.each([0x2d0, 0x2e7, 0x318, 0x32f])("a non-zero byte above the 48 low bytes of r or s (offset %i) is bad_report_signature", (at) => {
    expect(reason(edit(V3, (b) => (b[at] = 1)))).toBe("bad_report_signature");
  });

  it("decodes the guest policy bits", () => {
    expect(decodeGuestPolicy(parsed(V2).policy)).toEqual({
      raw: "0x00000000000b0000",
      abi_major: 0,
      abi_minor: 0,
      smt: true,
      migrate_ma: false,
      debug: true,
      single_socket: false,
      cxl_allow: false,
      mem_aes_256_xts: false,
      rapl_dis: false,
      ciphertext_hiding: false,
      page_swap_disable: false,
    });
    const all = decodeGuestPolicy(0x3ff_1f05n | (1n << 17n));
    expect(Object.values(all).filter((v) => v === true).length).toBe(9);
    expect([all.abi_major, all.abi_minor]).toEqual([0x1f, 0x05]);
  });

  it("decodes TCBs in the product's layout (Turin differs)", () => {
    expect(decodeTcb(0x4700000002000100n, "Turin")).toEqual({ raw: "0x4700000002000100", fmc: 0, bootloader: 1, tee: 0, snp: 2, microcode: 71, reserved: "000000" });
    expect(decodeTcb(0x4700000002000100n, "Genoa")).toEqual({ raw: "0x4700000002000100", bootloader: 0, tee: 1, snp: 0, microcode: 71, reserved: "00020000" });
    expect(decodeTcb(0xdb18000000000004n, "Milan")).toMatchObject({ bootloader: 4, tee: 0, snp: 24, microcode: 219 });
  });
});
