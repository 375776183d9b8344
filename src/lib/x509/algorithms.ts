/**
 * The one table of key and signature algorithms Signet uses (like jose's `jws_algorithms.ts`):
 * nothing else in `lib/x509` enumerates algorithms.
 *
 * Key types (SPIRE's `ca_key_type` names): `ec-p256` → ECDSA P-256/SHA-256 (ES256),
 * `ec-p384` → ECDSA P-384/SHA-384 (ES384), `rsa-2048` → RSASSA-PKCS1-v1_5/SHA-256 (RS256).
 *
 * The byte constants exported here are shared; treat them as read-only.
 */
import { err, ok, type Result } from "../result";
import { DER_NULL, encodeOid, encodeSequence, TAG, tlvSize, unsignedIntegerContentSize, writeHeader, writeUnsignedInteger } from "./der-writer";
import { DerReader, decodeUnsignedInteger } from "./der-reader";

export type KeyType = "ec-p256" | "ec-p384" | "rsa-2048";
export const KEY_TYPE_NAMES: readonly KeyType[] = ["ec-p256", "ec-p384", "rsa-2048"];

export function isKeyType(s: string): s is KeyType {
  return s === "ec-p256" || s === "ec-p384" || s === "rsa-2048";
}

export type HashName = "SHA-256" | "SHA-384" | "SHA-512";
export type NamedCurve = "P-256" | "P-384";
export type SignatureAlgorithm =
  | "ecdsa-with-SHA256"
  | "ecdsa-with-SHA384"
  | "sha256WithRSAEncryption"
  | "sha384WithRSAEncryption"
  | "sha512WithRSAEncryption";

// WebCrypto parameter shapes, written out so they type-check against both the DOM lib (Node)
// and the workerd runtime types.
export interface EcGenerateParams {
  readonly name: "ECDSA";
  readonly namedCurve: NamedCurve;
}
export interface RsaGenerateParams {
  readonly name: "RSASSA-PKCS1-v1_5";
  readonly modulusLength: number;
  readonly publicExponent: Uint8Array<ArrayBuffer>;
  readonly hash: HashName;
}
export interface EcImportParams {
  readonly name: "ECDSA";
  readonly namedCurve: NamedCurve;
}
export interface RsaImportParams {
  readonly name: "RSASSA-PKCS1-v1_5";
  readonly hash: HashName;
}
export interface EcdsaSignParams {
  readonly name: "ECDSA";
  readonly hash: HashName;
}
export interface RsaSignParams {
  readonly name: "RSASSA-PKCS1-v1_5";
}

interface KeyTypeCommon {
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly jwsAlg: "ES256" | "ES384" | "RS256";
  readonly hash: HashName;
}
export interface EcKeyTypeInfo extends KeyTypeCommon {
  readonly kind: "ec";
  readonly curve: NamedCurve;
  /** Bytes per coordinate, and per `r`/`s` in a P1363 signature. */
  readonly size: 32 | 48;
  readonly generate: EcGenerateParams;
  readonly import: EcImportParams;
  readonly sign: EcdsaSignParams;
}
export interface RsaKeyTypeInfo extends KeyTypeCommon {
  readonly kind: "rsa";
  readonly modulusBits: 2048;
  readonly generate: RsaGenerateParams;
  readonly import: RsaImportParams;
  readonly sign: RsaSignParams;
}
export type KeyTypeInfo = EcKeyTypeInfo | RsaKeyTypeInfo;

