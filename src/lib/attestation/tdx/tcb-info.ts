/**
 * TCB Info (Intel PCS `GET /tdx/certification/v4/tcb`, specs/tdx.md §2): the body is kept as served,
 * the signed `tcbInfo` bytes are located exactly, and the value is read into typed, validated fields.
 * SGX TCB Info (v2, or v3 with `id: "SGX"`) is parsed too, so that offering it for a TDX quote is
 * reported as a mismatch rather than as a malformed document. TCB levels are sorted the way Intel QVL
 * orders them (descending; see `compareLevels`) and duplicates are rejected as QVL's std::set does.
 */
import { err, ok, type Result } from "../../result";
import { readSignedJson } from "./signed-json";
import {
  arrayField,
  dateField,
  hexField,
  isObject,
  isvSvnLevels,
  levelCommon,
  objectField,
  stringField,
  uintField,
  type IsvSvnLevel,
  type JsonObject,
  type LevelCommon,
} from "./json-fields";

export interface TcbLevel extends LevelCommon {
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  /** Empty for SGX TCB Info. */
  readonly tdxTcbComponents: readonly number[];
}

export interface TdxModuleIdentity {
  /** "TDX_01", "TDX_03", … as served (QVL matches it case-insensitively). */
  readonly id: string;
  readonly mrSigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  /** isvsvn descending. */
  readonly tcbLevels: readonly IsvSvnLevel[];
}

export interface TcbInfo {
  /** The body exactly as served. */
  readonly body: Uint8Array;
  /** The exact bytes of the `tcbInfo` value: what the signature covers. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
  readonly id: "SGX" | "TDX";
  readonly version: number;
  readonly issueDate: number;
  readonly nextUpdate: number;
  readonly fmspc: Uint8Array;
  readonly pceId: Uint8Array;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  /** TDX (v3) only. */
  readonly tdxModule: Omit<TdxModuleIdentity, "id" | "tcbLevels"> | undefined;
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[];
  /** Sorted descending (QVL order). */
  readonly tcbLevels: readonly TcbLevel[];
}

function svnList(o: JsonObject, name: string): Result<number[], string> {
  const list = arrayField(o, name);
  if (!list.ok) return list;
  if (list.value.length !== 16) return err(`${name} must have 16 components`);
  const out: number[] = [];
  for (const [i, c] of list.value.entries()) {
    if (!isObject(c)) return err(`${name}[${i}] must be an object`);
    const svn = uintField(c, "svn", 255);
    if (!svn.ok) return err(`${name}[${i}].${svn.error}`);
    out.push(svn.value);
  }
  return ok(out);
}

