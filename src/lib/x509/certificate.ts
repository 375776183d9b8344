/**
 * X.509 encoders for the two certificates Signet mints (SPIFFE X509-SVID profile,
 * spiffe.md §1.2; extensions as SPIRE's credtemplate, §2.3):
 *
 * - the self-signed CA: `C=US, O=Signet, CN=<td> CA <serial prefix>`, cA=true (critical),
 *   keyUsage keyCertSign|cRLSign (critical), SKI, AKI = own SKI, SAN URI `spiffe://<td>`;
 * - the X509-SVID leaf: `C=US, O=Signet[, CN=<first DNS name>]`, cA=false (critical),
 *   keyUsage digitalSignature|keyAgreement (EC) or digitalSignature|keyEncipherment (RSA)
 *   (critical), EKU serverAuth+clientAuth, SKI, AKI = CA SKI, SAN = one URI then dNSNames.
 *   The SAN is non-critical because the subject is never empty.
 *
 * The leaf path is hot (tens of thousands per second per CA): `createLeafEncoder` precomputes
 * every per-CA constant once; each call sizes the TBSCertificate exactly and writes it into one
 * fresh buffer. Caller misuse (zero serial, non-ASCII names, inverted validity) throws TypeError.
 */
import { concatBytes, toHex } from "../encoding";
import { sha1 } from "../crypto/sha1";
import { ecdsaP1363ToDer, KEY_TYPES, signatureAlgorithmIdentifier, type KeyType } from "./algorithms";
import {
  encodeBitString,
  encodeBoolean,
  encodeExplicit,
  encodeIa5String,
  encodeImplicit,
  encodeOctetString,
  encodeOid,
  encodePrintableString,
  encodeSequence,
  encodeSet,
  encodeSmallInteger,
  encodeTime,
  encodeUnsignedInteger,
  encodeUtf8String,
  TAG,
  timeSize,
  tlvSize,
  unsignedIntegerContentSize,
  writeAscii,
  writeBytes,
  writeHeader,
  writeTime,
  writeUnsignedInteger,
} from "./der-writer";

const OID = {
  country: encodeOid("2.5.4.6"),
  organization: encodeOid("2.5.4.10"),
  commonName: encodeOid("2.5.4.3"),
  basicConstraints: encodeOid("2.5.29.19"),
  keyUsage: encodeOid("2.5.29.15"),
  extKeyUsage: encodeOid("2.5.29.37"),
  subjectKeyId: encodeOid("2.5.29.14"),
  authorityKeyId: encodeOid("2.5.29.35"),
  subjectAltName: encodeOid("2.5.29.17"),
  serverAuth: encodeOid("1.3.6.1.5.5.7.3.1"),
  clientAuth: encodeOid("1.3.6.1.5.5.7.3.2"),
};

/** RFC 5280 ub-common-name. */
const MAX_COMMON_NAME = 64;
const GENERAL_NAME_DNS = 0x82; // [2] IMPLICIT IA5String
const GENERAL_NAME_URI = 0x86; // [6] IMPLICIT IA5String
const VERSION_V3 = encodeExplicit(0, encodeSmallInteger(2));
const SIGNET_RDNS = concatBytes(
  encodeSet(encodeSequence(OID.country, encodePrintableString("US"))),
  encodeSet(encodeSequence(OID.organization, encodeUtf8String("Signet"))),
);

function extension(oid: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? encodeSequence(oid, encodeBoolean(true), encodeOctetString(value)) : encodeSequence(oid, encodeOctetString(value));
}

// keyUsage named bits, trailing zero bits dropped (DER): digitalSignature(0) keyEncipherment(2)
// keyAgreement(4) keyCertSign(5) cRLSign(6).
const KU_LEAF_EC = extension(OID.keyUsage, true, encodeBitString(Uint8Array.of(0x88), 3));
const KU_LEAF_RSA = extension(OID.keyUsage, true, encodeBitString(Uint8Array.of(0xa0), 5));
const KU_CA = extension(OID.keyUsage, true, encodeBitString(Uint8Array.of(0x06), 1));
const BC_LEAF = extension(OID.basicConstraints, true, encodeSequence());
const BC_CA = extension(OID.basicConstraints, true, encodeSequence(encodeBoolean(true)));
const EKU_LEAF = extension(OID.extKeyUsage, false, encodeSequence(OID.serverAuth, OID.clientAuth));

