/**
 * One TDX collateral item verified on its own (what a PCS answer and an uploaded file must pass before
 * they are stored): the real vectors with the pinned root, their tampered variants, and items re-signed
 * under a test root to show that `id`s other than TDX / TD_QE are refused for themselves.
 */
import { describe, expect, it } from "vitest";
import { fromPemAll, toHex, toPem } from "../../../src/lib/encoding";
import { parseCertificate, type ParsedCertificate } from "../../../src/lib/x509/cert-reader";
import { parseCrl, type ParsedCrl } from "../../../src/lib/x509/crl-reader";
import { INTEL_SGX_ROOT_CA_DER } from "../../../src/lib/attestation/tdx/roots";
import { readSignedJson } from "../../../src/lib/attestation/tdx/signed-json";
import { verifyPckCrlItem, verifyQeIdentityItem, verifyRootCaCrlItem, verifyTcbInfoItem } from "../../../src/lib/attestation/tdx/collateral-items";
import { x509 } from "../../support/x509";
import { INDEX, loadVector } from "./tdx-fixtures";
import { flip } from "./tdx-mutations";

const BASE = "automata-v5-td15-90c06f-alibaba";
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function parsed<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(`fixture does not parse: ${JSON.stringify(r.error)}`);
  return r.value;
}

const intelRoot = parsed(parseCertificate(INTEL_SGX_ROOT_CA_DER));
const files = (dir: string) => loadVector(dir).files;
const rootCrlOf = (dir: string): ParsedCrl => parsed(parseCrl(files(dir)["root_ca_crl.der"]!));
const negative = (mutation: string, name: string) => loadVector(`negative/${BASE}--${mutation}`).files[name]!;

describe("every vector's items verify on their own with the pinned root", () => {
  const dirs = INDEX.positive.map((e) => e.dir);

  it("covers every positive vector", () => {
    expect(dirs.length).toBeGreaterThanOrEqual(10);
  });

  it.each(dirs)("%s", async (dir) => {
    const f = files(dir);
    const root = await verifyRootCaCrlItem(f["root_ca_crl.der"]!, intelRoot);
    expect(root.ok).toBe(true);
    const rootCrl = rootCrlOf(dir);
    const tcb = await verifyTcbInfoItem(f["tcb_info.json"]!, f["tcb_info_issuer_chain.pem"]!, rootCrl, intelRoot);
    const expectedFmspc = (JSON.parse(dec(f["tcb_info.json"]!)) as { tcbInfo: { fmspc: string } }).tcbInfo.fmspc.toLowerCase();
    expect(tcb.ok && toHex(tcb.value.fmspc)).toBe(expectedFmspc);
    expect(await verifyQeIdentityItem(f["qe_identity.json"]!, f["qe_identity_issuer_chain.pem"]!, rootCrl, intelRoot)).toMatchObject({ ok: true, value: { id: "TD_QE" } });
    expect(await verifyPckCrlItem(f["pck_crl.der"]!, f["pck_crl_issuer_chain.pem"]!, rootCrl, intelRoot)).toMatchObject({ ok: true, value: { ca: "platform" } });
  });
});

