/**
 * The AMD-specific content of a VCEK or VLEK certificate (KDS spec #57230; specs/sev-snp.md §2):
 * the key kind by subject CN, the product name, the TCB the key was derived for (SPL extensions),
 * the chip's hardware ID (VCEK) or the cloud provider's ID (VLEK), and an EC P-384 key.
 *
 * Strict where a wrong value could mislead a binding check (types, lengths, ranges, required
 * extensions); unknown non-critical extensions are ignored, as X.509 asks, so that a new KDS field
 * does not break verification. Unknown critical extensions are refused.
 */
import { ok, type Result } from "../../result";
import { commonName, type Extension, type ParsedCertificate } from "../../x509/cert-reader";
import { TAG } from "../../x509/der-writer";
import { decodeSmallInteger, readSingle } from "../../x509/der-reader";
import { parseSpki } from "../../x509/spki";
import { snpFail, type SnpFailure } from "./errors";
import { productFromName, type SnpProduct } from "./product";

const AMD = "1.3.6.1.4.1.3704.1.";
const OID = {
  structVersion: `${AMD}1`,
  productName: `${AMD}2`,
  blSpl: `${AMD}3.1`,
  teeSpl: `${AMD}3.2`,
  snpSpl: `${AMD}3.3`,
  spl4: `${AMD}3.4`,
  spl5: `${AMD}3.5`,
  spl6: `${AMD}3.6`,
  spl7: `${AMD}3.7`,
  ucodeSpl: `${AMD}3.8`,
  fmcSpl: `${AMD}3.9`,
  hwId: `${AMD}4`,
  cspId: `${AMD}5`,
} as const;

/** Extensions a path-validating verifier understands (RFC 5280 §4.2) or this module reads. */
const UNDERSTOOD = new Set<string>([...Object.values(OID), "2.5.29.15", "2.5.29.19", "2.5.29.14", "2.5.29.35", "2.5.29.31", "2.5.29.37"]);

export type EndorsementKind = "vcek" | "vlek";

/** The SPL extensions: what REPORTED_TCB must equal. spl4–spl7 are optional (absent on Turin). */
export interface CertTcb {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  readonly fmc: number | undefined;
  readonly spl4to7: readonly (number | undefined)[];
}

export interface EndorsementFacts {
  readonly kind: EndorsementKind;
  /** 0 for Milan/Genoa-style TCBs, 1 for Turin-style. */
  readonly structVersion: number;
  readonly productName: string;
  readonly product: SnpProduct;
  readonly tcb: CertTcb;
  /** VCEK only: 64 bytes (Milan, Genoa) or 8 bytes (Turin). */
  readonly hwId: Uint8Array | undefined;
  /** VLEK only. */
  readonly cspId: string | undefined;
}

const bad = (detail: string) => snpFail("malformed_endorsement_cert", detail);