function subjectKeyIdExtension(keyId: Uint8Array): Uint8Array {
  return extension(OID.subjectKeyId, false, encodeOctetString(keyId));
}

function authorityKeyIdExtension(keyId: Uint8Array): Uint8Array {
  return extension(OID.authorityKeyId, false, encodeSequence(encodeImplicit(0, keyId)));
}

/** The Name `C=US, O=Signet[, CN=<commonName>]`. */
export function signetName(commonName?: string): Uint8Array {
  if (commonName === undefined) return encodeSequence(SIGNET_RDNS);
  return encodeSequence(SIGNET_RDNS, encodeSet(encodeSequence(OID.commonName, encodeUtf8String(commonName))));
}

/** SHA-1 of the subjectPublicKey BIT STRING value (RFC 5280 §4.2.1.2, method 1). */
export function computeKeyId(subjectPublicKey: Uint8Array): Uint8Array {
  return sha1(subjectPublicKey);
}

function checkSerial(serial: Uint8Array): number {
  const size = unsignedIntegerContentSize(serial);
  let any = 0;
  for (let i = 0; i < serial.length; i++) any |= serial[i]!;
  if (size > 20 || any === 0) throw new TypeError("serial must be non-zero and fit 20 octets");
  return size;
}

function checkValidity(notBefore: number, notAfter: number): void {
  if (!(notAfter > notBefore)) throw new TypeError("notAfter must be after notBefore");
}

function checkKeyId(keyId: Uint8Array): void {
  if (keyId.length === 0 || keyId.length > 64) throw new TypeError("key identifier must be 1..64 bytes");
}

// ---------------------------------------------------------------- CA

export interface CaTbsInput {
  readonly trustDomain: string;
  /** Random serial (16 bytes recommended), big-endian unsigned. */
  readonly serial: Uint8Array;
  /** Milliseconds since the epoch; encoded with second precision. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** The CA's own key type: selects the (self-)signature algorithm. */
  readonly keyType: KeyType;
  /** DER SubjectPublicKeyInfo of the CA key. */
  readonly spki: Uint8Array;
  /** Usually `computeKeyId(subjectPublicKey)`. */
  readonly subjectKeyId: Uint8Array;
}

/** `C=US, O=Signet, CN=<td> CA <first 8 serial bytes in hex>` (td truncated to keep CN ≤ 64). */
export function caSubjectName(trustDomain: string, serial: Uint8Array): Uint8Array {
  const suffix = ` CA ${toHex(serial.subarray(0, 8))}`;
  return signetName(trustDomain.slice(0, MAX_COMMON_NAME - suffix.length) + suffix);
}

/** TBSCertificate of a self-signed SPIFFE CA for `spiffe://<trustDomain>`. */
export function encodeCaTbs(input: CaTbsInput): Uint8Array {
  checkSerial(input.serial);
  checkValidity(input.notBefore, input.notAfter);
  checkKeyId(input.subjectKeyId);
  const name = caSubjectName(input.trustDomain, input.serial);
  const san = encodeSequence(encodeIa5String(`spiffe://${input.trustDomain}`, GENERAL_NAME_URI));
  return encodeSequence(
    VERSION_V3,
    encodeUnsignedInteger(input.serial),
    signatureAlgorithmIdentifier(input.keyType),
    name,
    encodeSequence(encodeTime(input.notBefore), encodeTime(input.notAfter)),
    name,
    input.spki,
    encodeExplicit(
      3,
      encodeSequence(BC_CA, KU_CA, subjectKeyIdExtension(input.subjectKeyId), authorityKeyIdExtension(input.subjectKeyId), extension(OID.subjectAltName, false, san)),
    ),
  );
}

// ---------------------------------------------------------------- leaf (X509-SVID)

