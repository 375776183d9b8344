import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromPemAll } from "../../../src/lib/encoding";
import { commonName, parseCertificate } from "../../../src/lib/x509/cert-reader";
import { parseCrl } from "../../../src/lib/x509/crl-reader";
import { verifySignedData } from "../../../src/lib/x509/signed-data";
import { mutate, prng } from "./x509-test-kit";

const F = "test/fixtures";
const pem = (path: string) => fromPemAll(readFileSync(`${F}/${path}`, "utf8"), "CERTIFICATE")!;

describe("cert-reader on real vendor chains", () => {
  it.each(["milan", "genoa", "turin"])("AMD %s: ARK self-signed, ASK and ASVK under ARK (RSASSA-PSS SHA-384)", async (p) => {
    const [ark] = pem(`snp/amd_chains/${p}/ark.pem`).map((d) => parseCertificate(d));
    const [ask] = pem(`snp/amd_chains/${p}/ask.pem`).map((d) => parseCertificate(d));
    const [asvk] = pem(`snp/amd_chains/${p}/asvk.pem`).map((d) => parseCertificate(d));
    expect(ark!.ok && ask!.ok && asvk!.ok).toBe(true);
    if (!ark!.ok || !ask!.ok || !asvk!.ok) return;
    const product = p[0]!.toUpperCase() + p.slice(1);
    expect(commonName(ark!.value.subject)).toBe(`ARK-${product}`);
    expect(commonName(ask!.value.subject)).toBe(`SEV-${product}`);
    expect(commonName(asvk!.value.subject)).toBe(`SEV-VLEK-${product}`);
    expect(ark!.value.version).toBe(3);
    expect((await verifySignedData(ark!.value.signatureAlgorithm, ark!.value.tbs, ark!.value.signature, ark!.value.spki)).ok).toBe(true);
    for (const c of [ask!.value, asvk!.value]) {
      expect((await verifySignedData(c.signatureAlgorithm, c.tbs, c.signature, ark!.value.spki)).ok).toBe(true);
      expect((await verifySignedData(c.signatureAlgorithm, c.tbs, c.signature, c.spki)).ok).toBe(false);
    }
  });

  it("a VCEK verifies under its ASK and carries the AMD extensions", async () => {
    const vcek = parseCertificate(new Uint8Array(readFileSync(`${F}/snp/gsg-milan-v2/vcek.der`)));
    const [ask] = pem("snp/gsg-milan-v2/ask.pem").map((d) => parseCertificate(d));
    expect(vcek.ok && ask!.ok).toBe(true);
    if (!vcek.ok || !ask!.ok) return;
    expect(commonName(vcek.value.subject)).toBe("SEV-VCEK");
    expect(vcek.value.serialHex).toBe("00");
    expect(vcek.value.extensions.has("1.3.6.1.4.1.3704.1.4")).toBe(true);
    expect((await verifySignedData(vcek.value.signatureAlgorithm, vcek.value.tbs, vcek.value.signature, ask!.value.spki)).ok).toBe(true);
  });

  it("an Intel PCK chain and its CRLs parse and verify (ECDSA P-256)", async () => {
    const dir = `${F}/tdx/google-v4-50806f-spr-e4`;
    const chain = pem("tdx/google-v4-50806f-spr-e4/pck_crl_issuer_chain.pem").map((d) => parseCertificate(d));
    expect(chain.every((c) => c.ok)).toBe(true);
    const certs = chain.map((c) => (c.ok ? c.value : undefined)!);
    const root = certs.find((c) => commonName(c.subject) === "Intel SGX Root CA")!;
    expect(root).toBeDefined();
    for (const c of certs) expect((await verifySignedData(c.signatureAlgorithm, c.tbs, c.signature, root.spki)).ok).toBe(true);
    const rootCrl = parseCrl(new Uint8Array(readFileSync(`${dir}/root_ca_crl.der`)));
    expect(rootCrl.ok).toBe(true);
    if (rootCrl.ok) expect((await verifySignedData(rootCrl.value.signatureAlgorithm, rootCrl.value.tbs, rootCrl.value.signature, root.spki)).ok).toBe(true);
    const pckCrl = parseCrl(new Uint8Array(readFileSync(`${dir}/pck_crl.der`)));
    expect(pckCrl.ok && pckCrl.value.nextUpdate! > pckCrl.value.thisUpdate).toBe(true);
  });

  it("never throws on 20,000 mutated certificates and CRLs", () => {
    const rand = prng(7);
    const inputs = [
      new Uint8Array(readFileSync(`${F}/snp/gsg-milan-v2/vcek.der`)),
      pem("snp/amd_chains/milan/ark.pem")[0]!,
      new Uint8Array(readFileSync(`${F}/tdx/google-v4-50806f-spr-e4/pck_crl.der`)),
    ];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const m = mutate(inputs[i % 3]!, rand);
      const r = i % 3 === 2 ? parseCrl(m) : parseCertificate(m);
      if (r.ok) accepted++;
    }
    expect(accepted).toBeLessThan(20_000);
  });
});

