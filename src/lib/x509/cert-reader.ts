/**
 * A strict, never-throwing reader for X.509 certificates (RFC 5280 §4.1) and their signatures, for
 * the vendor chains Signet verifies (AMD ARK/ASK/VCEK with RSASSA-PSS, Intel PCK chains with ECDSA).
 * It decodes structure, names, validity and extensions; it makes no trust decision.
 */
import { err, ok, type Result } from "../result";
import { TAG } from "./der-writer";
import { fromPemAll, fromUtf8, toHex } from "../encoding";
import { bytesEqual, decodeBitString, decodeBoolean, decodeUnsignedInteger, readSingle, type DerError, type DerReader, type DerTlv } from "./der-reader";
import { decodeOid, parseTime } from "./der-values";

export interface CertificateError {
  readonly reason: "malformed_certificate";
  readonly detail?: string;
}

export interface AlgorithmIdentifier {
  /** Dotted OID. */
  readonly oid: string;
  /** The parameters' whole TLV, if present. */
  readonly params: Uint8Array | undefined;
}

export interface Extension {
  readonly critical: boolean;
  /** The extnValue OCTET STRING contents. */
  readonly value: Uint8Array;
}

export interface ParsedCertificate {
  readonly der: Uint8Array;
  /** The signed bytes: the whole tbsCertificate TLV. */
  readonly tbs: Uint8Array;
  /** 1, 2 or 3. */
  readonly version: number;
  /** Serial number magnitude, lowercase hex without leading zero bytes ("00" for zero). */
  readonly serialHex: string;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  /** The issuer and subject Name TLVs, byte for byte (chain matching compares these). */
  readonly issuerRaw: Uint8Array;
  readonly subjectRaw: Uint8Array;
  /** Attribute type (dotted OID) → string values, in order; for DN checks such as CN. */
  readonly issuer: ReadonlyMap<string, readonly string[]>;
  readonly subject: ReadonlyMap<string, readonly string[]>;
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  readonly extensions: ReadonlyMap<string, Extension>;
  /** The outer signatureAlgorithm (must equal the inner one; checked). */
  readonly signature: Uint8Array;
}

export const OID_COMMON_NAME = "2.5.4.3";

type Fail = { readonly ok: false; readonly error: CertificateError };

function bad(detail: string): Fail {
  return err({ reason: "malformed_certificate", detail });
}

function derFail(e: DerError, where: string): Fail {
  return bad(`${where}: ${e.reason}${e.detail ? ` (${e.detail})` : ""}`);
}

export function readAlgorithmIdentifier(r: DerReader, tlv: DerTlv): Result<AlgorithmIdentifier, DerError> {
  const inner = r.enter(tlv);
  const oidTlv = inner.expect(TAG.OID, "algorithm");
  if (!oidTlv.ok) return oidTlv;
  const oid = decodeOid(inner.contents(oidTlv.value));
  if (!oid.ok) return oid;
  let params: Uint8Array | undefined;
  if (!inner.done) {
    const p = inner.next();
    if (!p.ok) return p;
    params = inner.raw(p.value);
  }
  const done = inner.finish("AlgorithmIdentifier");
  if (!done.ok) return done;
  return ok({ oid: oid.value, params });
}

/** Name → map of attribute type to values (strings of any ASN.1 string type, decoded as UTF-8/Latin-1). */
export function readName(r: DerReader, tlv: DerTlv): Result<Map<string, string[]>, DerError> {
  const out = new Map<string, string[]>();
  const rdns = r.enter(tlv);
  while (!rdns.done) {
    const set = rdns.expect(TAG.SET, "RelativeDistinguishedName");
    if (!set.ok) return set;
    const atvs = rdns.enter(set.value);
    while (!atvs.done) {
      const atv = atvs.expect(TAG.SEQUENCE, "AttributeTypeAndValue");
      if (!atv.ok) return atv;
      const parts = atvs.enter(atv.value);
      const type = parts.expect(TAG.OID, "attribute type");
      if (!type.ok) return type;
      const oid = decodeOid(parts.contents(type.value));
      if (!oid.ok) return oid;
      const value = parts.next();
      if (!value.ok) return value;
      const done = parts.finish("AttributeTypeAndValue");
      if (!done.ok) return done;
      const text = decodeText(parts.contents(value.value));
      const list = out.get(oid.value) ?? [];
      list.push(text);
      out.set(oid.value, list);
    }
  }
  return ok(out);
}

