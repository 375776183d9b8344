/**
 * The endorsement chain (ARK → ASK → VCEK, ARK → ASVK → VLEK) and the AMD certificate extensions:
 * wrong roots, tampered or foreign certificates, certificates of another product or chip, validity.
 */
import { describe, expect, it } from "vitest";
import { checkValidity, verifyEndorsementChain } from "../../../src/lib/attestation/snp/chain";
import { readEndorsementFacts } from "../../../src/lib/attestation/snp/endorsement-cert";
import { SnpVerifier } from "../../../src/lib/attestation/snp/verify";
import { utf8 } from "../../../src/lib/encoding";
import { parseCertificate, type Extension, type ParsedCertificate } from "../../../src/lib/x509/cert-reader";
import { testCa } from "../x509/x509-test-kit";
import { at, bytes, evidence, pemCerts, SNP, VECTORS } from "./snp-fixtures";

const verifier = new SnpVerifier();
const AMD = "1.3.6.1.4.1.3704.1.";

function replaceOnce(der: Uint8Array, from: string, to: string): Uint8Array {
  const a = utf8(from);
  const b = utf8(to);
  if (a.length !== b.length) throw new Error("same length only");
  for (let i = 0; i + a.length <= der.length; i++) {
    if (a.every((x, j) => der[i + j] === x)) {
      const out = der.slice();
      out.set(b, i);
      return out;
    }
  }
  throw new Error(`'${from}' not found`);
}

function cert(der: Uint8Array): ParsedCertificate {
  const c = parseCertificate(der);
  if (!c.ok) throw new Error(c.error.detail);
  return c.value;
}

function withExtensions(c: ParsedCertificate, edit: (m: Map<string, Extension>) => void): ParsedCertificate {
  const extensions = new Map(c.extensions);
  edit(extensions);
  return { ...c, extensions };
}

const int = (n: number) => ({ critical: false, value: n < 128 ? Uint8Array.of(2, 1, n) : Uint8Array.of(2, 2, n >> 8, n & 0xff) });

describe("verifyEndorsementChain on the vectors' certificates", () => {
  it.each(VECTORS.map((v) => [v.name, v] as const))("%s chains to the pinned %s roots", async (_name, v) => {
    const r = await verifyEndorsementChain(bytes(`${SNP}/${v.endorsement_cert}`));
    if (!r.ok) throw new Error(r.error.detail);
    expect([r.value.product, r.value.kind, r.value.issuerName]).toEqual([v.product, v.signer, `SEV-${v.signer === "vlek" ? "VLEK-" : ""}${v.product}`]);
    expect(r.value.windows.map((w) => w.name)).toEqual([v.signer.toUpperCase(), r.value.issuerName, `ARK-${v.product}`]);
    expect(r.value.key.algorithm).toMatchObject({ name: "ECDSA", namedCurve: "P-384" });
  });

  it("reads the Turin extensions: structVersion 1, fmcSPL, 8-byte hwID, no spl4", async () => {
    const r = await verifyEndorsementChain(evidence("oak-turin-v5").endorsementCert);
    if (!r.ok) throw new Error(r.error.detail);
    expect(r.value.structVersion).toBe(1);
    expect(r.value.tcb).toEqual({ bootloader: 1, tee: 0, snp: 2, microcode: 71, fmc: 0, spl4to7: [undefined, 0, 0, 0] });
    expect(Buffer.from(r.value.hwId!).toString("hex")).toBe("3b42092f69c656d3");
  });
});

describe("wrong roots and foreign certificates", () => {
  const milanVcek = evidence("gsg-milan-v2").endorsementCert;
  const chain = (name: string) => pemCerts(`${SNP}/amd_chains/${name}`)[0]!;

  it.each([
    ["a Milan VCEK whose issuer is renamed to SEV-Genoa (checked against the Genoa ASK)", () => replaceOnce(milanVcek, "SEV-Milan", "SEV-Genoa"), "vcek_chain_invalid"],
    ["a Milan VCEK with a flipped byte in its tbsCertificate", () => replaceOnce(milanVcek, "Milan-B0", "Milan-B1"), "vcek_chain_invalid"],
    ["a Milan VCEK with a flipped signature byte", () => ((d) => ((d[d.length - 5]! ^= 1), d))(milanVcek.slice()), "vcek_chain_invalid"],
    ["the Milan ASK presented as the VCEK", () => chain("milan/ask.pem"), "vcek_chain_invalid"],
    ["the Genoa ARK presented as the VCEK", () => chain("genoa/ark.pem"), "vcek_chain_invalid"],
    ["the Turin ASVK presented as the VCEK", () => chain("turin/asvk.pem"), "vcek_chain_invalid"],
    ["garbage", () => utf8("not a certificate"), "malformed_endorsement_cert"],
    ["nothing", () => new Uint8Array(0), "missing_endorsement_key"],
  ])("%s → %s", async (_what, make, code) => {
    const r = await verifier.verify({ ...evidence("gsg-milan-v2"), endorsementCert: make() });
    expect(r.ok ? "ok" : r.error.reason).toBe(code);
  });

  it("a P-384 certificate from another CA → vcek_chain_invalid", async () => {
    const ca = await testCa("ec-p384", at("2022-09-25T00:00:00Z"));
    const r = await verifier.verify({ ...evidence("gsg-milan-v2"), endorsementCert: ca.der });
    expect(r.ok ? "ok" : r.error.reason).toBe("vcek_chain_invalid");
  });
});

