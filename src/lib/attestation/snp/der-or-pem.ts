/**
 * Endorsement certificates and CRLs arrive as DER (KDS, the guest's certificate table) or PEM (Azure
 * THIM, a file an admin saved): `derOrPem` takes either. PEM input (text starting with `-----BEGIN`,
 * after whitespace) → the DER of one block with `label`; anything else is taken as DER as it is.
 * For certificates, a bundle (VCEK, ASK, ARK, or a KDS chain with the VCEK appended) yields the
 * block whose subject CN is SEV-VCEK or SEV-VLEK (the others are ignored: the roots are pinned),
 * else the first. PEM without such a block is undefined. Makes no trust decision; never throws.
 */
import { fromPemAll, fromUtf8 } from "../../encoding";
import { commonName, parseCertificate } from "../../x509/cert-reader";

export function derOrPem(bytes: Uint8Array, label: "CERTIFICATE" | "X509 CRL"): Uint8Array | undefined {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  if (fromUtf8(bytes.subarray(i, i + 10)) !== "-----BEGIN") return bytes;
  const text = fromUtf8(bytes);
  const blocks = text === undefined ? undefined : fromPemAll(text, label);
  if (!blocks || blocks.length === 0) return undefined;
  if (label !== "CERTIFICATE") return blocks[0];
  const isEndorsementKey = (der: Uint8Array) => {
    const c = parseCertificate(der);
    const cn = c.ok ? commonName(c.value.subject) : undefined;
    return cn === "SEV-VCEK" || cn === "SEV-VLEK";
  };
  return blocks.find(isEndorsementKey) ?? blocks[0];
}