function decodeText(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  try {
    return decodeURIComponent(escape(s));
  } catch {
    return s;
  }
}

/** Parses one DER certificate, strictly (no trailing bytes). Never throws. */
export function parseCertificate(der: Uint8Array): Result<ParsedCertificate, CertificateError> {
  const top = readSingle(der, TAG.SEQUENCE, "Certificate");
  if (!top.ok) return derFail(top.error, "Certificate");
  const c = top.value.reader.enter(top.value.tlv);
  const tbsTlv = c.expect(TAG.SEQUENCE, "tbsCertificate");
  if (!tbsTlv.ok) return derFail(tbsTlv.error, "Certificate");
  const outerAlgTlv = c.expect(TAG.SEQUENCE, "signatureAlgorithm");
  if (!outerAlgTlv.ok) return derFail(outerAlgTlv.error, "Certificate");
  const sigTlv = c.expect(TAG.BIT_STRING, "signatureValue");
  if (!sigTlv.ok) return derFail(sigTlv.error, "Certificate");
  const end = c.finish("Certificate");
  if (!end.ok) return derFail(end.error, "Certificate");
  const outerAlg = readAlgorithmIdentifier(c, outerAlgTlv.value);
  if (!outerAlg.ok) return derFail(outerAlg.error, "signatureAlgorithm");
  const sigBits = decodeBitString(c.contents(sigTlv.value));
  if (!sigBits.ok || sigBits.value.unusedBits !== 0) return bad("signatureValue is not a whole-byte BIT STRING");

  const t = c.enter(tbsTlv.value);
  let version = 1;
  const v = t.optional(0xa0);
  if (!v.ok) return derFail(v.error, "version");
  if (v.value) {
    const inner = t.enter(v.value);
    const int = inner.expect(TAG.INTEGER, "version");
    if (!int.ok) return derFail(int.error, "version");
    const n = inner.contents(int.value);
    if (n.length !== 1 || n[0]! > 2) return bad("version must be v1, v2 or v3");
    version = n[0]! + 1;
  }
  const serial = t.expect(TAG.INTEGER, "serialNumber");
  if (!serial.ok) return derFail(serial.error, "serialNumber");
  const serialMag = decodeUnsignedInteger(t.contents(serial.value));
  if (!serialMag.ok) return derFail(serialMag.error, "serialNumber");
  const innerAlgTlv = t.expect(TAG.SEQUENCE, "signature");
  if (!innerAlgTlv.ok) return derFail(innerAlgTlv.error, "signature");
  const innerAlg = readAlgorithmIdentifier(t, innerAlgTlv.value);
  if (!innerAlg.ok) return derFail(innerAlg.error, "signature");
  if (!bytesEqual(t.raw(innerAlgTlv.value), c.raw(outerAlgTlv.value))) return bad("inner and outer signature algorithms differ");
  const issuerTlv = t.expect(TAG.SEQUENCE, "issuer");
  if (!issuerTlv.ok) return derFail(issuerTlv.error, "issuer");
  const issuer = readName(t, issuerTlv.value);
  if (!issuer.ok) return derFail(issuer.error, "issuer");
  const validity = t.expect(TAG.SEQUENCE, "validity");
  if (!validity.ok) return derFail(validity.error, "validity");
  const times = readValidity(t, validity.value);
  if (!times.ok) return times;
  const subjectTlv = t.expect(TAG.SEQUENCE, "subject");
  if (!subjectTlv.ok) return derFail(subjectTlv.error, "subject");
  const subject = readName(t, subjectTlv.value);
  if (!subject.ok) return derFail(subject.error, "subject");
  const spkiTlv = t.expect(TAG.SEQUENCE, "subjectPublicKeyInfo");
  if (!spkiTlv.ok) return derFail(spkiTlv.error, "subjectPublicKeyInfo");
  // issuerUniqueID [1] and subjectUniqueID [2] (v2/v3) are skipped.
  for (const tag of [0x81, 0xa1, 0x82, 0xa2]) {
    const u = t.optional(tag);
    if (!u.ok) return derFail(u.error, "uniqueID");
  }
  const extensions = new Map<string, Extension>();
  const extsTlv = t.optional(0xa3);
  if (!extsTlv.ok) return derFail(extsTlv.error, "extensions");
  if (extsTlv.value) {
    const exts = readExtensions(t, extsTlv.value, extensions);
    if (!exts.ok) return exts;
  }
  const tbsEnd = t.finish("tbsCertificate");
  if (!tbsEnd.ok) return derFail(tbsEnd.error, "tbsCertificate");

  return ok({
    der,
    tbs: c.raw(tbsTlv.value),
    version,
    serialHex: toHex(serialMag.value),
    signatureAlgorithm: innerAlg.value,
    issuerRaw: t.raw(issuerTlv.value),
    subjectRaw: t.raw(subjectTlv.value),
    issuer: issuer.value,
    subject: subject.value,
    notBefore: times.value.notBefore,
    notAfter: times.value.notAfter,
    spki: t.raw(spkiTlv.value),
    extensions,
    signature: sigBits.value.bytes,
  });
}

