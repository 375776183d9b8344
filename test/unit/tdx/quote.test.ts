/** The quote parser: every vector decodes to decoded.json; malformed quotes get specific codes. */
import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/lib/encoding";
import { parseTdxQuote, type TdxQuote } from "../../../src/lib/attestation/tdx/quote";
import { decodeTdAttributes } from "../../../src/lib/attestation/tdx/claims";
import { decoded, INDEX, loadVector } from "./tdx-fixtures";

const V4 = "automata-v4-00806f050000-col0625";
const V5 = "automata-v5-td15-90c06f-alibaba";

function parse(bytes: Uint8Array): TdxQuote {
  const r = parseTdxQuote(bytes);
  if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
  return r.value;
}

function reason(bytes: Uint8Array): string {
  const r = parseTdxQuote(bytes);
  return r.ok ? "ok" : r.error.reason;
}

function patched(dir: string, edit: (b: Uint8Array, view: DataView) => void): Uint8Array {
  const b = loadVector(dir).quote.slice();
  edit(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
  return b;
}

describe("parseTdxQuote on the real vectors", () => {
  it.each(INDEX.positive.map((e) => [e.dir]))("%s matches decoded.json", (dir) => {
    const d = decoded(dir) as {
      raw_len: number;
      header: { version: number; qe_vendor_id: string; user_data: string };
      body_type: number;
      signed_data_len: number;
      td_report: Record<string, string>;
      quote_signature: string;
      attestation_key: string;
      qe_auth_data: string;
      qe_report: Record<string, string | number>;
      qe_report_signature: string;
      offsets: { end: number };
      verification: { td_policy: Record<string, boolean> };
    };
    const q = parse(loadVector(dir).quote);
    expect(q.version).toBe(d.header.version);
    expect(q.bodyType).toBe(d.body_type);
    expect(toHex(q.qeVendorId)).toBe(d.header.qe_vendor_id);
    expect(toHex(q.userData)).toBe(d.header.user_data);
    expect(q.signedData.length).toBe(d.signed_data_len);
    expect(q.end).toBe(d.offsets.end);
    const t = d.td_report;
    const b = q.body;
    expect({
      tee_tcb_svn: toHex(b.teeTcbSvn),
      mr_seam: toHex(b.mrSeam),
      mr_signer_seam: toHex(b.mrSignerSeam),
      seam_attributes: toHex(b.seamAttributes),
      td_attributes: toHex(b.tdAttributes),
      xfam: toHex(b.xfam),
      mr_td: toHex(b.mrTd),
      mr_config_id: toHex(b.mrConfigId),
      mr_owner: toHex(b.mrOwner),
      mr_owner_config: toHex(b.mrOwnerConfig),
      rtmr0: toHex(b.rtmr[0]),
      rtmr1: toHex(b.rtmr[1]),
      rtmr2: toHex(b.rtmr[2]),
      rtmr3: toHex(b.rtmr[3]),
      report_data: toHex(b.reportData),
      ...(b.teeTcbSvn2 ? { tee_tcb_svn2: toHex(b.teeTcbSvn2) } : {}),
      ...(b.mrServiceTd ? { mr_service_td: toHex(b.mrServiceTd) } : {}),
    }).toEqual(t);
    expect(toHex(q.signature)).toBe(d.quote_signature);
    expect(toHex(q.attestationKey)).toBe(d.attestation_key);
    expect(toHex(q.qeAuthData)).toBe(d.qe_auth_data);
    expect(toHex(q.qeReportSignature)).toBe(d.qe_report_signature);
    expect(toHex(q.qeReport.mrSigner)).toBe(d.qe_report.mr_signer);
    expect(toHex(q.qeReport.mrEnclave)).toBe(d.qe_report.mr_enclave);
    expect(toHex(q.qeReport.attributes)).toBe(d.qe_report.attributes);
    expect(toHex(q.qeReport.reportData)).toBe(d.qe_report.report_data);
    expect(toHex(q.qeReport.cpuSvn)).toBe(d.qe_report.cpu_svn);
    expect(q.qeReport.isvProdId).toBe(d.qe_report.isv_prod_id_u16);
    expect(q.qeReport.isvSvn).toBe(d.qe_report.isv_svn_u16);
    const a = decodeTdAttributes(q.body.tdAttributes);
    const p = d.verification.td_policy;
    expect({ debug: a.debug, sept_ve_disable: a.sept_ve_disable, pks: a.pks, kl: a.kl, perfmon: a.perfmon }).toEqual({
      debug: p.debug,
      sept_ve_disable: p.sept_ve_disable,
      pks: p.pks,
      kl: p.kl,
      perfmon: p.perfmon,
    });
    expect(new TextDecoder().decode(q.pckChainPem)).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it("ignores bytes after the signature data (zero padding, ASCII text)", () => {
    const base = loadVector("google-v4-50806f-spr-e4").quote;
    const q = parse(base);
    expect(base.length).toBeGreaterThan(q.end);
    const trimmed = parse(base.subarray(0, q.end));
    expect(toHex(trimmed.signedData)).toBe(toHex(q.signedData));
    const padded = new Uint8Array(q.end + 1000).fill(0x41);
    padded.set(base.subarray(0, q.end));
    expect(parse(padded).end).toBe(q.end);
  });

  it("reads v4 as TD 1.0 without TD 1.5 fields and v5 type 3 with them", () => {
    const v4 = parse(loadVector(V4).quote);
    expect(v4.body.teeTcbSvn2).toBeUndefined();
    expect(v4.body.mrServiceTd).toBeUndefined();
    const v5 = parse(loadVector(V5).quote);
    expect(v5.version).toBe(5);
    expect(v5.body.mrServiceTd?.length).toBe(48);
    expect(v5.signedData.length).toBe(702);
  });
});

describe("parseTdxQuote rejects malformed quotes with specific codes", () => {
  const cases: [string, string, Uint8Array][] = [
    ["empty", "quote_truncated", new Uint8Array(0)],
    ["header only", "quote_truncated", loadVector(V4).quote.slice(0, 48)],
    ["v5 without its body descriptor", "quote_truncated", loadVector(V5).quote.slice(0, 50)],
    ["body cut short", "quote_truncated", loadVector(V4).quote.slice(0, 600)],
    ["version 3 (SGX)", "quote_unsupported_version", patched(V4, (_b, v) => v.setUint16(0, 3, true))],
    ["version 6", "quote_unsupported_version", patched(V4, (_b, v) => v.setUint16(0, 6, true))],
    ["attestation key type 3 (P-384)", "quote_unsupported_attestation_key_type", patched(V4, (_b, v) => v.setUint16(2, 3, true))],
    ["TEE type SGX", "quote_unsupported_tee_type", patched(V4, (_b, v) => v.setUint32(4, 0, true))],
    ["another QE vendor", "quote_unsupported_qe_vendor", patched(V4, (b) => (b[12] = b[12]! ^ 1))],
    ["v5 SGX body type", "quote_invalid_body", patched(V5, (_b, v) => v.setUint16(48, 1, true))],
    ["v5 unknown body type", "quote_invalid_body", patched(V5, (_b, v) => v.setUint16(48, 4, true))],
    ["v5 body size not the type's", "quote_invalid_body", patched(V5, (_b, v) => v.setUint32(50, 584, true))],
    ["signature data longer than the quote", "quote_truncated", patched(V5, (_b, v) => v.setUint32(702, 0xffffffff, true))],
    ["signature data too short", "quote_invalid_certification_data", patched(V5, (_b, v) => v.setUint32(702, 100, true))],
    ["outer certification data type 5", "quote_unsupported_certification_data", patched(V4, (_b, v) => v.setUint16(636 + 128, 5, true))],
    ["certification data size off by one", "quote_invalid_certification_data", patched(V4, (_b, v) => v.setUint32(636 + 130, 4164, true))],
    ["QE auth data size past the end", "quote_invalid_certification_data", patched(V4, (_b, v) => v.setUint16(1218, 5000, true))],
    ["inner certification data type 3 (encrypted PPID)", "quote_unsupported_certification_data", patched(V4, (_b, v) => v.setUint16(1252, 3, true))],
    ["inner size off by one", "quote_invalid_certification_data", patched(V4, (_b, v) => v.setUint32(1254, 3676, true))],
  ];
  it.each(cases)("%s → %s", (_name, code, bytes) => {
    expect(reason(bytes)).toBe(code);
  });

  it("every truncation of a v4 and a v5 quote is rejected as quote_truncated", () => {
    for (const dir of [V4, V5]) {
      const q = loadVector(dir).quote;
      const end = parse(q).end;
      for (let n = 0; n < end; n++) expect(reason(q.subarray(0, n))).toBe("quote_truncated");
    }
  });
});
