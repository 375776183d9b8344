/**
 * TdxVerifier on hostile and edge input: flipped bytes in every signed region of the quote and of
 * the collateral, impostor roots, validity windows at their exact edges, revocation, collateral of
 * the wrong kind, and the warm-path caches (time re-checked on every call; keyed by bytes, not serial).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromPemAll } from "../../../src/lib/encoding";
import { parseTdxCollateral, type TdxCollateral } from "../../../src/lib/attestation/tdx/collateral";
import type { TdxFailureReason } from "../../../src/lib/attestation/tdx/errors";
import { readPckChain } from "../../../src/lib/attestation/tdx/pck-chain";
import { parseTdxQuote } from "../../../src/lib/attestation/tdx/quote";
import { TdxVerifier, verifyTdxQuote } from "../../../src/lib/attestation/tdx/verify";
import { CHECK_CODES, FIXTURES, loadVector } from "./tdx-fixtures";
import { flip, pemCertificateCount, pemCertificateDer, replacePemCertificate } from "./tdx-mutations";

const V4 = "automata-v4-00806f050000-col0625";
const V5 = "automata-v5-td15-90c06f-alibaba";
const OLD_SIGNING_CERT = "x-trustee-v4-50806f"; // 2023 collateral: TCB signing cert valid until 2025-05-21

async function collateralOf(files: Record<string, Uint8Array>): Promise<TdxCollateral> {
  const c = await parseTdxCollateral(files);
  if (!c.ok) throw new Error(`${c.error.reason}: ${c.error.detail}`);
  return c.value;
}

const FORMAT = new Set<string>(CHECK_CODES.QUOTE_FORMAT);

async function verdict(verifier: TdxVerifier, quote: Uint8Array, collateral: TdxCollateral, now: number): Promise<string> {
  const r = await verifier.verify({ quote, collateral, now });
  return r.ok ? `ok:${r.value.tcb_status}` : r.error.reason;
}

/**
 * What the quote sweeps must cover, from each fixture's layout: the signed header and TD report
 * (v4: 48 + 584 bytes; v5 TD 1.5: 48 + 6 + 648), the QE authentication data, and the PCK chain's
 * DER lengths (leaf, PCK CA, root). A sweep's mutation count is checked against these, so one whose
 * offsets went wrong cannot pass by running zero times.
 */
const QUOTE_LAYOUT: Record<string, { signedEnd: number; qeAuthData: number; pckDer: readonly number[] }> = {
  [V4]: { signedEnd: 632, qeAuthData: 32, pckDer: [1268, 666, 659] },
  [V5]: { signedEnd: 702, qeAuthData: 32, pckDer: [1269, 666, 659] },
};