describe("an item that does not verify is refused with the reason", () => {
  const f = files(BASE);
  const rootCrl = rootCrlOf(BASE);
  const fakeRoot = parsed(parseCertificate(loadVector(`negative/${BASE}--wrong-root`).trustedRoot));
  const tcb = (body: Uint8Array, chain = f["tcb_info_issuer_chain.pem"]!, anchor = intelRoot, crl = rootCrl) => verifyTcbInfoItem(body, chain, crl, anchor);
  const qe = (body: Uint8Array, chain = f["qe_identity_issuer_chain.pem"]!) => verifyQeIdentityItem(body, chain, rootCrl, intelRoot);
  const pck = (body: Uint8Array, chain = f["pck_crl_issuer_chain.pem"]!) => verifyPckCrlItem(body, chain, rootCrl, intelRoot);
  const tcbSigner = parsed(parseCertificate(fromPemAll(dec(f["tcb_info_issuer_chain.pem"]!), "CERTIFICATE")![0]!));

  it.each([
    ["a tampered TCB Info", () => tcb(negative("tcbinfo-tampered", "tcb_info.json")), "tcb_info_untrusted"],
    ["TCB Info with a fresh date (signature broken)", () => tcb(enc(dec(f["tcb_info.json"]!).replace(/"nextUpdate":"[^"]+"/, '"nextUpdate":"2030-01-01T00:00:00Z"'))), "tcb_info_untrusted"],
    ["TCB Info with the PCK CRL's chain", () => tcb(f["tcb_info.json"]!, f["pck_crl_issuer_chain.pem"]!), "tcb_info_untrusted"],
    ["TCB Info checked against an impostor root", () => tcb(f["tcb_info.json"]!, undefined, fakeRoot), "tcb_info_untrusted"],
    ["TCB Info whose signer is on the Root CA CRL", () => tcb(f["tcb_info.json"]!, undefined, undefined, { ...rootCrl, revokedSerials: new Set([tcbSigner.serialHex]) }), "tcb_info_untrusted"],
    ["TCB Info with no issuer chain", () => tcb(f["tcb_info.json"]!, enc("")), "issuer_chain_malformed"],
    ["a QE Identity as TCB Info", () => tcb(f["qe_identity.json"]!), "tcb_info_malformed"],
    ["a tampered QE Identity", () => qe(negative("qeid-tampered", "qe_identity.json")), "qe_identity_untrusted"],
    ["QE Identity with the PCK CRL's chain", () => qe(f["qe_identity.json"]!, f["pck_crl_issuer_chain.pem"]!), "qe_identity_untrusted"],
    ["a PCK CRL with a flipped signature", () => pck(flip(f["pck_crl.der"]!, f["pck_crl.der"]!.length - 1)), "pck_crl_untrusted"],
    ["the Root CA CRL as a PCK CRL", () => pck(negative("pck-crl-is-root-crl", "pck_crl.der")), "pck_crl_wrong_issuer"],
    ["a PCK CRL with the TCB Info's chain", () => pck(f["pck_crl.der"]!, f["tcb_info_issuer_chain.pem"]!), "pck_crl_untrusted"],
    ["a Root CA CRL with a flipped signature", () => verifyRootCaCrlItem(flip(f["root_ca_crl.der"]!, f["root_ca_crl.der"]!.length - 1), intelRoot), "root_ca_crl_untrusted"],
    ["a PCK CRL as the Root CA CRL", () => verifyRootCaCrlItem(f["pck_crl.der"]!, intelRoot), "root_ca_crl_untrusted"],
    ["the Root CA CRL checked against an impostor root", () => verifyRootCaCrlItem(f["root_ca_crl.der"]!, fakeRoot), "root_ca_crl_untrusted"],
    ["garbage as the Root CA CRL", () => verifyRootCaCrlItem(enc("<html>"), intelRoot), "root_ca_crl_malformed"],
  ])("%s → %s", async (_name, run, reason) => {
    expect(await run()).toMatchObject({ ok: false, error: { reason } });
  });
});

describe("an item signed by the trusted root but for something else is refused", () => {
  const ECDSA = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const f = files(BASE);
  const rootCrl = rootCrlOf(BASE);

  /** A root and a TCB Signing certificate under it (the CN phrases Intel's chains have). */
  async function testSigningChain(): Promise<{ anchor: ParsedCertificate; chainPem: Uint8Array; key: CryptoKey }> {
    const rootKeys = (await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"])) as CryptoKeyPair;
    const signerKeys = (await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"])) as CryptoKeyPair;
    const validity = { notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2040-01-01T00:00:00Z") };
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=Test SGX Root CA",
      keys: rootKeys,
      signingAlgorithm: ECDSA,
      extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
      ...validity,
    });
    const signer = await x509.X509CertificateGenerator.create({
      serialNumber: "02",
      subject: "CN=Test SGX TCB Signing",
      issuer: root.subject,
      publicKey: signerKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: ECDSA,
      ...validity,
    });
    const chainPem = enc(toPem("CERTIFICATE", new Uint8Array(signer.rawData)) + toPem("CERTIFICATE", new Uint8Array(root.rawData)));
    return { anchor: parsed(parseCertificate(new Uint8Array(root.rawData))), chainPem, key: signerKeys.privateKey };
  }

  /** The vector's document with its signed member edited, re-signed over the new exact bytes. */
  async function resigned(body: Uint8Array, member: "tcbInfo" | "enclaveIdentity", edit: (json: string) => string, key: CryptoKey): Promise<Uint8Array> {
    const json = edit(dec(parsed(readSignedJson(body, member)).signed));
    const signature = new Uint8Array(await crypto.subtle.sign(ECDSA, key, enc(json)));
    return enc(`{"${member}":${json},"signature":"${toHex(signature)}"}`);
  }

  it("TCB Info: id TDX verifies under the test root, id SGX is tcb_info_mismatch", async () => {
    const { anchor, chainPem, key } = await testSigningChain();
    const same = await resigned(f["tcb_info.json"]!, "tcbInfo", (j) => j, key);
    expect(await verifyTcbInfoItem(same, chainPem, rootCrl, anchor)).toMatchObject({ ok: true, value: { id: "TDX" } });
    const sgx = await resigned(f["tcb_info.json"]!, "tcbInfo", (j) => j.replace('"id":"TDX"', '"id":"SGX"'), key);
    expect(await verifyTcbInfoItem(sgx, chainPem, rootCrl, anchor)).toMatchObject({ ok: false, error: { reason: "tcb_info_mismatch" } });
  });

  it("QE Identity: id TD_QE verifies under the test root, the SGX QE's is qe_identity_mismatch", async () => {
    const { anchor, chainPem, key } = await testSigningChain();
    const same = await resigned(f["qe_identity.json"]!, "enclaveIdentity", (j) => j, key);
    expect(await verifyQeIdentityItem(same, chainPem, rootCrl, anchor)).toMatchObject({ ok: true, value: { id: "TD_QE" } });
    const sgxQe = await resigned(f["qe_identity.json"]!, "enclaveIdentity", (j) => j.replace('"id":"TD_QE"', '"id":"QE"'), key);
    expect(await verifyQeIdentityItem(sgxQe, chainPem, rootCrl, anchor)).toMatchObject({ ok: false, error: { reason: "qe_identity_mismatch" } });
  });
});