export const KEY_TYPES: Readonly<Record<KeyType, KeyTypeInfo>> = Object.freeze({
  "ec-p256": {
    kind: "ec",
    curve: "P-256",
    size: 32,
    hash: "SHA-256",
    signatureAlgorithm: "ecdsa-with-SHA256",
    jwsAlg: "ES256",
    generate: { name: "ECDSA", namedCurve: "P-256" },
    import: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
  "ec-p384": {
    kind: "ec",
    curve: "P-384",
    size: 48,
    hash: "SHA-384",
    signatureAlgorithm: "ecdsa-with-SHA384",
    jwsAlg: "ES384",
    generate: { name: "ECDSA", namedCurve: "P-384" },
    import: { name: "ECDSA", namedCurve: "P-384" },
    sign: { name: "ECDSA", hash: "SHA-384" },
  },
  "rsa-2048": {
    kind: "rsa",
    modulusBits: 2048,
    hash: "SHA-256",
    signatureAlgorithm: "sha256WithRSAEncryption",
    jwsAlg: "RS256",
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: "SHA-256" },
    import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
});

// ---------------------------------------------------------------- object identifiers

/** Encoded OBJECT IDENTIFIERs (full TLV) for keys and curves. */
export const KEY_OIDS = Object.freeze({
  /** id-ecPublicKey, RFC 5480 */
  ecPublicKey: encodeOid("1.2.840.10045.2.1"),
  /** secp256r1 / prime256v1 */
  p256: encodeOid("1.2.840.10045.3.1.7"),
  /** secp384r1 */
  p384: encodeOid("1.3.132.0.34"),
  /** rsaEncryption, RFC 3279 */
  rsaEncryption: encodeOid("1.2.840.113549.1.1.1"),
});

export interface SignatureAlgorithmInfo {
  readonly name: SignatureAlgorithm;
  readonly kind: "ec" | "rsa";
  readonly hash: HashName;
  /** Encoded OBJECT IDENTIFIER (full TLV). */
  readonly oid: Uint8Array;
  /**
   * DER AlgorithmIdentifier as Signet emits it: ECDSA with parameters absent (RFC 5758 §3.2),
   * RSA with NULL parameters (RFC 4055 §5).
   */
  readonly algorithmIdentifier: Uint8Array;
}

function signatureAlgorithm(name: SignatureAlgorithm, dotted: string, kind: "ec" | "rsa", hash: HashName): SignatureAlgorithmInfo {
  const oid = encodeOid(dotted);
  return { name, kind, hash, oid, algorithmIdentifier: kind === "ec" ? encodeSequence(oid) : encodeSequence(oid, DER_NULL) };
}

export const SIGNATURE_ALGORITHMS: Readonly<Record<SignatureAlgorithm, SignatureAlgorithmInfo>> = Object.freeze({
  "ecdsa-with-SHA256": signatureAlgorithm("ecdsa-with-SHA256", "1.2.840.10045.4.3.2", "ec", "SHA-256"),
  "ecdsa-with-SHA384": signatureAlgorithm("ecdsa-with-SHA384", "1.2.840.10045.4.3.3", "ec", "SHA-384"),
  sha256WithRSAEncryption: signatureAlgorithm("sha256WithRSAEncryption", "1.2.840.113549.1.1.11", "rsa", "SHA-256"),
  sha384WithRSAEncryption: signatureAlgorithm("sha384WithRSAEncryption", "1.2.840.113549.1.1.12", "rsa", "SHA-384"),
  sha512WithRSAEncryption: signatureAlgorithm("sha512WithRSAEncryption", "1.2.840.113549.1.1.13", "rsa", "SHA-512"),
});

/** The DER AlgorithmIdentifier for certificates signed by a key of `keyType`. */
export function signatureAlgorithmIdentifier(keyType: KeyType): Uint8Array {
  return SIGNATURE_ALGORITHMS[KEY_TYPES[keyType].signatureAlgorithm].algorithmIdentifier;
}

// ---------------------------------------------------------------- ECDSA signature formats

/**
 * WebCrypto's IEEE P1363 `r ‖ s` → DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`
 * (X.509 and PKCS#10 carry the DER form). Throws TypeError on an empty or odd-length input.
 */
export function ecdsaP1363ToDer(sig: Uint8Array): Uint8Array {
  if (sig.length === 0 || sig.length % 2 !== 0) throw new TypeError("P1363 signature must have even, non-zero length");
  const half = sig.length / 2;
  const r = sig.subarray(0, half);
  const s = sig.subarray(half);
  const body = tlvSize(unsignedIntegerContentSize(r)) + tlvSize(unsignedIntegerContentSize(s));
  const out = new Uint8Array(tlvSize(body));
  const off = writeUnsignedInteger(out, writeHeader(out, 0, TAG.SEQUENCE, body), r);
  writeUnsignedInteger(out, off, s);
  return out;
}

export interface EcdsaSignatureError {
  readonly reason: "malformed_ecdsa_signature";
  readonly detail?: string;
}

/**
 * Strict DER `ECDSA-Sig-Value` → P1363 `r ‖ s`, each left-padded to `size` bytes (32 for
 * P-256, 48 for P-384). Rejects trailing data, non-minimal or negative integers, zero values
 * and values wider than `size`. (Range against the group order is left to WebCrypto.)
 */
export function ecdsaDerToP1363(sig: Uint8Array, size: number): Result<Uint8Array, EcdsaSignatureError> {
  const malformed = (detail: string) => err<EcdsaSignatureError>({ reason: "malformed_ecdsa_signature", detail });
  const outer = new DerReader(sig);
  const seq = outer.expect(TAG.SEQUENCE, "ECDSA-Sig-Value");
  if (!seq.ok) return malformed(seq.error.reason);
  if (!outer.finish("ECDSA-Sig-Value").ok) return malformed("der_trailing_data");
  const inner = outer.enter(seq.value);
  const out = new Uint8Array(size * 2);
  for (let i = 0; i < 2; i++) {
    const tlv = inner.expect(TAG.INTEGER, i === 0 ? "r" : "s");
    if (!tlv.ok) return malformed(tlv.error.reason);
    const mag = decodeUnsignedInteger(inner.contents(tlv.value));
    if (!mag.ok) return malformed(mag.error.reason);
    const v = mag.value;
    if (v.length > size) return malformed("integer wider than the curve");
    if (v.every((b) => b === 0)) return malformed("zero integer");
    out.set(v, (i + 1) * size - v.length);
  }
  if (!inner.finish("ECDSA-Sig-Value").ok) return malformed("der_trailing_data");
  return ok(out);
}