describe.each([V4, V5])("flipped bytes in the quote %s", (dir) => {
  const v = loadVector(dir);
  const layout = QUOTE_LAYOUT[dir]!;
  const q = parseTdxQuote(v.quote);
  if (!q.ok) throw new Error("fixture");
  const signedEnd = q.value.signedData.length;
  const s = signedEnd + 4; // start of the signature data
  const c = s + 134; // QE report certification data
  const verifier = new TdxVerifier();
  const collateral = collateralOf(v.files);

  /** Flips each byte in [from, to); returns how many it flipped. */
  async function sweep(from: number, to: number, allowed: (code: string) => boolean): Promise<number> {
    const col = await collateral;
    let flipped = 0;
    for (let at = from; at < to; at++, flipped++) {
      const code = await verdict(verifier, flip(v.quote, at), col, v.now);
      if (!allowed(code)) throw new Error(`flipping byte ${at} gave ${code}`);
    }
    return flipped;
  }

  it("the layout the sweeps rely on", () => {
    expect([signedEnd, q.value.qeAuthData.length]).toEqual([layout.signedEnd, layout.qeAuthData]);
    expect([0, 1, 2].map((i) => pemCertificateDer(q.value.pckChainPem, i).length)).toEqual(layout.pckDer);
  });

  it("the unmodified quote verifies", async () => {
    expect(await verdict(verifier, v.quote, await collateral, v.now)).toBe(`ok:${v.expected.tcb_status}`);
  });
  it("header and TD report (signed by the attestation key)", async () => {
    expect(await sweep(0, signedEnd, (code) => FORMAT.has(code) || code === "quote_signature_invalid" || code === "tdx_module_mismatch")).toBe(layout.signedEnd);
  });
  it("signature data length and certification data header", async () => {
    for (const at of [signedEnd, signedEnd + 1, signedEnd + 3, s + 128, s + 129, s + 130, s + 131, s + 133]) {
      expect(FORMAT.has(await verdict(verifier, flip(v.quote, at), await collateral, v.now))).toBe(true);
    }
  });
  it("quote signature", async () => expect(await sweep(s, s + 64, (code) => code === "quote_signature_invalid")).toBe(64));
  it("attestation key", async () => expect(await sweep(s + 64, s + 128, (code) => code === "qe_report_data_mismatch")).toBe(64));
  it("QE report (signed by the PCK key)", async () => expect(await sweep(c, c + 384, (code) => code === "qe_report_signature_invalid")).toBe(384));
  it("QE report signature", async () => expect(await sweep(c + 384, c + 448, (code) => code === "qe_report_signature_invalid")).toBe(64));
  it("QE authentication data and the sizes around it", async () => {
    expect(await sweep(c + 450, c + 450 + q.value.qeAuthData.length, (code) => code === "qe_report_data_mismatch")).toBe(layout.qeAuthData);
    expect(await sweep(c + 448, c + 450, (code) => FORMAT.has(code))).toBe(2);
  });
  it("the PCK chain's certificates (each DER byte position, sampled)", async () => {
    const pem = q.value.pckChainPem;
    const pemAt = pem.byteOffset - v.quote.byteOffset;
    expect(pemCertificateCount(pem)).toBe(3);
    const col = await collateral;
    const flipped = [0, 0, 0];
    for (const index of [0, 1, 2]) {
      const der = pemCertificateDer(pem, index);
      for (let at = index; at < der.length; at += 23, flipped[index]!++) {
        const tampered = v.quote.slice();
        tampered.set(replacePemCertificate(pem, index, flip(der, at)), pemAt);
        const code = await verdict(verifier, tampered, col, v.now);
        if (code !== "pck_chain_malformed" && code !== "pck_chain_untrusted") throw new Error(`cert ${index} byte ${at}: ${code}`);
      }
    }
    expect(flipped).toEqual(layout.pckDer.map((length, index) => Math.ceil((length - index) / 23)));
    expect(flipped).toEqual([56, 29, 29]);
  });
  it("bytes after the signature data are ignored", async () => {
    const padded = new Uint8Array(q.value.end + 64).fill(0xa5);
    padded.set(v.quote.subarray(0, q.value.end));
    expect(await verdict(verifier, padded, await collateral, v.now)).toBe(`ok:${v.expected.tcb_status}`);
  });
});