describe("certificates of another product, chip or kind", () => {
  const ek = (name: string) => evidence(name).endorsementCert;
  it.each([
    // v3+ reports name their CPU: a certificate of another product is a product_mismatch.
    ["oak-milan-v3", "tinfoil-genoa-v3", "2026-01-12T16:38:56Z", "product_mismatch"],
    ["oak-milan-v3", "oak-turin-v5", "2025-07-18T17:04:46Z", "product_mismatch"],
    ["oak-turin-v5", "oak-milan-v3", "2025-07-18T17:04:46Z", "product_mismatch"],
    ["oak-genoa-v5", "oak-turin-v5", "2025-08-08T17:21:41Z", "product_mismatch"],
    ["tinfoil-genoa-v3", "oak-milan-v3", "2026-01-12T16:38:56Z", "product_mismatch"],
    // v2 reports carry no CPUID: the certificate's product is used, and its key did not sign.
    ["gsg-milan-v2", "oak-genoa-v5", "2025-08-08T17:21:41Z", "bad_report_signature"],
    ["gsg-milan-v2", "oak-turin-v5", "2025-08-08T17:21:41Z", "bad_report_signature"],
    // Same product, another chip.
    ["gsg-milan-v2", "virtee-milan-v2", "2025-01-01T00:00:00Z", "bad_report_signature"],
    ["oak-milan-v3", "trustee-milan-v2", "2025-06-01T00:00:00Z", "bad_report_signature"],
    ["oak-genoa-v5", "tinfoil-genoa-v3", "2026-01-12T16:38:56Z", "bad_report_signature"],
    // Another kind of key than SIGNING_KEY says.
    ["gsg-milan-v2", "trustee-milan-vlek-v3", "2024-12-11T22:14:21Z", "signer_mismatch"],
    ["trustee-milan-vlek-v3", "oak-milan-v3", "2025-01-16T21:21:54Z", "signer_mismatch"],
  ])("report %s with the certificate of %s at %s → %s", async (report, certOf, time, code) => {
    const r = await verifier.verify({ report: evidence(report).report, endorsementCert: ek(certOf), now: at(time) });
    expect(r.ok ? "ok" : r.error.reason).toBe(code);
  });

  it("the Turin VCEK of another chip (virtee/sev) → bad_report_signature", async () => {
    const r = await verifier.verify({ ...evidence("oak-turin-v5"), endorsementCert: bytes(`${SNP}/oak-turin-v5/negative/vcek_wrong_chip.der`) });
    expect(r.ok ? "ok" : r.error.reason).toBe("bad_report_signature");
  });
});

describe("validity windows at the verification time", () => {
  const windows = [
    { name: "VCEK", notBefore: 1000, notAfter: 2000 },
    { name: "SEV-Milan", notBefore: 0, notAfter: 5000 },
  ];
  it.each([
    [1000, "ok"],
    [2000, "ok"],
    [999, "cert_expired"],
    [2001, "cert_expired"],
  ])("at %i → %s", (now, code) => {
    const r = checkValidity(windows, now);
    expect(r.ok ? "ok" : r.error.reason).toBe(code);
  });

  it("says which bound failed", () => {
    const early = checkValidity(windows, 999);
    const late = checkValidity(windows, 2001);
    expect(!early.ok && early.error.detail).toMatch(/^VCEK is not yet valid/);
    expect(!late.ok && late.error.detail).toMatch(/^VCEK expired/);
  });

  it.each([
    ["gsg-milan-v2", "2022-09-24T00:55:27Z", "2029-09-24T00:55:29Z"],
    ["oak-turin-v5", "2025-07-17T17:04:45Z", "2032-07-17T17:04:47Z"],
    ["tinfoil-genoa-v3", "2026-01-11T16:38:55Z", "2033-01-11T16:38:57Z"],
  ])("%s: one second outside the VCEK's window is cert_expired on both sides", async (name, before, after) => {
    for (const time of [before, after]) {
      const r = await verifier.verify({ ...evidence(name), now: at(time) });
      expect(r.ok ? "ok" : r.error.reason).toBe("cert_expired");
    }
  });

  it("the ARK's and ASK's windows count too (a Milan VCEK in 2046, if it lived that long)", () => {
    const r = checkValidity([{ name: "ARK-Milan", notBefore: at("2020-10-22T00:00:00Z"), notAfter: at("2045-10-22T00:00:00Z") }], at("2046-01-01T00:00:00Z"));
    expect(!r.ok && r.error.detail).toMatch(/^ARK-Milan expired/);
  });
});

