/**
 * Typed, strict readers for the fields of Intel's signed collateral JSON (TCB Info, QE Identity):
 * fixed-length hex, bounded unsigned integers, ISO 8601 UTC dates, TCB statuses. Each returns a
 * `Result` whose error names the field, so a malformed document is reported precisely.
 */
import { err, ok, type Result } from "../../result";
import { fromHex } from "../../encoding";

export type JsonObject = Readonly<Record<string, unknown>>;

/** Statuses a TCB level can carry (TCB Info v3, QE Identity v2). */
export const TCB_LEVEL_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const;
export type TcbLevelStatus = (typeof TCB_LEVEL_STATUSES)[number];

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function objectField(o: JsonObject, name: string): Result<JsonObject, string> {
  const v = o[name];
  return isObject(v) ? ok(v) : err(`${name} must be an object`);
}

export function arrayField(o: JsonObject, name: string): Result<readonly unknown[], string> {
  const v = o[name];
  return Array.isArray(v) ? ok(v) : err(`${name} must be an array`);
}

export function stringField(o: JsonObject, name: string): Result<string, string> {
  const v = o[name];
  return typeof v === "string" ? ok(v) : err(`${name} must be a string`);
}

export function uintField(o: JsonObject, name: string, max: number): Result<number, string> {
  const v = o[name];
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max ? ok(v) : err(`${name} must be an integer from 0 to ${max}`);
}

/** Hex of exactly `bytes` bytes (either case). */
export function hexField(o: JsonObject, name: string, bytes: number): Result<Uint8Array, string> {
  const v = o[name];
  const b = typeof v === "string" && v.length === bytes * 2 ? fromHex(v) : undefined;
  return b ? ok(b) : err(`${name} must be ${bytes * 2} hex digits`);
}

const ISO_UTC = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?Z$/;

/** An ISO 8601 UTC date-time ("2025-06-04T09:51:38Z") → ms since the epoch. */
export function dateField(o: JsonObject, name: string): Result<number, string> {
  const v = o[name];
  const m = typeof v === "string" ? ISO_UTC.exec(v) : null;
  if (!m) return err(`${name} must be an ISO 8601 UTC date-time`);
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const t = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  const d = new Date(t);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month! - 1 || d.getUTCDate() !== day || hour! > 23 || minute! > 59 || second! > 59) {
    return err(`${name} is not a valid date-time`);
  }
  return ok(t);
}

export function statusField(o: JsonObject, name: string): Result<TcbLevelStatus, string> {
  const v = o[name];
  return typeof v === "string" && (TCB_LEVEL_STATUSES as readonly string[]).includes(v) ? ok(v as TcbLevelStatus) : err(`${name} must be a known TCB status`);
}

/** `advisoryIDs`: optional array of strings. */
export function advisoryIdsField(o: JsonObject): Result<readonly string[], string> {
  const v = o.advisoryIDs;
  if (v === undefined) return ok([]);
  if (!Array.isArray(v) || !v.every((a) => typeof a === "string")) return err("advisoryIDs must be an array of strings");
  return ok(v as string[]);
}

/** A TCB level common part: tcbDate, tcbStatus, advisoryIDs. */
export interface LevelCommon {
  readonly tcbDate: number;
  readonly tcbStatus: TcbLevelStatus;
  readonly advisoryIds: readonly string[];
}

export function levelCommon(o: JsonObject): Result<LevelCommon, string> {
  const tcbDate = dateField(o, "tcbDate");
  if (!tcbDate.ok) return tcbDate;
  const tcbStatus = statusField(o, "tcbStatus");
  if (!tcbStatus.ok) return tcbStatus;
  const advisoryIds = advisoryIdsField(o);
  if (!advisoryIds.ok) return advisoryIds;
  return ok({ tcbDate: tcbDate.value, tcbStatus: tcbStatus.value, advisoryIds: advisoryIds.value });
}

/** `{"tcb":{"isvsvn":N},…}` levels, sorted by isvsvn descending; duplicates rejected (as QVL does). */
export interface IsvSvnLevel extends LevelCommon {
  readonly isvSvn: number;
}

export function isvSvnLevels(list: readonly unknown[], where: string): Result<IsvSvnLevel[], string> {
  const out: IsvSvnLevel[] = [];
  const seen = new Set<number>();
  for (const [i, entry] of list.entries()) {
    if (!isObject(entry)) return err(`${where}[${i}] must be an object`);
    const tcb = objectField(entry, "tcb");
    if (!tcb.ok) return err(`${where}[${i}].${tcb.error}`);
    const isvSvn = uintField(tcb.value, "isvsvn", 0xffff);
    if (!isvSvn.ok) return err(`${where}[${i}].tcb.${isvSvn.error}`);
    const common = levelCommon(entry);
    if (!common.ok) return err(`${where}[${i}].${common.error}`);
    if (seen.has(isvSvn.value)) return err(`${where} has two levels with isvsvn ${isvSvn.value}`);
    seen.add(isvSvn.value);
    out.push({ isvSvn: isvSvn.value, ...common.value });
  }
  if (out.length === 0) return err(`${where} is empty`);
  return ok(out.sort((a, b) => b.isvSvn - a.isvSvn));
}
