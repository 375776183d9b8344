/** The collateral loader (shape only), the signed-JSON reader and the pinned root. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromPemAll, toHex, toPem } from "../../../src/lib/encoding";
import { parseTdxCollateral, TDX_COLLATERAL_FILES } from "../../../src/lib/attestation/tdx/collateral";
import { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from "../../../src/lib/attestation/tdx/roots";
import { readSignedJson } from "../../../src/lib/attestation/tdx/signed-json";
import { FIXTURES, loadVector, readBytes } from "./tdx-fixtures";

const V4 = "automata-v4-00806f050000-col0625";
const enc = (s: string) => new TextEncoder().encode(s);

async function reason(files: Record<string, Uint8Array>): Promise<string> {
  const r = await parseTdxCollateral(files);
  return r.ok ? "ok" : r.error.reason;
}

describe("the pinned Intel SGX Root CA", () => {
  it("is the fixture's root, with the published SHA-256 fingerprint", async () => {
    const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", INTEL_SGX_ROOT_CA_DER as Uint8Array<ArrayBuffer>)));
    expect(digest).toBe(INTEL_SGX_ROOT_CA_SHA256);
    expect(digest).toBe("44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
    expect(toHex(INTEL_SGX_ROOT_CA_DER)).toBe(toHex(readBytes(join(FIXTURES, "intel_sgx_root_ca.der"))));
    const pem = fromPemAll(readFileSync(join(FIXTURES, "intel_sgx_root_ca.pem"), "utf8"), "CERTIFICATE")![0]!;
    expect(toHex(pem)).toBe(toHex(INTEL_SGX_ROOT_CA_DER));
  });
});

describe("parseTdxCollateral", () => {
  const files = loadVector(V4).files;

  it("reads the seven files and ignores others", async () => {
    const r = await parseTdxCollateral({ ...files, "vector.json": enc("{}") });
    if (!r.ok) throw new Error(r.error.detail);
    expect(r.value.tcbInfo.id).toBe("TDX");
    expect(r.value.qeIdentity.id).toBe("TD_QE");
    expect(r.value.tcbInfoIssuerChain).toHaveLength(2);
    expect(r.value.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.values(TDX_COLLATERAL_FILES).sort()).toEqual(Object.keys(files).sort());
  });

  it("the digest changes with any file's bytes, and only with them", async () => {
    const a = await parseTdxCollateral(files);
    const b = await parseTdxCollateral({ ...files });
    const c = await parseTdxCollateral({ ...files, "pck_crl_issuer_chain.pem": enc(`${new TextDecoder().decode(files["pck_crl_issuer_chain.pem"]!)}\n`) });
    expect(a.ok && b.ok && a.value.digest === b.value.digest).toBe(true);
    expect(a.ok && c.ok && a.value.digest !== c.value.digest).toBe(true);
  });

  it("accepts CRLs as PEM too", async () => {
    const pem = enc(toPem("X509 CRL", files["pck_crl.der"]!));
    expect(await reason({ ...files, "pck_crl.der": pem })).toBe("ok");
  });

  it.each([
    ["tcb_info.json", enc("not json"), "tcb_info_malformed"],
    ["tcb_info.json", enc('{"tcbInfo":{},"signature":"00"}'), "tcb_info_malformed"],
    ["qe_identity.json", enc("[]"), "qe_identity_malformed"],
    ["pck_crl.der", new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), "pck_crl_malformed"],
    ["root_ca_crl.der", enc("-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"), "root_ca_crl_malformed"],
    ["tcb_info_issuer_chain.pem", enc(""), "issuer_chain_malformed"],
    ["qe_identity_issuer_chain.pem", enc("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), "issuer_chain_malformed"],
  ])("%s: malformed content → %s", async (name, bytes, code) => {
    expect(await reason({ ...files, [name]: bytes })).toBe(code);
  });

  it("a missing or oversized file is collateral_file_missing", async () => {
    for (const name of Object.values(TDX_COLLATERAL_FILES)) {
      const partial = { ...files };
      delete partial[name];
      expect(await reason(partial)).toBe("collateral_file_missing");
    }
    expect(await reason({ ...files, "tcb_info.json": new Uint8Array(2 * 1024 * 1024) })).toBe("collateral_file_missing");
  });
});

describe("readSignedJson", () => {
  it("returns the exact bytes of the signed member, whitespace and key order included", () => {
    const body = enc('{ "signature" : "' + "ab".repeat(64) + '", "tcbInfo" :  {"b":1, "a":"x}\\"{"} }');
    const r = readSignedJson(body, "tcbInfo");
    if (!r.ok) throw new Error(r.error);
    expect(new TextDecoder().decode(r.value.signed)).toBe('{"b":1, "a":"x}\\"{"}');
    expect(r.value.value).toEqual({ b: 1, a: 'x}"{' });
  });
  it.each([
    ["a duplicate signed member", '{"tcbInfo":{"a":1},"tcbInfo":{"a":2},"signature":"' + "00".repeat(64) + '"}'],
    ["a duplicate signature", '{"tcbInfo":{"a":1},"signature":"' + "00".repeat(64) + '","signature":"' + "11".repeat(64) + '"}'],
    ["no signature", '{"tcbInfo":{"a":1}}'],
    ["a short signature", '{"tcbInfo":{"a":1},"signature":"00"}'],
    ["a signed member that is not an object", '{"tcbInfo":[1],"signature":"' + "00".repeat(64) + '"}'],
    ["invalid UTF-8", "\uFFFD"],
  ])("rejects %s", (_name, text) => {
    const bytes = text === "\uFFFD" ? new Uint8Array([0x7b, 0xff, 0x7d]) : enc(text);
    expect(readSignedJson(bytes, "tcbInfo").ok).toBe(false);
  });
});

describe("checkCollateral (what uploads are verified with)", () => {
  it("refuses the root CRL offered as the PCK CRL with the root as its 'PCK CA'", async () => {
    const { checkCollateral } = await import("../../../src/lib/attestation/tdx/collateral-check");
    const { parseCertificate } = await import("../../../src/lib/x509/cert-reader");
    const dir = join(FIXTURES, "phala-v4-b0c06f-uptodate");
    const files = Object.fromEntries(Object.values(TDX_COLLATERAL_FILES).map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]));
    const anchor = parseCertificate(INTEL_SGX_ROOT_CA_DER);
    if (!anchor.ok) throw new Error("root");
    const good = await parseTdxCollateral(files);
    expect(good.ok && (await checkCollateral(good.value, anchor.value)).ok).toBe(true);
    const rootPem = toPem("CERTIFICATE", INTEL_SGX_ROOT_CA_DER);
    const evil = await parseTdxCollateral({ ...files, "pck_crl.der": files["root_ca_crl.der"], "pck_crl_issuer_chain.pem": new TextEncoder().encode(rootPem + rootPem) });
    expect(evil.ok).toBe(true);
    if (evil.ok) expect((await checkCollateral(evil.value, anchor.value)).ok).toBe(false);
  });
});
