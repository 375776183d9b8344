/**
 * PKCS#10 certification requests (RFC 2986), as agents and admins send them.
 *
 * Like SPIRE's BatchNewX509SVID (spiffe.md §2.3), Signet uses only the public key of a CSR:
 * identity, DNS names and TTL come from the registration entry. The subject and attributes
 * must still be well-formed DER of the right shape, and the signature over
 * certificationRequestInfo must verify under the CSR's own key (proof of possession).
 *
 * Accepted signatures: ecdsa-with-SHA256/384 (parameters absent) for P-256/P-384 keys,
 * sha256/384/512WithRSAEncryption (parameters NULL or absent, RFC 4055 §5) for RSA keys.
 * The attributes field is required by RFC 2986 but omitted by a few encoders; it is accepted
 * when absent. Inputs above 64 KiB are refused. Nothing here throws on hostile input.
 */
import { fromBase64, fromPemAll, fromUtf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import { ecdsaDerToP1363, SIGNATURE_ALGORITHMS, type SignatureAlgorithmInfo } from "./algorithms";
import { TAG } from "./der-writer";
import {
  bytesEqual,
  checkNull,
  decodeBitString,
  decodeSmallInteger,
  readSingle,
  validateDerTree,
  type DerError,
  type DerReader,
  type DerTlv,
} from "./der-reader";
import { importSpkiForVerify, parseSpki, type SpkiErrorReason, type SpkiInfo } from "./spki";

export type CsrErrorReason = "malformed_csr" | "unsupported_signature_algorithm" | "bad_csr_signature" | "invalid_public_key" | SpkiErrorReason;

export interface CsrError {
  readonly reason: CsrErrorReason;
  readonly detail?: string;
}

export interface VerifiedCsr {
  /** DER SubjectPublicKeyInfo (a copy, safe to keep or send over RPC). */
  readonly spki: Uint8Array;
  /** Parsed from `spki`; its `subjectPublicKey` views into `spki`. */
  readonly spkiInfo: SpkiInfo;
}

export interface ParsedCsr extends VerifiedCsr {
  /** The signed bytes: the whole certificationRequestInfo TLV (a view into the input). */
  readonly signedData: Uint8Array;
  readonly signatureAlgorithm: SignatureAlgorithmInfo;
  /** The signature BIT STRING value (a view into the input). */
  readonly signature: Uint8Array;
}

export const MAX_CSR_BYTES = 64 * 1024;

type Fail = { readonly ok: false; readonly error: CsrError };

function fail(reason: CsrErrorReason, detail?: string): Fail {
  return err(detail === undefined ? { reason } : { reason, detail });
}

function malformed(e: DerError): Fail {
  return fail("malformed_csr", e.detail === undefined ? e.reason : `${e.reason}: ${e.detail}`);
}

const PEM_LABELS = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"] as const;

/**
 * PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`, exactly one block) or DER bytes →
 * DER. A string is always treated as PEM; bytes starting with `-` are decoded as PEM text.
 */
export function decodeCsr(input: string | Uint8Array): Result<Uint8Array, CsrError> {
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else {
    if (input.length > MAX_CSR_BYTES) return fail("malformed_csr", "too large");
    if (input[0] !== 0x2d /* - */) return input.length > 0 ? ok(input) : fail("malformed_csr", "empty");
    const decoded = fromUtf8(input);
    if (decoded === undefined) return fail("malformed_csr", "invalid PEM text");
    text = decoded;
  }
  if (text.length > 2 * MAX_CSR_BYTES) return fail("malformed_csr", "too large");
  const blocks: Uint8Array[] = [];
  for (const label of PEM_LABELS) {
    const found = fromPemAll(text, label);
    if (found === undefined) return fail("malformed_csr", "invalid PEM base64");
    blocks.push(...found);
  }
  const [der] = blocks;
  if (der === undefined || blocks.length !== 1) return fail("malformed_csr", `expected one PEM certificate request, found ${blocks.length}`);
  return ok(der);
}

/** For text fields: PEM, or bare base64 DER (whitespace ignored). Undefined when neither. */
export function decodeCsrText(text: string): Uint8Array | undefined {
  if (text.includes("-----BEGIN")) {
    const r = decodeCsr(text);
    return r.ok ? r.value : undefined;
  }
  if (text.length > 2 * MAX_CSR_BYTES) return undefined;
  const der = fromBase64(text.replace(/\s+/g, ""));
  return der && der.length > 0 && der[0] === TAG.SEQUENCE ? der : undefined;
}

/** Strict structural parse of a DER CSR (no signature check). Never throws. */
export function parseCsr(der: Uint8Array): Result<ParsedCsr, CsrError> {
  if (der.length > MAX_CSR_BYTES) return fail("malformed_csr", "too large");
  const top = readSingle(der, TAG.SEQUENCE, "CertificationRequest");
  if (!top.ok) return malformed(top.error);
  const r = top.value.reader.enter(top.value.tlv);
  const criTlv = r.expect(TAG.SEQUENCE, "certificationRequestInfo");
  if (!criTlv.ok) return malformed(criTlv.error);
  const algTlv = r.expect(TAG.SEQUENCE, "signatureAlgorithm");
  if (!algTlv.ok) return malformed(algTlv.error);
  const sigTlv = r.expect(TAG.BIT_STRING, "signature");
  if (!sigTlv.ok) return malformed(sigTlv.error);
  const end = r.finish("CertificationRequest");
  if (!end.ok) return malformed(end.error);

  const cri = r.enter(criTlv.value);
  const version = cri.expect(TAG.INTEGER, "version");
  if (!version.ok) return malformed(version.error);
  const v = decodeSmallInteger(cri.contents(version.value));
  if (!v.ok) return malformed(v.error);
  if (v.value !== 0) return fail("malformed_csr", "version must be v1 (0)");
  const subject = cri.expect(TAG.SEQUENCE, "subject");
  if (!subject.ok) return malformed(subject.error);
  const name = checkName(cri, subject.value);
  if (!name.ok) return name;
  const spkiTlv = cri.expect(TAG.SEQUENCE, "subjectPKInfo");
  if (!spkiTlv.ok) return malformed(spkiTlv.error);
  const attributes = cri.optional(0xa0);
  if (!attributes.ok) return malformed(attributes.error);
  if (attributes.value) {
    const attrs = checkAttributes(cri, attributes.value);
    if (!attrs.ok) return attrs;
  }
  const criEnd = cri.finish("certificationRequestInfo");
  if (!criEnd.ok) return malformed(criEnd.error);

  const spki = cri.raw(spkiTlv.value).slice();
  const spkiInfo = parseSpki(spki);
  if (!spkiInfo.ok) return spkiInfo;

  const alg = parseSignatureAlgorithm(r, algTlv.value);
  if (!alg.ok) return alg;
  const bits = decodeBitString(r.contents(sigTlv.value));
  if (!bits.ok) return malformed(bits.error);
  if (bits.value.unusedBits !== 0) return fail("malformed_csr", "signature has unused bits");

  return ok({ spki, spkiInfo: spkiInfo.value, signedData: r.raw(criTlv.value), signatureAlgorithm: alg.value, signature: bits.value.bytes });
}

/** Parses `der` and verifies its self-signature. Never throws. */
export async function parseAndVerifyCsr(der: Uint8Array): Promise<Result<VerifiedCsr, CsrError>> {
  const parsed = parseCsr(der);
  if (!parsed.ok) return parsed;
  const { spki, spkiInfo, signatureAlgorithm: alg, signature, signedData } = parsed.value;
  if (alg.kind !== spkiInfo.kind) return fail("unsupported_signature_algorithm", `${alg.name} with an ${spkiInfo.kind} key`);

  let sig = signature;
  if (spkiInfo.kind === "ec") {
    const p1363 = ecdsaDerToP1363(signature, spkiInfo.curve === "P-256" ? 32 : 48);
    if (!p1363.ok) return fail("bad_csr_signature", p1363.error.detail);
    sig = p1363.value;
  }
  const key = await importSpkiForVerify(spki, spkiInfo, alg.hash);
  if (!key.ok) return key;
  const params = alg.kind === "ec" ? { name: "ECDSA", hash: alg.hash } : { name: "RSASSA-PKCS1-v1_5" };
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(params, key.value, sig as Uint8Array<ArrayBuffer>, signedData as Uint8Array<ArrayBuffer>);
  } catch {
    valid = false;
  }
  return valid ? ok({ spki, spkiInfo }) : fail("bad_csr_signature");
}