export interface LeafEncoderOptions {
  /** DER Name of the issuing CA (its subject, byte for byte). */
  readonly issuerName: Uint8Array;
  /** The CA key type: selects the signature algorithm. */
  readonly issuerKeyType: KeyType;
  /** The CA's subjectKeyIdentifier, emitted as the leaf's authorityKeyIdentifier. */
  readonly issuerKeyId: Uint8Array;
}

export interface LeafTbsInput {
  /** Random serial (16 bytes recommended), big-endian unsigned; never all zero. */
  readonly serial: Uint8Array;
  /** Milliseconds since the epoch; encoded with second precision. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** The SPIFFE ID, already validated (ASCII). */
  readonly spiffeId: string;
  /** Already validated DNS names; the first one also becomes the CN if it fits 64 characters. */
  readonly dnsNames?: readonly string[];
  /** DER SubjectPublicKeyInfo, already validated by `parseSpki`. */
  readonly spki: Uint8Array;
  /** Selects keyUsage: EC → digitalSignature|keyAgreement, RSA → digitalSignature|keyEncipherment. */
  readonly keyKind: "ec" | "rsa";
  /** Usually `computeKeyId(spkiInfo.subjectPublicKey)`. */
  readonly subjectKeyId: Uint8Array;
}

export type LeafEncoder = (input: LeafTbsInput) => Uint8Array;

const NO_DNS_NAMES: readonly string[] = [];
const CN_OID_LEN = OID.commonName.length;

/** Precomputes the per-CA parts of an X509-SVID TBSCertificate; returns the per-leaf encoder. */
export function createLeafEncoder(options: LeafEncoderOptions): LeafEncoder {
  checkKeyId(options.issuerKeyId);
  if (options.issuerName[0] !== TAG.SEQUENCE) throw new TypeError("issuerName must be a DER Name");
  const aki = authorityKeyIdExtension(options.issuerKeyId);
  const issuerPart = concatBytes(signatureAlgorithmIdentifier(options.issuerKeyType), options.issuerName);
  const extPrefixEc = concatBytes(BC_LEAF, KU_LEAF_EC, EKU_LEAF, aki);
  const extPrefixRsa = concatBytes(BC_LEAF, KU_LEAF_RSA, EKU_LEAF, aki);
  const skiOid = OID.subjectKeyId;
  const sanOid = OID.subjectAltName;

  return function encodeLeafTbs(input: LeafTbsInput): Uint8Array {
    const { serial, notBefore, notAfter, spiffeId, spki, subjectKeyId } = input;
    const dnsNames = input.dnsNames ?? NO_DNS_NAMES;
    const serialContent = checkSerial(serial);
    checkValidity(notBefore, notAfter);
    checkKeyId(subjectKeyId);
    if (!spiffeId.startsWith("spiffe://")) throw new TypeError("spiffeId must be a spiffe:// URI");
    if (spki[0] !== TAG.SEQUENCE) throw new TypeError("spki must be a DER SubjectPublicKeyInfo");

    // ---- sizes, innermost first
    const validityContent = timeSize(notBefore) + timeSize(notAfter);
    const first = dnsNames[0];
    const cn = first !== undefined && first.length <= MAX_COMMON_NAME ? first : undefined;
    let cnAtv = 0;
    let subjectContent = SIGNET_RDNS.length;
    if (cn !== undefined) {
      cnAtv = CN_OID_LEN + tlvSize(cn.length);
      subjectContent += tlvSize(tlvSize(cnAtv));
    }
    const skiOctet = tlvSize(subjectKeyId.length);
    const skiExt = skiOid.length + tlvSize(skiOctet);
    let namesContent = tlvSize(spiffeId.length);
    for (const d of dnsNames) {
      if (d.length === 0) throw new TypeError("empty DNS name");
      namesContent += tlvSize(d.length);
    }
    const sanValue = tlvSize(namesContent);
    const sanExt = sanOid.length + tlvSize(sanValue);
    const prefix = input.keyKind === "ec" ? extPrefixEc : extPrefixRsa;
    const extsContent = prefix.length + tlvSize(skiExt) + tlvSize(sanExt);
    const extsSeq = tlvSize(extsContent);
    const tbsContent =
      VERSION_V3.length + tlvSize(serialContent) + issuerPart.length + tlvSize(validityContent) + tlvSize(subjectContent) + spki.length + tlvSize(extsSeq);

    // ---- one buffer, front to back
    const buf = new Uint8Array(tlvSize(tbsContent));
    let off = writeHeader(buf, 0, TAG.SEQUENCE, tbsContent);
    off = writeBytes(buf, off, VERSION_V3);
    off = writeUnsignedInteger(buf, off, serial);
    off = writeBytes(buf, off, issuerPart);
    off = writeHeader(buf, off, TAG.SEQUENCE, validityContent);
    off = writeTime(buf, off, notBefore);
    off = writeTime(buf, off, notAfter);
    off = writeHeader(buf, off, TAG.SEQUENCE, subjectContent);
    off = writeBytes(buf, off, SIGNET_RDNS);
    if (cn !== undefined) {
      off = writeHeader(buf, off, TAG.SET, tlvSize(cnAtv));
      off = writeHeader(buf, off, TAG.SEQUENCE, cnAtv);
      off = writeBytes(buf, off, OID.commonName);
      off = writeAscii(buf, writeHeader(buf, off, TAG.UTF8_STRING, cn.length), cn);
    }
    off = writeBytes(buf, off, spki);
    off = writeHeader(buf, off, 0xa3, extsSeq);
    off = writeHeader(buf, off, TAG.SEQUENCE, extsContent);
    off = writeBytes(buf, off, prefix);
    off = writeHeader(buf, off, TAG.SEQUENCE, skiExt);
    off = writeBytes(buf, off, skiOid);
    off = writeHeader(buf, off, TAG.OCTET_STRING, skiOctet);
    off = writeBytes(buf, writeHeader(buf, off, TAG.OCTET_STRING, subjectKeyId.length), subjectKeyId);
    off = writeHeader(buf, off, TAG.SEQUENCE, sanExt);
    off = writeBytes(buf, off, sanOid);
    off = writeHeader(buf, off, TAG.OCTET_STRING, sanValue);
    off = writeHeader(buf, off, TAG.SEQUENCE, namesContent);
    off = writeAscii(buf, writeHeader(buf, off, GENERAL_NAME_URI, spiffeId.length), spiffeId);
    for (const d of dnsNames) off = writeAscii(buf, writeHeader(buf, off, GENERAL_NAME_DNS, d.length), d);
    if (off !== buf.length) throw new Error(`leaf encoder size mismatch: ${off} != ${buf.length}`);
    return buf;
  };
}

