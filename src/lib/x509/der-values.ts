/** Decoders for DER value types the certificate and CRL readers need (OIDs, times). Never throw. */
import { err, ok, type Result } from "../result";
import type { DerError } from "./der-reader";

/** OBJECT IDENTIFIER contents → dotted string. */
export function decodeOid(content: Uint8Array): Result<string, DerError> {
  if (content.length === 0 || content.length > 64) return err({ reason: "der_unexpected_tag", detail: "bad OID length" });
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (value === 0 && b === 0x80) return err({ reason: "der_unexpected_tag", detail: "non-minimal OID arc" });
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) return err({ reason: "der_unexpected_tag", detail: "OID arc too large" });
    if (!(b & 0x80)) {
      arcs.push(value);
      value = 0;
    } else if (i === content.length - 1) {
      return err({ reason: "der_unexpected_tag", detail: "truncated OID" });
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return ok([...head, ...arcs.slice(1)].join("."));
}

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/**
 * UTCTime (YYMMDDHHMMSSZ; YY ≥ 50 → 19YY) or GeneralizedTime (YYYYMMDDHHMMSSZ), the forms
 * RFC 5280 §4.1.2.5 allows → milliseconds since the epoch; undefined if malformed.
 */
export function parseTime(tag: number, content: Uint8Array): number | undefined {
  let s = "";
  for (const b of content) s += String.fromCharCode(b);
  let m: RegExpExecArray | null;
  let year: number;
  if (tag === UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tag === GENERALIZED_TIME && (m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    year = Number(m[1]);
  } else {
    return undefined;
  }
  const [month, day, hour, minute, second] = [2, 3, 4, 5, 6].map((i) => Number(m![i]));
  const d = new Date(Date.UTC(2000, month! - 1, day!, hour!, minute!, second!));
  d.setUTCFullYear(year, month! - 1, day!); // Date.UTC maps years 0–99 to 1900–1999
  const t = d.getTime();
  if (d.getUTCMonth() !== month! - 1 || d.getUTCDate() !== day! || hour! > 23 || minute! > 59 || second! > 59) return undefined;
  return t;
}
