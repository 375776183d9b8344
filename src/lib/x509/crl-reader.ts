/** A strict, never-throwing reader for X.509 CRLs (RFC 5280 §5.1). Makes no trust decision. */
import { err, ok, type Result } from "../result";
import { TAG } from "./der-writer";
import { decodeBitString, decodeUnsignedInteger, readSingle } from "./der-reader";
import { parseTime } from "./der-values";
import { readAlgorithmIdentifier, readName, type AlgorithmIdentifier } from "./cert-reader";

export interface CrlError {
  readonly reason: "malformed_crl";
  readonly detail?: string;
}

export interface ParsedCrl {
  readonly der: Uint8Array;
  /** The signed bytes: the whole tbsCertList TLV. */
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly signature: Uint8Array;
  readonly issuerRaw: Uint8Array;
  readonly issuer: ReadonlyMap<string, readonly string[]>;
  /** Milliseconds since the epoch. */
  readonly thisUpdate: number;
  readonly nextUpdate: number | undefined;
  /** Serial magnitudes, lowercase hex without leading zero bytes. */
  readonly revokedSerials: ReadonlySet<string>;
}

const bad = (detail: string) => err<CrlError>({ reason: "malformed_crl", detail });

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

export function parseCrl(der: Uint8Array): Result<ParsedCrl, CrlError> {
  const top = readSingle(der, TAG.SEQUENCE, "CertificateList");
  if (!top.ok) return bad(top.error.reason);
  const c = top.value.reader.enter(top.value.tlv);
  const tbsTlv = c.expect(TAG.SEQUENCE, "tbsCertList");
  const algTlv = tbsTlv.ok ? c.expect(TAG.SEQUENCE, "signatureAlgorithm") : tbsTlv;
  const sigTlv = algTlv.ok ? c.expect(TAG.BIT_STRING, "signatureValue") : algTlv;
  if (!tbsTlv.ok || !algTlv.ok || !sigTlv.ok) return bad("CertificateList structure");
  if (!c.finish("CertificateList").ok) return bad("trailing data");
  const alg = readAlgorithmIdentifier(c, algTlv.value);
  if (!alg.ok) return bad("signatureAlgorithm");
  const sig = decodeBitString(c.contents(sigTlv.value));
  if (!sig.ok || sig.value.unusedBits !== 0) return bad("signatureValue");

  const t = c.enter(tbsTlv.value);
  if (t.peekTag() === TAG.INTEGER) {
    const v = t.next();
    if (!v.ok) return bad("version");
    const n = t.contents(v.value);
    if (n.length !== 1 || n[0] !== 1) return bad("version must be v2");
  }
  const innerAlg = t.expect(TAG.SEQUENCE, "signature");
  if (!innerAlg.ok) return bad("signature");
  const innerAlgId = readAlgorithmIdentifier(t, innerAlg.value);
  if (!innerAlgId.ok || innerAlgId.value.oid !== alg.value.oid) return bad("inner and outer signature algorithms differ");
  const issuerTlv = t.expect(TAG.SEQUENCE, "issuer");
  if (!issuerTlv.ok) return bad("issuer");
  const issuer = readName(t, issuerTlv.value);
  if (!issuer.ok) return bad("issuer");
  const thisTlv = t.next();
  if (!thisTlv.ok) return bad("thisUpdate");
  const thisUpdate = parseTime(thisTlv.value.tag, t.contents(thisTlv.value));
  if (thisUpdate === undefined) return bad("thisUpdate");
  let nextUpdate: number | undefined;
  const nextTag = t.peekTag();
  if (nextTag === 0x17 || nextTag === 0x18) {
    const n = t.next();
    if (!n.ok) return bad("nextUpdate");
    nextUpdate = parseTime(n.value.tag, t.contents(n.value));
    if (nextUpdate === undefined) return bad("nextUpdate");
  }
  const revokedSerials = new Set<string>();
  if (t.peekTag() === TAG.SEQUENCE) {
    const list = t.next();
    if (!list.ok) return bad("revokedCertificates");
    const entries = t.enter(list.value);
    while (!entries.done) {
      const entry = entries.expect(TAG.SEQUENCE, "revoked certificate");
      if (!entry.ok) return bad("revoked certificate");
      const e = entries.enter(entry.value);
      const serial = e.expect(TAG.INTEGER, "userCertificate");
      if (!serial.ok) return bad("revoked serial");
      const mag = decodeUnsignedInteger(e.contents(serial.value));
      if (!mag.ok) return bad("revoked serial");
      revokedSerials.add(hex(mag.value));
    }
  }
  const exts = t.optional(0xa0);
  if (!exts.ok) return bad("crlExtensions");
  if (!t.finish("tbsCertList").ok) return bad("tbsCertList trailing data");
  return ok({
    der,
    tbs: c.raw(tbsTlv.value),
    signatureAlgorithm: alg.value,
    signature: sig.value.bytes,
    issuerRaw: t.raw(issuerTlv.value),
    issuer: issuer.value,
    thisUpdate,
    nextUpdate,
    revokedSerials,
  });
}