const SIGNATURE_ALGORITHM_LIST = Object.values(SIGNATURE_ALGORITHMS);

function parseSignatureAlgorithm(r: DerReader, tlv: DerTlv): Result<SignatureAlgorithmInfo, CsrError> {
  const alg = r.enter(tlv);
  const oid = alg.expect(TAG.OID, "signature algorithm OID");
  if (!oid.ok) return malformed(oid.error);
  const info = SIGNATURE_ALGORITHM_LIST.find((a) => bytesEqual(a.oid, alg.raw(oid.value)));
  if (!info) return fail("unsupported_signature_algorithm");
  if (!alg.done) {
    // ECDSA: parameters MUST be absent (RFC 5758 §3.2). RSA: NULL or absent (RFC 4055 §5).
    if (info.kind === "ec") return fail("malformed_csr", "ECDSA algorithm parameters must be absent");
    const params = alg.expect(TAG.NULL, "signature algorithm parameters");
    if (!params.ok) return malformed(params.error);
    const isNull = checkNull(alg.contents(params.value));
    if (!isNull.ok) return malformed(isNull.error);
    const done = alg.finish("signature AlgorithmIdentifier");
    if (!done.ok) return malformed(done.error);
  }
  return ok(info);
}

/** Name ::= SEQUENCE OF SET SIZE(1..MAX) OF SEQUENCE { type OBJECT IDENTIFIER, value ANY }. */
function checkName(r: DerReader, tlv: DerTlv): Result<void, CsrError> {
  const tree = validateDerTree(r.bytes, tlv.contentStart, tlv.end);
  if (!tree.ok) return malformed(tree.error);
  const rdns = r.enter(tlv);
  while (!rdns.done) {
    const rdn = rdns.expect(TAG.SET, "RelativeDistinguishedName");
    if (!rdn.ok) return malformed(rdn.error);
    const atvs = rdns.enter(rdn.value);
    if (atvs.done) return fail("malformed_csr", "empty RelativeDistinguishedName");
    while (!atvs.done) {
      const atv = atvs.expect(TAG.SEQUENCE, "AttributeTypeAndValue");
      if (!atv.ok) return malformed(atv.error);
      const checked = checkTypeThen(atvs.enter(atv.value), undefined);
      if (!checked.ok) return checked;
    }
  }
  return ok(undefined);
}

/** attributes [0] IMPLICIT SET OF SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }. */
function checkAttributes(r: DerReader, tlv: DerTlv): Result<void, CsrError> {
  const tree = validateDerTree(r.bytes, tlv.contentStart, tlv.end);
  if (!tree.ok) return malformed(tree.error);
  const attrs = r.enter(tlv);
  while (!attrs.done) {
    const attr = attrs.expect(TAG.SEQUENCE, "Attribute");
    if (!attr.ok) return malformed(attr.error);
    const checked = checkTypeThen(attrs.enter(attr.value), TAG.SET);
    if (!checked.ok) return checked;
  }
  return ok(undefined);
}

/** Exactly an OBJECT IDENTIFIER followed by one element (with `valueTag` when given). */
function checkTypeThen(r: DerReader, valueTag: number | undefined): Result<void, CsrError> {
  const type = r.expect(TAG.OID, "attribute type");
  if (!type.ok) return malformed(type.error);
  const value = valueTag === undefined ? r.next() : r.expect(valueTag, "attribute values");
  if (!value.ok) return malformed(value.error);
  const end = r.finish("attribute");
  return end.ok ? end : malformed(end.error);
}