function readValidity(t: DerReader, tlv: DerTlv): Result<{ notBefore: number; notAfter: number }, CertificateError> {
  const v = t.enter(tlv);
  const nb = v.next();
  if (!nb.ok) return derFail(nb.error, "notBefore");
  const na = v.next();
  if (!na.ok) return derFail(na.error, "notAfter");
  const done = v.finish("validity");
  if (!done.ok) return derFail(done.error, "validity");
  const notBefore = parseTime(nb.value.tag, v.contents(nb.value));
  const notAfter = parseTime(na.value.tag, v.contents(na.value));
  if (notBefore === undefined || notAfter === undefined) return bad("validity times are not valid UTCTime/GeneralizedTime");
  return ok({ notBefore, notAfter });
}

function readExtensions(t: DerReader, tlv: DerTlv, into: Map<string, Extension>): Result<void, CertificateError> {
  const wrapper = t.enter(tlv);
  const seq = wrapper.expect(TAG.SEQUENCE, "Extensions");
  if (!seq.ok) return derFail(seq.error, "extensions");
  const done = wrapper.finish("extensions");
  if (!done.ok) return derFail(done.error, "extensions");
  const list = readExtensionList(wrapper, seq.value, into);
  return list.ok ? list : bad(list.error);
}

/** `Extensions ::= SEQUENCE OF Extension` → map by OID (duplicates refused). Shared with CRLs. */
export function readExtensionList(r: DerReader, seq: DerTlv, into: Map<string, Extension>): Result<void, string> {
  const list = r.enter(seq);
  while (!list.done) {
    const ext = list.expect(TAG.SEQUENCE, "Extension");
    if (!ext.ok) return err(`extension: ${ext.error.reason}`);
    const e = list.enter(ext.value);
    const idTlv = e.expect(TAG.OID, "extnID");
    if (!idTlv.ok) return err(`extension: ${idTlv.error.reason}`);
    const id = decodeOid(e.contents(idTlv.value));
    if (!id.ok) return err(`extension: ${id.error.reason}`);
    let critical = false;
    const crit = e.optional(TAG.BOOLEAN);
    if (!crit.ok) return err(`extension: ${crit.error.reason}`);
    if (crit.value) {
      const b = decodeBoolean(e.contents(crit.value));
      if (!b.ok) return err("extension critical flag");
      critical = b.value;
    }
    const value = e.expect(TAG.OCTET_STRING, "extnValue");
    if (!value.ok) return err(`extension: ${value.error.reason}`);
    if (!e.finish("Extension").ok) return err("extension: trailing data");
    if (into.has(id.value)) return err(`duplicate extension ${id.value}`);
    into.set(id.value, { critical, value: e.contents(value.value) });
  }
  return ok(undefined);
}


/**
 * Every PEM CERTIFICATE block in `bytes` (at most `max`), parsed. The error names the first problem:
 * no certificates, too many, or which one does not parse.
 */
export function parsePemCertificates(bytes: Uint8Array, max: number): Result<ParsedCertificate[], string> {
  const text = fromUtf8(bytes);
  const ders = text === undefined ? undefined : fromPemAll(text, "CERTIFICATE");
  if (!ders || ders.length === 0) return err("no PEM certificates");
  if (ders.length > max) return err(`${ders.length} certificates (at most ${max})`);
  const certs: ParsedCertificate[] = [];
  for (const [i, der] of ders.entries()) {
    const cert = parseCertificate(der);
    if (!cert.ok) return err(`certificate ${i}: ${cert.error.detail ?? cert.error.reason}`);
    certs.push(cert.value);
  }
  return ok(certs);
}

/** The first common name of a Name map, if any. */
export function commonName(name: ReadonlyMap<string, readonly string[]>): string | undefined {
  return name.get(OID_COMMON_NAME)?.[0];
}
