/**
 * Binding a certificate to a report, checked below the signature: a genuine report whose CHIP_ID,
 * REPORTED_TCB, CPUID or SIGNING_KEY is altered (so its signature would fail first in a full
 * verification) against the genuine certificate's facts.
 */
import { describe, expect, it } from "vitest";
import { checkHwId, checkSigner, checkTcb, resolveProduct } from "../../../src/lib/attestation/snp/binding";
import { verifyEndorsementChain, type VerifiedEndorsement } from "../../../src/lib/attestation/snp/chain";
import { parseSnpReport, type SnpReport } from "../../../src/lib/attestation/snp/report";
import { evidence } from "./snp-fixtures";

async function endorsement(name: string): Promise<VerifiedEndorsement> {
  const r = await verifyEndorsementChain(evidence(name).endorsementCert);
  if (!r.ok) throw new Error(r.error.detail);
  return r.value;
}

function report(name: string, edit: (b: Uint8Array, v: DataView) => void = () => {}): SnpReport {
  const b = evidence(name).report.slice();
  edit(b, new DataView(b.buffer));
  const r = parseSnpReport(b);
  if (!r.ok) throw new Error(r.error.detail);
  return r.value;
}

const code = (r: { ok: boolean; error?: { reason: string } }) => (r.ok ? "ok" : r.error!.reason);

describe("hwID vs CHIP_ID", () => {
  it("Milan/Genoa compare all 64 bytes", async () => {
    const e = await endorsement("oak-genoa-v5");
    expect(code(checkHwId(report("oak-genoa-v5"), e))).toBe("ok");
    for (const at of [0x1a0, 0x1a0 + 8, 0x1df]) expect(code(checkHwId(report("oak-genoa-v5", (b) => (b[at]! ^= 1)), e))).toBe("hwid_mismatch");
  });

  it("Turin compares CHIP_ID[0:8] with the 8-byte hwID", async () => {
    const e = await endorsement("oak-turin-v5");
    expect(code(checkHwId(report("oak-turin-v5"), e))).toBe("ok");
    expect(code(checkHwId(report("oak-turin-v5", (b) => (b[0x1a7]! ^= 1)), e))).toBe("hwid_mismatch");
    expect(code(checkHwId(report("oak-turin-v5", (b) => (b[0x1a8] = 1)), e))).toBe("ok");
  });

  it("is skipped for a masked (all-zero) CHIP_ID and for a VLEK", async () => {
    const e = await endorsement("gsg-milan-v2");
    expect(code(checkHwId(report("gsg-milan-v2", (b) => b.fill(0, 0x1a0, 0x1e0)), e))).toBe("ok");
    const vlek = await endorsement("trustee-milan-vlek-v3");
    expect(code(checkHwId(report("gsg-milan-v2"), vlek))).toBe("ok");
  });
});

describe("certificate TCB vs REPORTED_TCB", () => {
  it.each([
    ["bootloader", 0x180],
    ["tee", 0x181],
    ["spl4", 0x182],
    ["spl7", 0x185],
    ["snp", 0x186],
    ["microcode", 0x187],
  ])("Milan: a different %s byte → tcb_mismatch", async (component, at) => {
    const e = await endorsement("oak-milan-v3");
    expect(code(checkTcb(report("oak-milan-v3"), e, "Milan"))).toBe("ok");
    const r = checkTcb(report("oak-milan-v3", (b) => (b[at]! ^= 1)), e, "Milan");
    expect(r.ok ? "ok" : r.error).toEqual({ reason: "tcb_mismatch", detail: expect.stringContaining(`REPORTED_TCB ${component} `) });
  });

  it.each([
    ["fmc", 0x180],
    ["bootloader", 0x181],
    ["tee", 0x182],
    ["snp", 0x183],
    ["microcode", 0x187],
  ])("Turin: a different %s byte → tcb_mismatch (Turin layout)", async (component, at) => {
    const e = await endorsement("oak-turin-v5");
    expect(code(checkTcb(report("oak-turin-v5"), e, "Turin"))).toBe("ok");
    const r = checkTcb(report("oak-turin-v5", (b) => (b[at]! ^= 1)), e, "Turin");
    expect(r.ok ? "ok" : r.error).toEqual({ reason: "tcb_mismatch", detail: expect.stringContaining(`REPORTED_TCB ${component} `) });
  });

  it("Turin's reserved TCB bytes are not compared", async () => {
    const e = await endorsement("oak-turin-v5");
    for (const at of [0x184, 0x185, 0x186]) expect(code(checkTcb(report("oak-turin-v5", (b) => (b[at] = 7)), e, "Turin"))).toBe("ok");
  });

  it("read with the Milan layout the Turin TCB would not match", async () => {
    const e = await endorsement("oak-turin-v5");
    expect(code(checkTcb(report("oak-turin-v5"), e, "Genoa"))).toBe("tcb_mismatch");
  });
});

describe("product and signer", () => {
  it("v3+: the CPUID product must be the certificate's; unknown CPUs are unsupported_product", async () => {
    const milan = await endorsement("oak-milan-v3");
    expect(resolveProduct(report("oak-milan-v3"), milan)).toEqual({ ok: true, value: "Milan" });
    expect(code(resolveProduct(report("oak-milan-v3", (b) => (b[0x189] = 0x11)), milan))).toBe("product_mismatch");
    expect(code(resolveProduct(report("oak-milan-v3", (b) => (b[0x188] = 0x17)), milan))).toBe("unsupported_product");
    expect(code(resolveProduct(report("oak-milan-v3", (b) => (b[0x188] = 0x1a)), milan))).toBe("product_mismatch");
    const genoa = await endorsement("oak-genoa-v5");
    expect(resolveProduct(report("oak-genoa-v5", (b) => (b[0x189] = 0xa0)), genoa)).toEqual({ ok: true, value: "Genoa" }); // Siena
  });

  it("v2 and all-zero CPUID take the certificate's product", async () => {
    const genoa = await endorsement("oak-genoa-v5");
    expect(resolveProduct(report("gsg-milan-v2"), genoa)).toEqual({ ok: true, value: "Genoa" });
    expect(resolveProduct(report("oak-milan-v3", (b) => b.fill(0, 0x188, 0x18b)), genoa)).toEqual({ ok: true, value: "Genoa" });
  });

  it("SIGNING_KEY must match the certificate kind; 7 (none) is unsupported_signing_key", async () => {
    const vcek = await endorsement("gsg-milan-v2");
    expect(code(checkSigner(report("gsg-milan-v2"), vcek))).toBe("ok");
    expect(code(checkSigner(report("gsg-milan-v2", (_b, v) => v.setUint32(0x48, 1 << 2, true)), vcek))).toBe("signer_mismatch");
    expect(code(checkSigner(report("gsg-milan-v2", (_b, v) => v.setUint32(0x48, 7 << 2, true)), vcek))).toBe("unsupported_signing_key");
  });
});