/** Reads the AMD facts of an already-parsed VCEK/VLEK certificate. Makes no trust decision. */
export function readEndorsementFacts(cert: ParsedCertificate): Result<EndorsementFacts, SnpFailure> {
  if (cert.version !== 3) return bad("not an X.509 v3 certificate");
  const cn = commonName(cert.subject);
  const kind: EndorsementKind | undefined = cn === "SEV-VCEK" ? "vcek" : cn === "SEV-VLEK" ? "vlek" : undefined;
  if (!kind) return bad(`subject CN is '${cn ?? ""}', not SEV-VCEK or SEV-VLEK`);
  const spki = parseSpki(cert.spki);
  if (!spki.ok || spki.value.kind !== "ec" || spki.value.curve !== "P-384") return bad(`the ${kind.toUpperCase()} key is not EC P-384`);
  for (const [oid, ext] of cert.extensions) {
    if (ext.critical && !UNDERSTOOD.has(oid)) return bad(`unknown critical extension ${oid}`);
  }

  const ext = cert.extensions;
  const structVersion = integerExt(ext, OID.structVersion, "structVersion");
  if (!structVersion.ok) return structVersion;
  if (structVersion.value > 1) return bad(`structVersion ${structVersion.value} is unknown`);
  const name = productNameExt(ext.get(OID.productName));
  if (!name.ok) return name;
  const product = productFromName(name.value);
  if (!product) return snpFail("unsupported_product", `productName '${name.value}' is not Milan, Genoa or Turin`);
  const turinStyle = product === "Turin";
  if (structVersion.value !== (turinStyle ? 1 : 0)) return bad(`structVersion ${structVersion.value} does not fit ${product}`);

  const spl = (oid: string, what: string) => integerExt(ext, oid, what, 255);
  const bl = spl(OID.blSpl, "blSPL");
  if (!bl.ok) return bl;
  const tee = spl(OID.teeSpl, "teeSPL");
  if (!tee.ok) return tee;
  const snp = spl(OID.snpSpl, "snpSPL");
  if (!snp.ok) return snp;
  const ucode = spl(OID.ucodeSpl, "ucodeSPL");
  if (!ucode.ok) return ucode;
  let fmc: number | undefined;
  if (turinStyle) {
    const f = spl(OID.fmcSpl, "fmcSPL");
    if (!f.ok) return f;
    fmc = f.value;
  } else if (ext.has(OID.fmcSpl)) {
    return bad(`fmcSPL on a ${product} certificate`);
  }
  const spl4to7: (number | undefined)[] = [];
  for (const [oid, what] of [[OID.spl4, "spl4"], [OID.spl5, "spl5"], [OID.spl6, "spl6"], [OID.spl7, "spl7"]] as const) {
    if (!ext.has(oid)) {
      spl4to7.push(undefined);
      continue;
    }
    const v = spl(oid, what);
    if (!v.ok) return v;
    spl4to7.push(v.value);
  }

  const hwIdExt = ext.get(OID.hwId);
  const cspIdExt = ext.get(OID.cspId);
  let hwId: Uint8Array | undefined;
  let cspId: string | undefined;
  if (kind === "vcek") {
    if (cspIdExt) return bad("a VCEK must not carry cspID");
    if (!hwIdExt) return bad("a VCEK must carry hwID");
    const size = turinStyle ? 8 : 64;
    hwId = rawOrWrapped(hwIdExt.value, size);
    if (!hwId) return bad(`hwID must be ${size} bytes for ${product}`);
  } else {
    if (hwIdExt) return bad("a VLEK must not carry hwID");
    if (!cspIdExt) return bad("a VLEK must carry cspID");
    const id = ia5String(cspIdExt.value);
    if (id === undefined) return bad("cspID is not an IA5String");
    cspId = id;
  }
  return ok({
    kind,
    structVersion: structVersion.value,
    productName: name.value,
    product,
    tcb: { bootloader: bl.value, tee: tee.value, snp: snp.value, microcode: ucode.value, fmc, spl4to7 },
    hwId,
    cspId,
  });
}

function integerExt(ext: ReadonlyMap<string, Extension>, oid: string, what: string, max = 0x7fff_ffff): Result<number, SnpFailure> {
  const e = ext.get(oid);
  if (!e) return bad(`missing ${what} extension`);
  const tlv = readSingle(e.value, TAG.INTEGER, what);
  if (!tlv.ok) return bad(`${what} is not a DER INTEGER`);
  const n = decodeSmallInteger(tlv.value.reader.contents(tlv.value.tlv));
  if (!n.ok || n.value > max) return bad(`${what} is out of range`);
  return ok(n.value);
}

function productNameExt(e: Extension | undefined): Result<string, SnpFailure> {
  if (!e) return bad("missing productName extension");
  const s = ia5String(e.value);
  return s === undefined || s.length === 0 ? bad("productName is not a non-empty IA5String") : ok(s);
}

/** A DER IA5String of printable ASCII, or undefined. */
function ia5String(der: Uint8Array): string | undefined {
  const tlv = readSingle(der, TAG.IA5_STRING, "IA5String");
  if (!tlv.ok) return undefined;
  let s = "";
  for (const b of tlv.value.reader.contents(tlv.value.tlv)) {
    if (b < 0x20 || b > 0x7e) return undefined;
    s += String.fromCharCode(b);
  }
  return s;
}

/** hwID: raw bytes in genuine KDS certificates; an OCTET STRING-wrapped form is tolerated (trustee tests it). */
function rawOrWrapped(value: Uint8Array, size: number): Uint8Array | undefined {
  if (value.length === size) return value;
  if (value.length === size + 2 && value[0] === TAG.OCTET_STRING && value[1] === size) return value.subarray(2);
  return undefined;
}
