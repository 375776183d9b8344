/**
 * A bounds-checked parser for Intel TDX DCAP quotes, versions 4 and 5 (specs/tdx.md §1): the header,
 * a TD report body (TD 1.0, or TD 1.5 in v5), and the ECDSA signature data with certification data
 * type 6 (QE report) wrapping type 5 (the PCK certificate chain as PEM). All integers are
 * little-endian. Bytes after the signature data are ignored, as Intel QVL, dcap-qvl and go-tdx-guest
 * do. The parser makes no trust decision and never throws; returned fields are views into the input.
 */
import { ok, type Result } from "../../result";
import { bytesEqual } from "../../x509/der-reader";
import { tdxFail, type TdxFailure } from "./errors";

export const TEE_TYPE_TDX = 0x81;
export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
export const CERT_DATA_QE_REPORT = 6;
export const CERT_DATA_PCK_CHAIN = 5;
/** Intel's QE vendor ID, 939a7233-f79c-4ca9-940a-0db3957f0607. */
export const INTEL_QE_VENDOR_ID = new Uint8Array([0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07]);

const HEADER_SIZE = 48;
const V5_DESCRIPTOR_SIZE = 6;
export const TD_REPORT10_SIZE = 584;
export const TD_REPORT15_SIZE = 648;
export const QE_REPORT_SIZE = 384;
/** Quote signature, attestation key, certification data type and size. */
const SIGNATURE_DATA_FIXED = 64 + 64 + 2 + 4;
/** QE report, its signature and the QE authentication data size. */
const QE_CERT_DATA_FIXED = QE_REPORT_SIZE + 64 + 2;

/** v5 body types (v4 bodies are always TD 1.0). */
export type TdBodyType = 2 | 3;

/** The TD report (TDREPORT body) fields; `teeTcbSvn2` and `mrServiceTd` exist in TD 1.5 bodies only. */
export interface TdReport {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  readonly teeTcbSvn2: Uint8Array | undefined;
  readonly mrServiceTd: Uint8Array | undefined;
}

/** The TD Quoting Enclave's SGX report body (specs/tdx.md §1.5). */
export interface QeReport {
  /** All 384 bytes: what the PCK key signs. */
  readonly raw: Uint8Array;
  readonly cpuSvn: Uint8Array;
  /** MISCSELECT as its 4 little-endian bytes (QE Identity compares them byte-wise). */
  readonly miscSelect: Uint8Array;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reportData: Uint8Array;
}

export interface TdxQuote {
  readonly version: 4 | 5;
  readonly bodyType: TdBodyType;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
  readonly body: TdReport;
  /** Header and body (v5: with the body descriptor): what the attestation key signs. */
  readonly signedData: Uint8Array;
  /** ECDSA P-256 r‖s. */
  readonly signature: Uint8Array;
  /** The attestation public key X‖Y. */
  readonly attestationKey: Uint8Array;
  readonly qeReport: QeReport;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** Certification data type 5 contents: the PCK chain as PEM (leaf first), possibly NUL-terminated. */
  readonly pckChainPem: Uint8Array;
  /** Where the quote ends; anything after this offset was ignored. */
  readonly end: number;
}

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}


/** The TD report fields of a body starting at `at` (size already checked). */
function readTdReport(b: Uint8Array, at: number, td15: boolean): TdReport {
  const f = (off: number, len: number) => b.subarray(at + off, at + off + len);
  return {
    teeTcbSvn: f(0, 16),
    mrSeam: f(16, 48),
    mrSignerSeam: f(64, 48),
    seamAttributes: f(112, 8),
    tdAttributes: f(120, 8),
    xfam: f(128, 8),
    mrTd: f(136, 48),
    mrConfigId: f(184, 48),
    mrOwner: f(232, 48),
    mrOwnerConfig: f(280, 48),
    rtmr: [f(328, 48), f(376, 48), f(424, 48), f(472, 48)],
    reportData: f(520, 64),
    teeTcbSvn2: td15 ? f(584, 16) : undefined,
    mrServiceTd: td15 ? f(600, 48) : undefined,
  };
}

function readQeReport(b: Uint8Array, at: number): QeReport {
  const f = (off: number, len: number) => b.subarray(at + off, at + off + len);
  return {
    raw: f(0, QE_REPORT_SIZE),
    cpuSvn: f(0, 16),
    miscSelect: f(16, 4),
    attributes: f(48, 16),
    mrEnclave: f(64, 32),
    mrSigner: f(128, 32),
    isvProdId: u16(b, at + 256),
    isvSvn: u16(b, at + 258),
    reportData: f(320, 64),
  };
}