describe("tampered collateral", () => {
  const v = loadVector(V4);
  const verifier = new TdxVerifier();

  /** Flips every `step`th byte of `name` in `range` (default: all of it); returns how many it flipped. */
  async function sweepFile(name: string, allowed: readonly TdxFailureReason[], step: number, range?: [number, number]): Promise<number> {
    const bytes = v.files[name]!;
    const [from, to] = range ?? [0, bytes.length];
    let flipped = 0;
    for (let at = from; at < to; at += step, flipped++) {
      const c = await parseTdxCollateral({ ...v.files, [name]: flip(bytes, at) });
      const code = c.ok ? await verdict(verifier, v.quote, c.value, v.now) : c.error.reason;
      if (!(allowed as readonly string[]).includes(code)) throw new Error(`${name} byte ${at}: ${code}`);
    }
    return flipped;
  }

  // The V4 collateral the sweeps below count on: file sizes, and where the signed member lies.
  it("the collateral layout the sweeps rely on", () => {
    const sizes = ["tcb_info.json", "qe_identity.json", "root_ca_crl.der", "pck_crl.der"].map((n) => v.files[n]!.length);
    expect(sizes).toEqual([4921, 624, 292, 2662]);
    expect(signedSpan("tcb_info.json", "tcbInfo")).toEqual([11, 4777]);
    expect(signedSpan("qe_identity.json", "enclaveIdentity")).toEqual([19, 480]);
  });

  function signedSpan(name: string, member: string): [number, number] {
    const text = new TextDecoder().decode(v.files[name]!);
    const start = text.indexOf(`"${member}":`) + member.length + 3;
    return [start, text.indexOf(',"signature"')];
  }

  it("TCB Info: every 11th byte of the signed tcbInfo, and the signature", async () => {
    expect(await sweepFile("tcb_info.json", ["tcb_info_malformed", "tcb_info_untrusted"], 11, signedSpan("tcb_info.json", "tcbInfo"))).toBe(434); // ⌈4766 / 11⌉
    const text = new TextDecoder().decode(v.files["tcb_info.json"]!);
    expect(await sweepFile("tcb_info.json", ["tcb_info_malformed", "tcb_info_untrusted"], 1, [text.length - 130, text.length - 2])).toBe(128); // 64 bytes in hex
  });
  it("QE Identity: every 2nd byte of the signed enclaveIdentity, and the signature", async () => {
    expect(await sweepFile("qe_identity.json", ["qe_identity_malformed", "qe_identity_untrusted"], 2, signedSpan("qe_identity.json", "enclaveIdentity"))).toBe(231); // ⌈461 / 2⌉
    const text = new TextDecoder().decode(v.files["qe_identity.json"]!);
    expect(await sweepFile("qe_identity.json", ["qe_identity_malformed", "qe_identity_untrusted"], 1, [text.length - 130, text.length - 2])).toBe(128);
  });
  it("CRLs: every 2nd byte of the root CRL, every 13th of the PCK CRL", async () => {
    expect(await sweepFile("root_ca_crl.der", ["root_ca_crl_malformed", "root_ca_crl_untrusted"], 2)).toBe(146); // ⌈292 / 2⌉
    expect(await sweepFile("pck_crl.der", ["pck_crl_malformed", "pck_crl_untrusted", "pck_crl_wrong_issuer"], 13)).toBe(205); // ⌈2662 / 13⌉
  });
  it.each([
    ["tcb_info_issuer_chain.pem", "tcb_info_untrusted"],
    ["qe_identity_issuer_chain.pem", "qe_identity_untrusted"],
    ["pck_crl_issuer_chain.pem", "pck_crl_untrusted"],
  ] as const)("%s: each certificate's DER, sampled", async (name, untrusted) => {
    const pem = v.files[name]!;
    expect(pemCertificateCount(pem)).toBe(2);
    const flipped = [0, 0];
    for (const index of [0, 1]) {
      const der = pemCertificateDer(pem, index);
      for (let at = index; at < der.length; at += 31, flipped[index]!++) {
        const c = await parseTdxCollateral({ ...v.files, [name]: replacePemCertificate(pem, index, flip(der, at)) });
        const code = c.ok ? await verdict(verifier, v.quote, c.value, v.now) : c.error.reason;
        if (code !== "issuer_chain_malformed" && code !== untrusted) throw new Error(`${name} cert ${index} byte ${at}: ${code}`);
      }
    }
    // The signing certificate (657 or 666 bytes) and the root (659), every 31st byte.
    expect(flipped).toEqual([22, 22]);
  });
  it("a TCB Info for SGX, or an SGX QE identity, is a mismatch", async () => {
    const c = await collateralOf(v.files);
    expect(await verdict(verifier, v.quote, { ...c, tcbInfo: { ...c.tcbInfo, id: "SGX" }, digest: "sgx-tcb" }, v.now)).toBe("tcb_info_mismatch");
    expect(await verdict(verifier, v.quote, { ...c, tcbInfo: { ...c.tcbInfo, version: 2 }, digest: "tcb-v2" }, v.now)).toBe("tcb_info_mismatch");
    expect(await verdict(verifier, v.quote, { ...c, qeIdentity: { ...c.qeIdentity, id: "QE" }, digest: "sgx-qe" }, v.now)).toBe("qe_identity_mismatch");
  });
  it("the Root CA CRL offered as the PCK CRL is pck_crl_wrong_issuer", async () => {
    const c = await collateralOf({ ...v.files, "pck_crl.der": v.files["root_ca_crl.der"]! });
    expect(await verdict(verifier, v.quote, c, v.now)).toBe("pck_crl_wrong_issuer");
  });
  it("a PCK CRL of another CA is pck_crl_wrong_issuer, even when it and its chain are genuine", async () => {
    // The PCK CRL and chain are genuine; only the quote's PCK issuer differs (simulated by name).
    const c = await collateralOf(v.files);
    const other = { ...c, pckCrl: { ...c.pckCrl, issuerRaw: c.rootCaCrl.issuerRaw }, digest: "other-ca" };
    expect(await verdict(verifier, v.quote, other, v.now)).toBe("pck_crl_wrong_issuer");
  });
  it("a missing file is collateral_file_missing", async () => {
    const files = { ...v.files };
    delete files["root_ca_crl.der"];
    const c = await parseTdxCollateral(files);
    expect(c.ok || c.error.reason).toBe("collateral_file_missing");
  });
});

