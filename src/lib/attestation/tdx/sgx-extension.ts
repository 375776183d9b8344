/**
 * The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1; specs/tdx.md §1.7): a
 * SEQUENCE of {OID, value} pairs carrying the platform's TCB (16 SGX component SVNs, PCE SVN, CPUSVN),
 * PCE-ID and FMSPC, which TCB Info matching needs. Strict: every required item exactly once, with the
 * right type and size; other items are skipped. Never throws.
 */
import { err, ok, type Result } from "../../result";
import { decodeSmallInteger, readSingle, type DerReader } from "../../x509/der-reader";
import { TAG } from "../../x509/der-writer";
import { decodeOid } from "../../x509/der-values";

export const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";
const PPID = `${OID_SGX_EXTENSION}.1`;
const TCB = `${OID_SGX_EXTENSION}.2`;
const PCE_ID = `${OID_SGX_EXTENSION}.3`;
const FMSPC = `${OID_SGX_EXTENSION}.4`;
const PCE_SVN = `${TCB}.17`;
const CPU_SVN = `${TCB}.18`;

export interface SgxExtension {
  readonly ppid: Uint8Array;
  /** The 16 SGX TCB component SVNs (`.2.1`–`.2.16`), each 0–255. */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly cpuSvn: Uint8Array;
  readonly pceId: Uint8Array;
  readonly fmspc: Uint8Array;
}

/** OID → value TLV bytes (whole encoding) of a SEQUENCE OF SEQUENCE {OID, ANY}; duplicates rejected. */
function readPairs(r: DerReader): Result<Map<string, { tag: number; contents: Uint8Array; raw: Uint8Array }>, string> {
  const out = new Map<string, { tag: number; contents: Uint8Array; raw: Uint8Array }>();
  while (!r.done) {
    const pair = r.expect(TAG.SEQUENCE, "extension item");
    if (!pair.ok) return err("an item is not a SEQUENCE");
    const p = r.enter(pair.value);
    const oidTlv = p.expect(TAG.OID, "item OID");
    if (!oidTlv.ok) return err("an item has no OID");
    const oid = decodeOid(p.contents(oidTlv.value));
    if (!oid.ok) return err("an item OID is malformed");
    const value = p.next();
    if (!value.ok || !p.finish("item").ok) return err(`item ${oid.value} is malformed`);
    if (out.has(oid.value)) return err(`item ${oid.value} appears twice`);
    out.set(oid.value, { tag: value.value.tag, contents: p.contents(value.value), raw: p.raw(value.value) });
  }
  return ok(out);
}

function octets(map: Map<string, { tag: number; contents: Uint8Array }>, oid: string, size: number, name: string): Result<Uint8Array, string> {
  const item = map.get(oid);
  if (!item) return err(`${name} is missing`);
  if (item.tag !== TAG.OCTET_STRING || item.contents.length !== size) return err(`${name} must be a ${size}-byte OCTET STRING`);
  return ok(item.contents);
}

function integer(map: Map<string, { tag: number; contents: Uint8Array }>, oid: string, max: number, name: string): Result<number, string> {
  const item = map.get(oid);
  if (!item) return err(`${name} is missing`);
  if (item.tag !== TAG.INTEGER) return err(`${name} must be an INTEGER`);
  const n = decodeSmallInteger(item.contents);
  if (!n.ok || n.value > max) return err(`${name} must be an integer from 0 to ${max}`);
  return ok(n.value);
}

/** Reads the extnValue contents of the SGX extension. */
export function readSgxExtension(value: Uint8Array): Result<SgxExtension, string> {
  const top = readSingle(value, TAG.SEQUENCE, "SGX extension");
  if (!top.ok) return err("the SGX extension is not one DER SEQUENCE");
  const items = readPairs(top.value.reader.enter(top.value.tlv));
  if (!items.ok) return items;
  const tcbItem = items.value.get(TCB);
  if (!tcbItem || tcbItem.tag !== TAG.SEQUENCE) return err("the TCB item is missing or not a SEQUENCE");
  const tcbTop = readSingle(tcbItem.raw, TAG.SEQUENCE, "TCB");
  if (!tcbTop.ok) return err("the TCB item is malformed");
  const tcb = readPairs(tcbTop.value.reader.enter(tcbTop.value.tlv));
  if (!tcb.ok) return err(`TCB: ${tcb.error}`);

  const components: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const svn = integer(tcb.value, `${TCB}.${i}`, 255, `SGX TCB component ${i}`);
    if (!svn.ok) return svn;
    components.push(svn.value);
  }
  const pceSvn = integer(tcb.value, PCE_SVN, 0xffff, "PCESVN");
  if (!pceSvn.ok) return pceSvn;
  const cpuSvn = octets(tcb.value, CPU_SVN, 16, "CPUSVN");
  if (!cpuSvn.ok) return cpuSvn;
  const ppid = octets(items.value, PPID, 16, "PPID");
  if (!ppid.ok) return ppid;
  const pceId = octets(items.value, PCE_ID, 2, "PCE-ID");
  if (!pceId.ok) return pceId;
  const fmspc = octets(items.value, FMSPC, 6, "FMSPC");
  if (!fmspc.ok) return fmspc;
  return ok({ ppid: ppid.value, sgxTcbComponents: components, pceSvn: pceSvn.value, cpuSvn: cpuSvn.value, pceId: pceId.value, fmspc: fmspc.value });
}
