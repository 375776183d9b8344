/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) for keys presented by workloads and agents.
 *
 * Accepted, and nothing else:
 * - id-ecPublicKey (RFC 5480) with namedCurve P-256 or P-384 and an uncompressed point of the
 *   exact length. `importSpkiForVerify` then lets WebCrypto check that the point is on the curve.
 * - rsaEncryption (RFC 3279) with NULL parameters, an odd modulus of 2048–8192 bits and public
 *   exponent exactly 65537. Other exponents are refused (`unsupported_rsa_exponent`): every
 *   mainstream generator (OpenSSL, Go, WebCrypto, SPIRE agents) uses 65537, and small exponents
 *   only add risk (e = 3 is the classic PKCS#1 v1.5 forgery setting for lax verifiers).
 *
 * The input must be exactly one DER SubjectPublicKeyInfo: no trailing bytes, no BER.
 */
import { err, ok, type Result } from "../result";
import { KEY_OIDS, type HashName, type NamedCurve } from "./algorithms";
import { TAG } from "./der-writer";
import { bytesEqual, checkNull, decodeBitString, decodeUnsignedInteger, readSingle, type DerError } from "./der-reader";

export type SpkiErrorReason =
  | "malformed_spki"
  | "unsupported_key_algorithm"
  | "unsupported_curve"
  | "unsupported_rsa_modulus_size"
  | "unsupported_rsa_exponent";

export interface SpkiError {
  readonly reason: SpkiErrorReason;
  readonly detail?: string;
}

export interface EcSpkiInfo {
  readonly kind: "ec";
  readonly curve: NamedCurve;
  readonly keyType: "ec-p256" | "ec-p384";
  /** The subjectPublicKey BIT STRING value (the 0x04 ‖ X ‖ Y point); a view into the input. */
  readonly subjectPublicKey: Uint8Array;
}

export interface RsaSpkiInfo {
  readonly kind: "rsa";
  readonly modulusBits: number;
  /** Set when the modulus is exactly 2048 bits. */
  readonly keyType?: "rsa-2048";
  /** The subjectPublicKey BIT STRING value (DER RSAPublicKey); a view into the input. */
  readonly subjectPublicKey: Uint8Array;
}

export type SpkiInfo = EcSpkiInfo | RsaSpkiInfo;

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
const F4 = Uint8Array.of(0x01, 0x00, 0x01);

function fail(reason: SpkiErrorReason, detail?: string): { readonly ok: false; readonly error: SpkiError } {
  return err(detail === undefined ? { reason } : { reason, detail });
}

function malformed(e: DerError): { readonly ok: false; readonly error: SpkiError } {
  return fail("malformed_spki", e.detail === undefined ? e.reason : `${e.reason}: ${e.detail}`);
}

/** Parses exactly one DER SubjectPublicKeyInfo of a supported kind. Never throws. */
export function parseSpki(der: Uint8Array): Result<SpkiInfo, SpkiError> {
  const top = readSingle(der, TAG.SEQUENCE, "SubjectPublicKeyInfo");
  if (!top.ok) return malformed(top.error);
  const spki = top.value.reader.enter(top.value.tlv);

  const algTlv = spki.expect(TAG.SEQUENCE, "algorithm");
  if (!algTlv.ok) return malformed(algTlv.error);
  const keyTlv = spki.expect(TAG.BIT_STRING, "subjectPublicKey");
  if (!keyTlv.ok) return malformed(keyTlv.error);
  const end = spki.finish("SubjectPublicKeyInfo");
  if (!end.ok) return malformed(end.error);

  const bits = decodeBitString(spki.contents(keyTlv.value));
  if (!bits.ok) return malformed(bits.error);
  if (bits.value.unusedBits !== 0) return fail("malformed_spki", "subjectPublicKey has unused bits");
  const key = bits.value.bytes;

  const alg = spki.enter(algTlv.value);
  const oid = alg.expect(TAG.OID, "algorithm OID");
  if (!oid.ok) return malformed(oid.error);
  const oidBytes = alg.raw(oid.value);

  if (bytesEqual(oidBytes, KEY_OIDS.ecPublicKey)) {
    const params = alg.next();
    if (!params.ok) return malformed(params.error);
    const algEnd = alg.finish("AlgorithmIdentifier");
    if (!algEnd.ok) return malformed(algEnd.error);
    const curveOid = alg.raw(params.value);
    let curve: NamedCurve;
    if (bytesEqual(curveOid, KEY_OIDS.p256)) curve = "P-256";
    else if (bytesEqual(curveOid, KEY_OIDS.p384)) curve = "P-384";
    else return fail("unsupported_curve");
    const size = curve === "P-256" ? 32 : 48;
    if (key.length !== 1 + 2 * size || key[0] !== 0x04) return fail("malformed_spki", "expected an uncompressed point");
    return ok({ kind: "ec", curve, keyType: curve === "P-256" ? "ec-p256" : "ec-p384", subjectPublicKey: key });
  }

  if (bytesEqual(oidBytes, KEY_OIDS.rsaEncryption)) {
    const params = alg.expect(TAG.NULL, "rsaEncryption parameters");
    if (!params.ok) return malformed(params.error);
    const isNull = checkNull(alg.contents(params.value));
    if (!isNull.ok) return malformed(isNull.error);
    const algEnd = alg.finish("AlgorithmIdentifier");
    if (!algEnd.ok) return malformed(algEnd.error);
    return parseRsaPublicKey(key);
  }

  return fail("unsupported_key_algorithm");
}

function parseRsaPublicKey(key: Uint8Array): Result<RsaSpkiInfo, SpkiError> {
  const top = readSingle(key, TAG.SEQUENCE, "RSAPublicKey");
  if (!top.ok) return malformed(top.error);
  const r = top.value.reader.enter(top.value.tlv);
  const nTlv = r.expect(TAG.INTEGER, "modulus");
  if (!nTlv.ok) return malformed(nTlv.error);
  const eTlv = r.expect(TAG.INTEGER, "publicExponent");
  if (!eTlv.ok) return malformed(eTlv.error);
  const end = r.finish("RSAPublicKey");
  if (!end.ok) return malformed(end.error);

  const n = decodeUnsignedInteger(r.contents(nTlv.value));
  if (!n.ok) return malformed(n.error);
  const e = decodeUnsignedInteger(r.contents(eTlv.value));
  if (!e.ok) return malformed(e.error);

  const modulus = n.value;
  const top8 = modulus[0]!;
  const modulusBits = top8 === 0 ? 0 : (modulus.length - 1) * 8 + (32 - Math.clz32(top8));
  if (modulusBits < MIN_RSA_BITS || modulusBits > MAX_RSA_BITS) return fail("unsupported_rsa_modulus_size", `${modulusBits} bits`);
  if ((modulus[modulus.length - 1]! & 1) === 0) return fail("malformed_spki", "even modulus");
  if (!bytesEqual(e.value, F4)) return fail("unsupported_rsa_exponent");

  return ok(modulusBits === 2048 ? { kind: "rsa", modulusBits, keyType: "rsa-2048", subjectPublicKey: key } : { kind: "rsa", modulusBits, subjectPublicKey: key });
}

export interface InvalidPublicKey {
  readonly reason: "invalid_public_key";
  readonly detail?: string;
}

/**
 * Imports a parsed SPKI as a non-extractable WebCrypto verification key. WebCrypto rejects EC
 * points that are not on the curve. RSA keys are bound to `hash` at import (default SHA-256);
 * for ECDSA the hash is chosen at verify time and `hash` is ignored. Never throws.
 */
export async function importSpkiForVerify(der: Uint8Array, info: SpkiInfo, hash: HashName = "SHA-256"): Promise<Result<CryptoKey, InvalidPublicKey>> {
  const params = info.kind === "ec" ? { name: "ECDSA", namedCurve: info.curve } : { name: "RSASSA-PKCS1-v1_5", hash };
  try {
    return ok(await crypto.subtle.importKey("spki", der as Uint8Array<ArrayBuffer>, params, false, ["verify"]));
  } catch (e) {
    return err({ reason: "invalid_public_key", detail: e instanceof Error ? e.name : "import failed" });
  }
}