describe("revocation", () => {
  const v = loadVector(V4);
  const verifier = new TdxVerifier();
  it("a revoked PCK certificate, PCK CA, TCB signing certificate or PCK CRL issuer is rejected", async () => {
    const c = await collateralOf(v.files);
    const q = parseTdxQuote(v.quote);
    const chain = q.ok ? readPckChain(q.value.pckChainPem) : undefined;
    if (!chain?.ok) throw new Error("fixture");
    const [leaf, ca] = chain.value;
    const revoke = (crl: TdxCollateral["pckCrl"], s: string) => ({ ...crl, revokedSerials: new Set([...crl.revokedSerials, s]) });
    expect(await verdict(verifier, v.quote, { ...c, pckCrl: revoke(c.pckCrl, leaf!.serialHex), digest: "r1" }, v.now)).toBe("pck_revoked");
    // The quote's PCK CA is also the PCK CRL's issuer, so the collateral check catches it first.
    expect(["pck_crl_untrusted", "pck_ca_revoked"]).toContain(await verdict(verifier, v.quote, { ...c, rootCaCrl: revoke(c.rootCaCrl, ca!.serialHex), digest: "r2" }, v.now));
    expect(await verdict(verifier, v.quote, { ...c, rootCaCrl: revoke(c.rootCaCrl, c.tcbInfoIssuerChain[0]!.serialHex), digest: "r3" }, v.now)).toBe("tcb_info_untrusted");
    expect(await verdict(verifier, v.quote, { ...c, rootCaCrl: revoke(c.rootCaCrl, c.pckCrlIssuerChain[0]!.serialHex), digest: "r4" }, v.now)).toBe("pck_crl_untrusted");
  });
});

describe("roots", () => {
  it("an impostor root with the Intel SGX Root CA's name is not trusted", async () => {
    const v = loadVector(V4);
    const fake = fromPemAll(readFileSync(join(FIXTURES, "negative", "fake_intel_sgx_root_ca.pem"), "utf8"), "CERTIFICATE")![0]!;
    const r = await verifyTdxQuote({ quote: v.quote, collateral: await collateralOf(v.files), now: v.now, trustedRoot: fake });
    expect(r.ok || r.error.reason).toBe("root_ca_crl_untrusted");
  });
  it("a trusted root that is not a certificate is caller misuse (TypeError)", () => {
    expect(() => new TdxVerifier({ trustedRoot: new Uint8Array([1, 2, 3]) })).toThrow(TypeError);
  });
});

describe("validity windows at the verification time", () => {
  const manifest = (dir: string) =>
    JSON.parse(readFileSync(join(FIXTURES, dir, "vector.json"), "utf8")) as { valid_window: { not_before: string; not_after: string } };

  it.each([V4, V5, "phala-v4-b0c06f-uptodate", "x-google-v5-td15-90c06f", OLD_SIGNING_CERT])("%s: inclusive at both edges, rejected 1 ms outside", async (dir) => {
    const v = loadVector(dir);
    const w = manifest(dir).valid_window;
    const from = Date.parse(w.not_before);
    const to = Date.parse(w.not_after);
    const verifier = new TdxVerifier();
    const c = await collateralOf(v.files);
    const ok = `ok:${v.expected.tcb_status}`;
    expect(await verdict(verifier, v.quote, c, from)).toBe(ok);
    expect(await verdict(verifier, v.quote, c, to)).toBe(ok);
    expect(await verdict(verifier, v.quote, c, from - 1)).toMatch(/_not_yet_valid$/);
    expect(await verdict(verifier, v.quote, c, to + 1)).toMatch(/_expired$/);
    // The cached checks do not remember a time: back inside the window it verifies again.
    expect(await verdict(verifier, v.quote, c, v.now)).toBe(ok);
    const r = await verifier.verify({ quote: v.quote, collateral: c, now: v.now });
    expect(r.ok && r.value.collateral_expires_at).toBe(new Date(to).toISOString());
  });
});

