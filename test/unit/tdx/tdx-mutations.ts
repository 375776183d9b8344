/** Byte-level tampering helpers for the TDX tests: flip bytes inside certificates carried as PEM. */
import { fromBase64, toBase64 } from "../../../src/lib/encoding";

const BLOCK = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;

/** Positions of each PEM certificate's base64 body in `text`: [start, end) of the body. */
function blocks(text: string): [number, number][] {
  return [...text.matchAll(BLOCK)].map((m) => [m.index! + "-----BEGIN CERTIFICATE-----".length, m.index! + m[0].length - "-----END CERTIFICATE-----".length]);
}

export function pemCertificateCount(pem: Uint8Array): number {
  return blocks(new TextDecoder("latin1").decode(pem)).length;
}

/** DER of certificate `index` in a PEM byte string. */
export function pemCertificateDer(pem: Uint8Array, index: number): Uint8Array {
  const text = new TextDecoder("latin1").decode(pem);
  const [start, end] = blocks(text)[index]!;
  return fromBase64(text.slice(start, end).replace(/\s+/g, ""))!;
}

/**
 * `pem` with certificate `index` replaced by `der` (same length), keeping every other byte and the
 * line layout, so that lengths around the PEM (quote size fields) stay valid.
 */
export function replacePemCertificate(pem: Uint8Array, index: number, der: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(pem);
  const [start, end] = blocks(text)[index]!;
  const b64 = toBase64(der);
  const out = pem.slice();
  let k = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09) continue;
    out[i] = b64.charCodeAt(k++);
  }
  if (k !== b64.length) throw new Error("replacement must keep the DER length");
  return out;
}

export function flip(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const out = bytes.slice();
  out[at] = out[at]! ^ mask;
  return out;
}