describe("readEndorsementFacts: the AMD extensions, strictly", () => {
  const milan = cert(evidence("gsg-milan-v2").endorsementCert);
  const turin = cert(evidence("oak-turin-v5").endorsementCert);
  const vlek = cert(evidence("trustee-milan-vlek-v3").endorsementCert);
  const hwId = milan.extensions.get(`${AMD}4`)!.value;

  it.each<[string, ParsedCertificate, string]>([
    ["missing blSPL", withExtensions(milan, (m) => m.delete(`${AMD}3.1`)), "malformed_endorsement_cert"],
    ["missing ucodeSPL", withExtensions(milan, (m) => m.delete(`${AMD}3.8`)), "malformed_endorsement_cert"],
    ["snpSPL 256", withExtensions(milan, (m) => m.set(`${AMD}3.3`, int(256))), "malformed_endorsement_cert"],
    ["blSPL not an INTEGER", withExtensions(milan, (m) => m.set(`${AMD}3.1`, { critical: false, value: Uint8Array.of(4, 1, 2) })), "malformed_endorsement_cert"],
    ["a 63-byte hwID", withExtensions(milan, (m) => m.set(`${AMD}4`, { critical: false, value: hwId.subarray(1) })), "malformed_endorsement_cert"],
    ["a VCEK without hwID", withExtensions(milan, (m) => m.delete(`${AMD}4`)), "malformed_endorsement_cert"],
    ["a VCEK with cspID", withExtensions(milan, (m) => m.set(`${AMD}5`, vlek.extensions.get(`${AMD}5`)!)), "malformed_endorsement_cert"],
    ["a VLEK with hwID", withExtensions(vlek, (m) => m.set(`${AMD}4`, { critical: false, value: hwId })), "malformed_endorsement_cert"],
    ["a VLEK without cspID", withExtensions(vlek, (m) => m.delete(`${AMD}5`)), "malformed_endorsement_cert"],
    ["fmcSPL on Milan", withExtensions(milan, (m) => m.set(`${AMD}3.9`, int(0))), "malformed_endorsement_cert"],
    ["Turin without fmcSPL", withExtensions(turin, (m) => m.delete(`${AMD}3.9`)), "malformed_endorsement_cert"],
    ["Turin with structVersion 0", withExtensions(turin, (m) => m.set(`${AMD}1`, int(0))), "malformed_endorsement_cert"],
    ["Milan with structVersion 2", withExtensions(milan, (m) => m.set(`${AMD}1`, int(2))), "malformed_endorsement_cert"],
    ["productName Venice", withExtensions(milan, (m) => m.set(`${AMD}2`, { critical: false, value: Uint8Array.of(0x16, 6, ...utf8("Venice")) })), "unsupported_product"],
    ["productName not IA5String", withExtensions(milan, (m) => m.set(`${AMD}2`, { critical: false, value: Uint8Array.of(0x0c, 5, ...utf8("Milan")) })), "malformed_endorsement_cert"],
    ["an unknown critical extension", withExtensions(milan, (m) => m.set("1.2.3.4", { critical: true, value: Uint8Array.of(5, 0) })), "malformed_endorsement_cert"],
    ["subject CN SEV-Milan", { ...milan, subject: new Map([...milan.subject, ["2.5.4.3", ["SEV-Milan"]]]) }, "malformed_endorsement_cert"],
    ["version 1", { ...milan, version: 1 }, "malformed_endorsement_cert"],
  ])("%s → %s", (_what, c, code) => {
    const r = readEndorsementFacts(c);
    expect(r.ok ? "ok" : r.error.reason).toBe(code);
  });

  it("an unknown non-critical extension is ignored; an OCTET STRING-wrapped hwID is accepted", () => {
    const r = readEndorsementFacts(withExtensions(milan, (m) => {
      m.set("1.2.3.4", { critical: false, value: Uint8Array.of(5, 0) });
      m.set(`${AMD}4`, { critical: false, value: Uint8Array.of(4, 64, ...hwId) });
    }));
    expect(r.ok && r.value.hwId).toEqual(hwId);
  });

  it("a P-256 key is refused", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
    const r = readEndorsementFacts({ ...milan, spki });
    expect(r.ok ? "ok" : r.error.detail).toMatch(/not EC P-384/);
  });
});