describe("the warm path's caches", () => {
  it("are keyed by bytes: a tampered TCB Info after a warm success is still rejected", async () => {
    const verifier = new TdxVerifier();
    const v = loadVector(V4);
    expect(await verdict(verifier, v.quote, await collateralOf(v.files), v.now)).toBe("ok:OutOfDate");
    const tampered = loadVector(`negative/${V4}--tcbinfo-tampered`);
    expect(await verdict(verifier, tampered.quote, await collateralOf(tampered.files), tampered.now)).toBe("tcb_info_untrusted");
  });
  it("only trust the digest of sets parseTdxCollateral made: a hand-built set is checked afresh", async () => {
    const verifier = new TdxVerifier();
    const v = loadVector(V4);
    const genuine = await collateralOf(v.files);
    expect(await verdict(verifier, v.quote, genuine, v.now)).toBe("ok:OutOfDate");
    const tampered = await collateralOf(loadVector(`negative/${V4}--tcbinfo-tampered`).files);
    const forged = { ...genuine, tcbInfo: tampered.tcbInfo }; // claims the genuine set's digest
    expect(forged.digest).toBe(genuine.digest);
    expect(await verdict(verifier, v.quote, forged, v.now)).toBe("tcb_info_untrusted");
  });
  it("tell apart the two TCB signing certificates Intel issued with one serial", async () => {
    const verifier = new TdxVerifier();
    const old = loadVector(OLD_SIGNING_CERT);
    const current = loadVector(V4);
    const oldC = await collateralOf(old.files);
    const newC = await collateralOf(current.files);
    expect(oldC.tcbInfoIssuerChain[0]!.serialHex).toBe(newC.tcbInfoIssuerChain[0]!.serialHex);
    expect(oldC.tcbInfoIssuerChain[0]!.notAfter).not.toBe(newC.tcbInfoIssuerChain[0]!.notAfter);
    expect(await verdict(verifier, old.quote, oldC, old.now)).toBe("ok:UpToDate");
    expect(await verdict(verifier, current.quote, newC, current.now)).toBe("ok:OutOfDate");
    // The 2023 set at a 2025 time fails on its own (old) signing certificate, not on the new one's validity.
    expect(await verdict(verifier, old.quote, oldC, Date.parse("2025-06-01T00:00:00Z"))).toMatch(/_expired$/);
  });
  it("a bounded cache still verifies correctly after evictions", async () => {
    const verifier = new TdxVerifier({ cacheSize: 1 });
    for (const dir of [V4, V5, V4, "phala-v4-b0c06f-uptodate", V5]) {
      const v = loadVector(dir);
      expect(await verdict(verifier, v.quote, await collateralOf(v.files), v.now)).toBe(`ok:${v.expected.tcb_status}`);
    }
  });
});

describe("claims", () => {
  it("have the stable shape, lowercase hex, mr_service_td for TD 1.5 only", async () => {
    const hex = /^[0-9a-f]*$/;
    for (const dir of [V4, V5]) {
      const v = loadVector(dir);
      const r = await new TdxVerifier().verify({ quote: v.quote, collateral: await collateralOf(v.files), now: v.now });
      if (!r.ok) throw new Error(r.error.reason);
      const c = r.value;
      const keys = ["quote_version", "tee_tcb_svn", "mr_seam", "mr_signer_seam", "seam_attributes", "td_attributes", "xfam", "mr_td", "mr_config_id", "mr_owner", "mr_owner_config", "rtmr", "report_data"];
      expect(Object.keys(c)).toEqual([...keys, ...(dir === V5 ? ["mr_service_td"] : []), "fmspc", "tcb_status", "advisory_ids", "collateral_expires_at"]);
      for (const k of ["tee_tcb_svn", "mr_seam", "mr_td", "report_data", "fmspc", "xfam"] as const) expect(c[k]).toMatch(hex);
      expect(c.rtmr).toHaveLength(4);
      expect(Object.keys(c.td_attributes)).toEqual(["debug", "sept_ve_disable", "pks", "kl", "perfmon", "raw"]);
      expect(c.collateral_expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });
  it("carry the V4 vector's advisories and FMSPC", async () => {
    const v = loadVector(V4);
    const r = await new TdxVerifier().verify({ quote: v.quote, collateral: await collateralOf(v.files), now: v.now });
    expect(r.ok && r.value.advisory_ids).toEqual(["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"]);
    expect(r.ok && r.value.fmspc).toBe("00806f050000");
    expect(r.ok && r.value.quote_version).toBe(4);
  });
});