// ---------------------------------------------------------------- signing

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function assembleCertificate(tbs: Uint8Array, signatureAlgorithmId: Uint8Array, signatureValue: Uint8Array): Uint8Array {
  const bitContent = signatureValue.length + 1;
  const body = tbs.length + signatureAlgorithmId.length + tlvSize(bitContent);
  const out = new Uint8Array(tlvSize(body));
  let off = writeHeader(out, 0, TAG.SEQUENCE, body);
  off = writeBytes(out, off, tbs);
  off = writeBytes(out, off, signatureAlgorithmId);
  off = writeHeader(out, off, TAG.BIT_STRING, bitContent);
  out[off++] = 0; // no unused bits
  out.set(signatureValue, off);
  return out;
}

/** WebCrypto signature output → X.509 signatureValue bytes (ECDSA: P1363 → DER; RSA: as is). */
export function x509SignatureValue(keyType: KeyType, webCryptoSignature: Uint8Array): Uint8Array {
  return KEY_TYPES[keyType].kind === "ec" ? ecdsaP1363ToDer(webCryptoSignature) : webCryptoSignature;
}

/** Signs `tbs` with `privateKey` (of `keyType`) and returns the Certificate DER. */
export async function signTbs(tbs: Uint8Array, privateKey: CryptoKey, keyType: KeyType): Promise<Uint8Array> {
  const sig = new Uint8Array(await crypto.subtle.sign(KEY_TYPES[keyType].sign, privateKey, tbs as Uint8Array<ArrayBuffer>));
  return assembleCertificate(tbs, signatureAlgorithmIdentifier(keyType), x509SignatureValue(keyType, sig));
}
