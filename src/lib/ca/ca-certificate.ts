/**
 * The CA's own certificate: built once per rotation (self-signed SPIFFE CA for `spiffe://<td>`), and
 * read back on load into the per-CA leaf encoder the hot path uses.
 */
import { err, ok, type Result } from "../result";
import { KEY_TYPES, type KeyType } from "../x509/algorithms";
import { computeKeyId, createLeafEncoder, encodeCaTbs, signTbs, type LeafEncoder } from "../x509/certificate";
import { contextTag, TAG } from "../x509/der-writer";
import { readSingle } from "../x509/der-reader";
import { parseSpki } from "../x509/spki";
import type { TrustDomain } from "../spiffe/id";

export interface BuildCaCertificateInput {
  readonly trustDomain: TrustDomain;
  readonly keyType: KeyType;
  readonly spki: Uint8Array;
  readonly privateKey: CryptoKey;
  /** Milliseconds, whole seconds. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export async function buildCaCertificate(input: BuildCaCertificateInput): Promise<Uint8Array> {
  const info = parseSpki(input.spki);
  if (!info.ok) throw new TypeError(`CA public key: ${info.error.reason}`);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const tbs = encodeCaTbs({
    trustDomain: input.trustDomain,
    serial,
    notBefore: input.notBefore,
    notAfter: input.notAfter,
    keyType: input.keyType,
    spki: input.spki,
    subjectKeyId: computeKeyId(info.value.subjectPublicKey),
  });
  return signTbs(tbs, input.privateKey, input.keyType);
}

export interface CaCertificateInfo {
  readonly der: Uint8Array;
  readonly keyType: KeyType;
  readonly subjectKeyId: Uint8Array;
  /** Encodes leaf TBSCertificates issued by this CA. */
  readonly encodeLeaf: LeafEncoder;
}

export interface CaCertificateError {
  readonly reason: "malformed_ca_certificate";
  readonly detail?: string;
}

/** Reads the subject Name and key of a CA certificate Signet made, and prepares its leaf encoder. */
export async function readCaCertificate(der: Uint8Array, keyType: KeyType): Promise<Result<CaCertificateInfo, CaCertificateError>> {
  const bad = (detail: string) => err<CaCertificateError>({ reason: "malformed_ca_certificate", detail });
  const cert = readSingle(der, TAG.SEQUENCE, "Certificate");
  if (!cert.ok) return bad(cert.error.reason);
  const outer = cert.value.reader.enter(cert.value.tlv);
  const tbsTlv = outer.expect(TAG.SEQUENCE, "tbsCertificate");
  if (!tbsTlv.ok) return bad(tbsTlv.error.reason);
  const tbs = outer.enter(tbsTlv.value);
  const steps: [number, string][] = [
    [contextTag(0, true), "version"],
    [TAG.INTEGER, "serialNumber"],
    [TAG.SEQUENCE, "signature"],
    [TAG.SEQUENCE, "issuer"],
    [TAG.SEQUENCE, "validity"],
  ];
  for (const [tag, what] of steps) {
    const r = tbs.expect(tag, what);
    if (!r.ok) return bad(r.error.reason);
  }
  const subject = tbs.expect(TAG.SEQUENCE, "subject");
  if (!subject.ok) return bad(subject.error.reason);
  const spkiTlv = tbs.expect(TAG.SEQUENCE, "subjectPublicKeyInfo");
  if (!spkiTlv.ok) return bad(spkiTlv.error.reason);
  const spki = parseSpki(tbs.raw(spkiTlv.value));
  if (!spki.ok) return bad(spki.error.reason);
  const expectedKind = KEY_TYPES[keyType].kind;
  if (spki.value.kind !== expectedKind) return bad("key type does not match");
  const subjectKeyId = computeKeyId(spki.value.subjectPublicKey);
  const issuerName = tbs.raw(subject.value).slice();
  return ok({
    der,
    keyType,
    subjectKeyId,
    encodeLeaf: createLeafEncoder({ issuerName, issuerKeyType: keyType, issuerKeyId: subjectKeyId }),
  });
}