/** Parses a TDX quote (v4 or v5). Never throws. */
export function parseTdxQuote(bytes: Uint8Array): Result<TdxQuote, TdxFailure> {
  if (bytes.length < HEADER_SIZE) return tdxFail("quote_truncated", `${bytes.length} bytes is shorter than the 48-byte header`);
  const version = u16(bytes, 0);
  if (version !== 4 && version !== 5) return tdxFail("quote_unsupported_version", `quote version ${version}; only 4 and 5 are TDX quotes`);
  const keyType = u16(bytes, 2);
  if (keyType !== ATTESTATION_KEY_TYPE_ECDSA_P256) return tdxFail("quote_unsupported_attestation_key_type", `attestation key type ${keyType}; only 2 (ECDSA P-256) is supported`);
  const teeType = u32(bytes, 4);
  if (teeType !== TEE_TYPE_TDX) return tdxFail("quote_unsupported_tee_type", `TEE type 0x${teeType.toString(16)}; a TDX quote has 0x81`);
  const qeVendorId = bytes.subarray(12, 28);
  if (!bytesEqual(qeVendorId, INTEL_QE_VENDOR_ID)) return tdxFail("quote_unsupported_qe_vendor", "the QE vendor ID is not Intel's");

  let bodyType: TdBodyType = 2;
  let bodyStart = HEADER_SIZE;
  let bodySize = TD_REPORT10_SIZE;
  if (version === 5) {
    if (bytes.length < HEADER_SIZE + V5_DESCRIPTOR_SIZE) return tdxFail("quote_truncated", "the v5 body descriptor is cut off");
    const type = u16(bytes, HEADER_SIZE);
    const size = u32(bytes, HEADER_SIZE + 2);
    // QVL ties the TEE type to the body type: a TDX quote carries a TD report (2: TD 1.0, 3: TD 1.5).
    if (type !== 2 && type !== 3) return tdxFail("quote_invalid_body", `v5 body type ${type} is not a TD report (2 or 3)`);
    const expected = type === 2 ? TD_REPORT10_SIZE : TD_REPORT15_SIZE;
    if (size !== expected) return tdxFail("quote_invalid_body", `v5 body type ${type} must be ${expected} bytes, not ${size}`);
    bodyType = type;
    bodyStart = HEADER_SIZE + V5_DESCRIPTOR_SIZE;
    bodySize = size;
  }
  const signedEnd = bodyStart + bodySize;
  if (bytes.length < signedEnd + 4) return tdxFail("quote_truncated", `the TD report body needs ${signedEnd + 4} bytes, the quote has ${bytes.length}`);
  const sigLen = u32(bytes, signedEnd);
  const s = signedEnd + 4;
  if (sigLen > bytes.length - s) return tdxFail("quote_truncated", `signature data of ${sigLen} bytes runs past the end of the quote (${bytes.length - s} left)`);
  if (sigLen < SIGNATURE_DATA_FIXED) return tdxFail("quote_invalid_certification_data", `signature data of ${sigLen} bytes is too short`);
  const end = s + sigLen;

  const certType = u16(bytes, s + 128);
  if (certType !== CERT_DATA_QE_REPORT) return tdxFail("quote_unsupported_certification_data", `certification data type ${certType}; v4/v5 quotes carry type 6 (QE report)`);
  const certSize = u32(bytes, s + 130);
  const c = s + SIGNATURE_DATA_FIXED;
  if (certSize !== sigLen - SIGNATURE_DATA_FIXED) return tdxFail("quote_invalid_certification_data", `certification data size ${certSize} does not fill the ${sigLen}-byte signature data`);
  const certEnd = c + certSize;
  if (certSize < QE_CERT_DATA_FIXED) return tdxFail("quote_invalid_certification_data", "QE report certification data is too short");
  const authLen = u16(bytes, c + QE_REPORT_SIZE + 64);
  const authStart = c + QE_CERT_DATA_FIXED;
  const innerHeader = authStart + authLen;
  if (innerHeader + 6 > certEnd) return tdxFail("quote_invalid_certification_data", `QE authentication data of ${authLen} bytes leaves no room for the PCK certification data`);
  const innerType = u16(bytes, innerHeader);
  if (innerType !== CERT_DATA_PCK_CHAIN) {
    return tdxFail("quote_unsupported_certification_data", `inner certification data type ${innerType}; only 5 (PCK certificate chain) can be verified offline`);
  }
  const innerSize = u32(bytes, innerHeader + 2);
  if (innerSize === 0 || innerSize !== certEnd - (innerHeader + 6)) {
    return tdxFail("quote_invalid_certification_data", `PCK chain size ${innerSize} does not fill the QE report certification data`);
  }

  return ok({
    version,
    bodyType,
    qeVendorId,
    userData: bytes.subarray(28, 48),
    body: readTdReport(bytes, bodyStart, bodyType === 3),
    signedData: bytes.subarray(0, signedEnd),
    signature: bytes.subarray(s, s + 64),
    attestationKey: bytes.subarray(s + 64, s + 128),
    qeReport: readQeReport(bytes, c),
    qeReportSignature: bytes.subarray(c + QE_REPORT_SIZE, c + QE_REPORT_SIZE + 64),
    qeAuthData: bytes.subarray(authStart, authStart + authLen),
    pckChainPem: bytes.subarray(innerHeader + 6, certEnd),
    end,
  });
}