describe("der-values and CRL strictness", () => {
  it("GeneralizedTime years below 100 are not mapped to the 1900s", async () => {
    const { parseTime } = await import("../../../src/lib/x509/der-values");
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(new Date(parseTime(0x18, bytes("00500101000000Z"))!).getUTCFullYear()).toBe(50);
    expect(parseTime(0x17, bytes("500101000000Z"))).toBe(Date.UTC(1950, 0, 1));
    expect(parseTime(0x17, bytes("490101000000Z"))).toBe(Date.UTC(2049, 0, 1));
    expect(parseTime(0x18, bytes("20250230000000Z"))).toBeUndefined();
  });

  it("refuses CRLs with critical extensions it cannot process, and entries without a revocation date", async () => {
    const w = await import("../../../src/lib/x509/der-writer");
    const alg = w.encodeSequence(w.encodeOid("1.2.840.10045.4.3.2"));
    const issuer = w.encodeSequence(w.encodeSet(w.encodeSequence(w.encodeOid("2.5.4.3"), w.encodeUtf8String("Test CA"))));
    const time = w.encodeTime(Date.UTC(2025, 0, 1));
    const ext = (oid: string, critical: boolean) =>
      w.encodeSequence(w.encodeOid(oid), ...(critical ? [w.encodeBoolean(true)] : []), w.encodeOctetString(w.encodeSequence()));
    const crl = (entries: Uint8Array[], exts: Uint8Array[]) => {
      const tbs = w.encodeSequence(
        w.encodeSmallInteger(1),
        alg,
        issuer,
        time,
        time,
        ...(entries.length ? [w.encodeSequence(...entries)] : []),
        ...(exts.length ? [w.encodeExplicit(0, w.encodeSequence(...exts))] : []),
      );
      return w.encodeSequence(tbs, alg, w.encodeBitString(new Uint8Array(8)));
    };
    const entry = (extra: Uint8Array[] = []) => w.encodeSequence(w.encodeUnsignedInteger(Uint8Array.of(5)), time, ...extra);
    expect(parseCrl(crl([entry()], [ext("2.5.29.20", false)])).ok).toBe(true);
    expect(parseCrl(crl([], [ext("2.5.29.28", true)]))).toMatchObject({ ok: false, error: { detail: expect.stringContaining("2.5.29.28") } });
    expect(parseCrl(crl([], [ext("1.2.3.4", false)])).ok).toBe(true);
    expect(parseCrl(crl([entry([w.encodeSequence(ext("2.5.29.29", true))])], []))).toMatchObject({ ok: false });
    expect(parseCrl(crl([w.encodeSequence(w.encodeUnsignedInteger(Uint8Array.of(5)))], [])).ok).toBe(false);
  });
});