function compareLists(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** QVL's TcbLevel ordering: SGX components (as the CPUSVN bytes), then PCESVN, then TDX components. */
export function compareLevels(a: TcbLevel, b: TcbLevel): number {
  return compareLists(a.sgxTcbComponents, b.sgxTcbComponents) || a.pceSvn - b.pceSvn || compareLists(a.tdxTcbComponents, b.tdxTcbComponents);
}

function readLevel(entry: unknown, tdx: boolean): Result<TcbLevel, string> {
  if (!isObject(entry)) return err("must be an object");
  const tcb = objectField(entry, "tcb");
  if (!tcb.ok) return tcb;
  const sgx = svnList(tcb.value, "sgxtcbcomponents");
  if (!sgx.ok) return err(`tcb.${sgx.error}`);
  const pceSvn = uintField(tcb.value, "pcesvn", 0xffff);
  if (!pceSvn.ok) return err(`tcb.${pceSvn.error}`);
  let tdxComponents: number[] = [];
  if (tdx) {
    const t = svnList(tcb.value, "tdxtcbcomponents");
    if (!t.ok) return err(`tcb.${t.error}`);
    tdxComponents = t.value;
  }
  const common = levelCommon(entry);
  if (!common.ok) return common;
  return ok({ sgxTcbComponents: sgx.value, pceSvn: pceSvn.value, tdxTcbComponents: tdxComponents, ...common.value });
}

function readModule(o: JsonObject): Result<Omit<TdxModuleIdentity, "id" | "tcbLevels">, string> {
  const mrSigner = hexField(o, "mrsigner", 48);
  if (!mrSigner.ok) return mrSigner;
  const attributes = hexField(o, "attributes", 8);
  if (!attributes.ok) return attributes;
  const attributesMask = hexField(o, "attributesMask", 8);
  if (!attributesMask.ok) return attributesMask;
  return ok({ mrSigner: mrSigner.value, attributes: attributes.value, attributesMask: attributesMask.value });
}

function readModuleIdentities(o: JsonObject): Result<TdxModuleIdentity[], string> {
  if (o.tdxModuleIdentities === undefined) return ok([]);
  const list = arrayField(o, "tdxModuleIdentities");
  if (!list.ok) return list;
  const out: TdxModuleIdentity[] = [];
  const seenIds = new Set<string>();
  for (const [i, entry] of list.value.entries()) {
    const where = `tdxModuleIdentities[${i}]`;
    if (!isObject(entry)) return err(`${where} must be an object`);
    const id = stringField(entry, "id");
    if (!id.ok) return err(`${where}.${id.error}`);
    const m = readModule(entry);
    if (!m.ok) return err(`${where}.${m.error}`);
    const levelsList = arrayField(entry, "tcbLevels");
    if (!levelsList.ok) return err(`${where}.${levelsList.error}`);
    const levels = isvSvnLevels(levelsList.value, `${where}.tcbLevels`);
    if (!levels.ok) return levels;
    if (seenIds.has(id.value.toUpperCase())) return err(`${where}: id ${id.value} appears twice`);
    seenIds.add(id.value.toUpperCase());
    out.push({ id: id.value, ...m.value, tcbLevels: levels.value });
  }
  return ok(out);
}

function readTcbInfoValue(v: unknown): Result<Omit<TcbInfo, "body" | "signed" | "signature">, string> {
  if (!isObject(v)) return err("tcbInfo must be an object");
  const version = uintField(v, "version", 0xffff);
  if (!version.ok) return version;
  if (version.value !== 2 && version.value !== 3) return err(`unsupported TCB Info version ${version.value}`);
  let id: "SGX" | "TDX" = "SGX";
  if (version.value === 3) {
    const s = stringField(v, "id");
    if (!s.ok) return s;
    if (s.value !== "SGX" && s.value !== "TDX") return err(`unsupported TCB Info id ${JSON.stringify(s.value.slice(0, 20))}`);
    id = s.value;
  }
  const tdx = id === "TDX";
  const issueDate = dateField(v, "issueDate");
  if (!issueDate.ok) return issueDate;
  const nextUpdate = dateField(v, "nextUpdate");
  if (!nextUpdate.ok) return nextUpdate;
  const fmspc = hexField(v, "fmspc", 6);
  if (!fmspc.ok) return fmspc;
  const pceId = hexField(v, "pceId", 2);
  if (!pceId.ok) return pceId;
  const tcbType = uintField(v, "tcbType", 0xffff);
  if (!tcbType.ok) return tcbType;
  // QVL accepts only tcbType 0 (TcbInfo::parsePartV2).
  if (tcbType.value !== 0) return err(`tcbType ${tcbType.value} is not supported (only 0)`);
  const evaluation = uintField(v, "tcbEvaluationDataNumber", 0xffffffff);
  if (!evaluation.ok) return evaluation;
  let tdxModule: Omit<TdxModuleIdentity, "id" | "tcbLevels"> | undefined;
  let identities: TdxModuleIdentity[] = [];
  if (tdx) {
    const m = objectField(v, "tdxModule");
    if (!m.ok) return m;
    const mod = readModule(m.value);
    if (!mod.ok) return err(`tdxModule.${mod.error}`);
    tdxModule = mod.value;
    const ids = readModuleIdentities(v);
    if (!ids.ok) return ids;
    identities = ids.value;
  }
  const list = arrayField(v, "tcbLevels");
  if (!list.ok) return list;
  const levels: TcbLevel[] = [];
  for (const [i, entry] of list.value.entries()) {
    const level = readLevel(entry, tdx);
    if (!level.ok) return err(`tcbLevels[${i}]: ${level.error}`);
    levels.push(level.value);
  }
  if (levels.length === 0) return err("tcbLevels is empty");
  levels.sort((a, b) => compareLevels(b, a));
  // QVL rejects duplicated TCB levels; sorted, duplicates are neighbours (O(n log n) on hostile input).
  for (let i = 1; i < levels.length; i++) {
    if (compareLevels(levels[i - 1]!, levels[i]!) === 0) return err("tcbLevels holds a duplicated level");
  }
  return ok({
    id,
    version: version.value,
    issueDate: issueDate.value,
    nextUpdate: nextUpdate.value,
    fmspc: fmspc.value,
    pceId: pceId.value,
    tcbType: tcbType.value,
    tcbEvaluationDataNumber: evaluation.value,
    tdxModule,
    tdxModuleIdentities: identities,
    tcbLevels: levels,
  });
}

/** Parses a TCB Info body (`{"tcbInfo":{…},"signature":"…"}`). The signature is not checked here. */
export function parseTcbInfo(body: Uint8Array): Result<TcbInfo, string> {
  const doc = readSignedJson(body, "tcbInfo");
  if (!doc.ok) return doc;
  const value = readTcbInfoValue(doc.value.value);
  if (!value.ok) return value;
  return ok({ body, signed: doc.value.signed, signature: doc.value.signature, ...value.value });
}
