/**
 * Verifies a signature over signed DER data (a tbsCertificate, a tbsCertList) with an issuer's
 * SubjectPublicKeyInfo, for the algorithms vendor chains use: ECDSA with SHA-256/384, RSASSA-PKCS1-v1_5
 * with SHA-256/384/512, and RSASSA-PSS (RFC 4055) with explicit hash, MGF1 and salt (AMD: SHA-384, 48).
 * Never throws.
 */
import { err, ok, type Result } from "../result";
import { ecdsaDerToP1363, type HashName } from "./algorithms";
import { TAG } from "./der-writer";
import { decodeSmallInteger, readSingle } from "./der-reader";
import { decodeOid } from "./der-values";
import { parseSpki } from "./spki";
import type { AlgorithmIdentifier } from "./cert-reader";

export interface SignatureError {
  readonly reason: "unsupported_signature_algorithm" | "invalid_public_key" | "bad_signature";
  readonly detail?: string;
}

const HASH_OIDS: Record<string, HashName> = {
  "2.16.840.1.101.3.4.2.1": "SHA-256",
  "2.16.840.1.101.3.4.2.2": "SHA-384",
  "2.16.840.1.101.3.4.2.3": "SHA-512",
};
const ECDSA: Record<string, HashName> = { "1.2.840.10045.4.3.2": "SHA-256", "1.2.840.10045.4.3.3": "SHA-384" };
const RSA_PKCS1: Record<string, HashName> = {
  "1.2.840.113549.1.1.11": "SHA-256",
  "1.2.840.113549.1.1.12": "SHA-384",
  "1.2.840.113549.1.1.13": "SHA-512",
};
const RSA_PSS = "1.2.840.113549.1.1.10";
const MGF1 = "1.2.840.113549.1.1.8";

type Scheme =
  | { readonly kind: "ecdsa"; readonly hash: HashName }
  | { readonly kind: "pkcs1"; readonly hash: HashName }
  | { readonly kind: "pss"; readonly hash: HashName; readonly saltLength: number };

const unsupported = (detail: string) => err<SignatureError>({ reason: "unsupported_signature_algorithm", detail });

/** Reads AlgorithmIdentifier → signature scheme. PSS parameters must name one hash for both digest and MGF1. */
export function signatureScheme(alg: AlgorithmIdentifier): Result<Scheme, SignatureError> {
  if (ECDSA[alg.oid]) return alg.params === undefined ? ok({ kind: "ecdsa", hash: ECDSA[alg.oid]! }) : unsupported("ECDSA parameters must be absent");
  if (RSA_PKCS1[alg.oid]) {
    const nullOrAbsent = alg.params === undefined || (alg.params.length === 2 && alg.params[0] === TAG.NULL && alg.params[1] === 0);
    return nullOrAbsent ? ok({ kind: "pkcs1", hash: RSA_PKCS1[alg.oid]! }) : unsupported("RSA parameters must be NULL");
  }
  if (alg.oid !== RSA_PSS) return unsupported(alg.oid);
  if (!alg.params) return unsupported("RSASSA-PSS without parameters (SHA-1 defaults) is not accepted");
  return pssParams(alg.params);
}

function pssParams(params: Uint8Array): Result<Scheme, SignatureError> {
  const top = readSingle(params, TAG.SEQUENCE, "RSASSA-PSS-params");
  if (!top.ok) return unsupported("malformed RSASSA-PSS-params");
  const r = top.value.reader.enter(top.value.tlv);
  let hash: HashName | undefined;
  let mgfHash: HashName | undefined;
  let saltLength = 20;
  while (!r.done) {
    const field = r.next();
    if (!field.ok) return unsupported("malformed RSASSA-PSS-params");
    const inner = r.enter(field.value);
    const body = inner.next();
    if (!body.ok) return unsupported("malformed RSASSA-PSS-params");
    if (field.value.tag === 0xa0 || field.value.tag === 0xa1) {
      const alg = inner.enter(body.value);
      const oidTlv = alg.expect(TAG.OID, "algorithm");
      if (!oidTlv.ok) return unsupported("malformed RSASSA-PSS-params");
      const oid = decodeOid(alg.contents(oidTlv.value));
      if (!oid.ok) return unsupported("malformed RSASSA-PSS-params");
      if (field.value.tag === 0xa0) {
        hash = HASH_OIDS[oid.value];
      } else {
        if (oid.value !== MGF1) return unsupported("mask generation must be MGF1");
        const mgfAlg = alg.expect(TAG.SEQUENCE, "MGF1 hash");
        if (!mgfAlg.ok) return unsupported("malformed MGF1 parameters");
        const h = alg.enter(mgfAlg.value);
        const hOid = h.expect(TAG.OID, "hash");
        if (!hOid.ok) return unsupported("malformed MGF1 parameters");
        const d = decodeOid(h.contents(hOid.value));
        mgfHash = d.ok ? HASH_OIDS[d.value] : undefined;
      }
    } else if (field.value.tag === 0xa2) {
      if (body.value.tag !== TAG.INTEGER) return unsupported("malformed salt length");
      const n = decodeSmallInteger(inner.contents(body.value));
      if (!n.ok) return unsupported("malformed salt length");
      saltLength = n.value;
    } else if (field.value.tag !== 0xa3) {
      return unsupported("unknown RSASSA-PSS-params field");
    }
  }
  if (!hash || hash !== mgfHash) return unsupported("RSASSA-PSS must use one SHA-2 hash for the digest and MGF1");
  return ok({ kind: "pss", hash, saltLength });
}

/** Verifies `signature` over `signed` with the key in `issuerSpki` under `alg`. */
export async function verifySignedData(
  alg: AlgorithmIdentifier,
  signed: Uint8Array,
  signature: Uint8Array,
  issuerSpki: Uint8Array,
): Promise<Result<void, SignatureError>> {
  const scheme = signatureScheme(alg);
  if (!scheme.ok) return scheme;
  const s = scheme.value;
  const info = parseSpki(issuerSpki);
  if (!info.ok) return err({ reason: "invalid_public_key", detail: info.error.reason });
  if ((s.kind === "ecdsa") !== (info.value.kind === "ec")) return err({ reason: "bad_signature", detail: "key and algorithm kinds differ" });
  let key: CryptoKey;
  try {
    const params =
      info.value.kind === "ec"
        ? { name: "ECDSA", namedCurve: info.value.curve }
        : { name: s.kind === "pss" ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash: s.hash };
    key = await crypto.subtle.importKey("spki", issuerSpki as Uint8Array<ArrayBuffer>, params, false, ["verify"]);
  } catch {
    return err({ reason: "invalid_public_key" });
  }
  let sig = signature;
  if (s.kind === "ecdsa" && info.value.kind === "ec") {
    const p1363 = ecdsaDerToP1363(signature, info.value.curve === "P-256" ? 32 : 48);
    if (!p1363.ok) return err({ reason: "bad_signature", detail: "malformed ECDSA signature" });
    sig = p1363.value;
  }
  const params = s.kind === "ecdsa" ? { name: "ECDSA", hash: s.hash } : s.kind === "pss" ? { name: "RSA-PSS", saltLength: s.saltLength } : { name: "RSASSA-PKCS1-v1_5" };
  try {
    const valid = await crypto.subtle.verify(params, key, sig as Uint8Array<ArrayBuffer>, signed as Uint8Array<ArrayBuffer>);
    return valid ? ok(undefined) : err({ reason: "bad_signature" });
  } catch {
    return err({ reason: "bad_signature" });
  }
}


