/**
 * Readers for the certificate extensions Signet decides on: basicConstraints (is it a CA), keyUsage
 * (which bits, critical or not) and the URI names of subjectAltName. Never throw on hostile input.
 */
import { err, ok, type Result } from "../result";
import type { ParsedCertificate } from "./cert-reader";
import { decodeBitString, decodeBoolean, readSingle, type DerReader } from "./der-reader";

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_SAN = "2.5.29.17";
const TAG_SEQUENCE = 0x30;
const TAG_BOOLEAN = 0x01;
const TAG_BIT_STRING = 0x03;
/** GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String. */
const TAG_URI = 0x86;

export function isCa(cert: ParsedCertificate): Result<boolean, string> {
  const ext = cert.extensions.get(OID_BASIC_CONSTRAINTS);
  if (!ext) return ok(false);
  const seq = readSingle(ext.value, TAG_SEQUENCE, "basicConstraints");
  if (!seq.ok) return err("basicConstraints does not parse");
  const inner = seq.value.reader.enter(seq.value.tlv);
  const first = inner.optional(TAG_BOOLEAN);
  if (!first.ok) return err("basicConstraints does not parse");
  if (!first.value) return ok(false);
  const ca = decodeBoolean(inner.contents(first.value));
  return ca.ok ? ok(ca.value) : err("basicConstraints cA is not a boolean");
}

/** The key usage bits (bit 0 = digitalSignature … bit 6 = cRLSign), if the extension is present. */
export function keyUsage(cert: ParsedCertificate): Result<{ critical: boolean; bits: (n: number) => boolean } | undefined, string> {
  const ext = cert.extensions.get(OID_KEY_USAGE);
  if (!ext) return ok(undefined);
  const bs = readSingle(ext.value, TAG_BIT_STRING, "keyUsage");
  if (!bs.ok) return err("keyUsage does not parse");
  const bits = decodeBitString(bs.value.reader.contents(bs.value.tlv));
  if (!bits.ok) return err("keyUsage does not parse");
  const bytes = bits.value.bytes;
  return ok({ critical: ext.critical, bits: (n) => ((bytes[n >> 3] ?? 0) & (0x80 >> (n & 7))) !== 0 });
}

export function uriSans(cert: ParsedCertificate): Result<string[], string> {
  const ext = cert.extensions.get(OID_SAN);
  if (!ext) return ok([]);
  const seq = readSingle(ext.value, TAG_SEQUENCE, "subjectAltName");
  if (!seq.ok) return err("subjectAltName does not parse");
  const r: DerReader = seq.value.reader.enter(seq.value.tlv);
  const uris: string[] = [];
  while (!r.done) {
    const name = r.next();
    if (!name.ok) return err("subjectAltName does not parse");
    if (r.bytes[name.value.start] !== TAG_URI) continue;
    const bytes = r.contents(name.value);
    if (bytes.some((b) => b < 0x21 || b > 0x7e)) return err("a URI SAN is not printable ASCII");
    uris.push(String.fromCharCode(...bytes));
  }
  return ok(uris);
}

