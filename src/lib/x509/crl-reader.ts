/** A strict, never-throwing reader for X.509 CRLs (RFC 5280 §5.1). Makes no trust decision. */
import { err, ok, type Result } from "../result";
import { TAG } from "./der-writer";
import { toHex } from "../encoding";
import { bytesEqual, decodeBitString, decodeUnsignedInteger, readSingle } from "./der-reader";
import { parseTime } from "./der-values";
import { readAlgorithmIdentifier, readExtensionList, readName, type AlgorithmIdentifier, type Extension } from "./cert-reader";

/**
 * Extensions this reader understands. A critical extension outside these (an issuing distribution
 * point, a delta-CRL indicator, an indirect CRL's certificate issuer) makes the CRL unusable here:
 * RFC 5280 §5.2 and §5.3 require refusing what cannot be processed.
 */
const CRL_EXTENSIONS = new Set(["2.5.29.20" /* cRLNumber */, "2.5.29.35" /* authorityKeyIdentifier */]);
const ENTRY_EXTENSIONS = new Set(["2.5.29.21" /* reasonCode */, "2.5.29.24" /* invalidityDate */]);

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
  /** crlExtensions by OID (for example the CRL number, 2.5.29.20). */
  readonly extensions: ReadonlyMap<string, Extension>;
}

function unknownCritical(exts: ReadonlyMap<string, Extension>, known: ReadonlySet<string>): string | undefined {
  for (const [oid, e] of exts) if (e.critical && !known.has(oid)) return oid;
  return undefined;
}

const bad = (detail: string) => err<CrlError>({ reason: "malformed_crl", detail });

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
  if (!innerAlgId.ok || !bytesEqual(t.raw(innerAlg.value), c.raw(algTlv.value))) return bad("inner and outer signature algorithms differ");
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
      const date = e.next();
      if (!date.ok || parseTime(date.value.tag, e.contents(date.value)) === undefined) return bad("revocationDate");
      if (!e.done) {
        const entryExts = e.expect(TAG.SEQUENCE, "crlEntryExtensions");
        if (!entryExts.ok) return bad("crlEntryExtensions");
        const map = new Map<string, Extension>();
        const read = readExtensionList(e, entryExts.value, map);
        if (!read.ok) return bad(`crlEntryExtensions: ${read.error}`);
        const unknown = unknownCritical(map, ENTRY_EXTENSIONS);
        if (unknown) return bad(`unsupported critical entry extension ${unknown}`);
      }
      if (!e.finish("revoked certificate").ok) return bad("revoked certificate trailing data");
      revokedSerials.add(toHex(mag.value));
    }
  }
  const extensions = new Map<string, Extension>();
  const exts = t.optional(0xa0);
  if (!exts.ok) return bad("crlExtensions");
  if (exts.value) {
    const wrapper = t.enter(exts.value);
    const seq = wrapper.expect(TAG.SEQUENCE, "crlExtensions");
    if (!seq.ok || !wrapper.finish("crlExtensions").ok) return bad("crlExtensions");
    const read = readExtensionList(wrapper, seq.value, extensions);
    if (!read.ok) return bad(`crlExtensions: ${read.error}`);
    const unknown = unknownCritical(extensions, CRL_EXTENSIONS);
    if (unknown) return bad(`unsupported critical CRL extension ${unknown}`);
  }
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
    extensions,
  });
}
