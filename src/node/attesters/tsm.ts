/**
 * SNP and TDX evidence through the Linux configfs-tsm report interface
 * (`Documentation/ABI/testing/configfs-tsm`), as guest-components' TDX attester reads it:
 *
 *   mkdir  <root>/<fresh name>        the kernel fills the entry with its attributes
 *   read   provider                   `sev_guest` or `tdx_guest`: must be the TEE asked for
 *   write  privlevel  "0"             SNP only: VMPL 0, which the key broker requires
 *   write  inblob     64 bytes        the digest zero-padded (REPORT_DATA)
 *   read   generation                 must count exactly our writes
 *   read   outblob                    SNP: the 1184-byte ATTESTATION_REPORT; TDX: the quote
 *   read   auxblob                    SNP only: the certificate table (may be empty)
 *   read   generation                 unchanged, or another writer raced us: start again (3 attempts)
 *   rmdir  <root>/<fresh name>        always
 *
 * What it relies on is only what configfs does: attributes exist once the entry is made and are never
 * created; an attribute's size says nothing, so a blob is read to EOF; a binary attribute is written
 * in one open-write-close (the kernel commits it on close and drops any error then, which the
 * generation count catches). The report's own REPORT_DATA is checked against what was written too.
 * The evidence JSON is the attestation module's (`snpEvidenceJson`, `tdxEvidenceJson`).
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { CERT_TABLE_GUIDS, parseCertTable } from "../../lib/attestation/collateral/snp-cert-table";
import { parseSnpReport, snpEvidenceJson, type SnpCertChainEntry } from "../../lib/attestation/snp";
import { parseTdxQuote, tdxEvidenceJson } from "../../lib/attestation/tdx";
import { fromUtf8, utf8 } from "../../lib/encoding";
import type { Attester, GuestError, GuestFailureReason } from "../../lib/kbs/guest";
import { err, ok, type Result } from "../../lib/result";
import { bytesEqual } from "../../lib/x509/der-reader";
import { readRegularFile } from "../input-file";

export const DEFAULT_TSM_REPORT_DIR = "/sys/kernel/config/tsm/report";
export type TsmTee = "snp" | "tdx";
export const TSM_PROVIDERS: Readonly<Record<TsmTee, string>> = { snp: "sev_guest", tdx: "tdx_guest" };

const INBLOB_BYTES = 64;
/** A quote with its PCK chain is ~5 KB, a certificate table ~4 KB; nothing a TSM returns is near this. */
const MAX_BLOB_BYTES = 1024 * 1024;
const MAX_TEXT_BYTES = 256;
const ATTEMPTS = 3;

/** The file operations made, so that tests can stand a fake configfs tree in for the kernel's. */
export interface TsmFiles {
  /** Makes one entry (not its parents); configfs fills it with the attribute files. */
  mkdir(path: string): Promise<void>;
  /** Removes the entry with its attributes. */
  rmdir(path: string): Promise<void>;
  /** A whole attribute, read to EOF; at most `maxBytes`. */
  read(path: string, maxBytes: number): Promise<Uint8Array>;
  /** One open (write-only, never creating), one write of all of `data`, one close. */
  write(path: string, data: Uint8Array): Promise<void>;
}

export const nodeTsmFiles: TsmFiles = {
  mkdir: async (path) => void (await mkdir(path)),
  rmdir: (path) => rmdir(path),
  async read(path, maxBytes) {
    const r = await readRegularFile(path, maxBytes, { sizeUnknown: true });
    if (r.ok) return r.value;
    const code = r.error.reason === "unreadable" ? r.error.code : r.error.reason === "too_large" ? "EFBIG" : "EINVAL";
    throw Object.assign(new Error(`${code}: cannot read ${path}`), { code });
  },
  async write(path, data) {
    const handle = await open(path, constants.O_WRONLY);
    try {
      const { bytesWritten } = await handle.write(data, 0, data.length, null);
      if (bytesWritten !== data.length) throw Object.assign(new Error(`EIO: short write to ${path}`), { code: "EIO" });
    } finally {
      await handle.close();
    }
  },
};

export interface TsmAttesterOptions {
  readonly tee: TsmTee;
  /** The configfs-tsm report directory (default /sys/kernel/config/tsm/report). */
  readonly root?: string;
  readonly files?: TsmFiles;
  /** Told when an entry could not be removed (the evidence read from it is still good). */
  readonly warn?: (message: string) => void;
  /** The fresh entry's name (default `signet-<pid>-<8 random hex digits>`). */
  readonly entryName?: () => string;
}

export function tsmAttester(options: TsmAttesterOptions): Attester {
  return { tee: options.tee, evidence: (reportData) => tsmEvidence(options, reportData) };
}

/** Which TEE this machine's configfs-tsm provider is, for a guest that did not say. */
export async function detectTsmTee(options: Omit<TsmAttesterOptions, "tee">): Promise<Result<TsmTee, GuestError>> {
  return withEntry(options, async (entry, files) => {
    const provider = await readText(files, join(entry, "provider"));
    const tee = (Object.keys(TSM_PROVIDERS) as TsmTee[]).find((t) => TSM_PROVIDERS[t] === provider);
    return tee ? ok(tee) : fail("tee_mismatch", `the configfs-tsm provider is '${provider}', neither sev_guest (snp) nor tdx_guest (tdx)`);
  });
}

const fail = (reason: GuestFailureReason, detail: string): { readonly ok: false; readonly error: GuestError } => err({ reason, detail });

async function tsmEvidence(options: TsmAttesterOptions, reportData: Uint8Array): Promise<Result<unknown, GuestError>> {
  if (reportData.length > INBLOB_BYTES) throw new TypeError(`report data is at most ${INBLOB_BYTES} bytes`);
  const inblob = new Uint8Array(INBLOB_BYTES);
  inblob.set(reportData);
  let last: Result<unknown, GuestError> | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    last = await withEntry(options, async (entry, files) => {
      const blobs = await readReport(options.tee, entry, files, inblob);
      return blobs.ok ? buildEvidence(options.tee, blobs.value, inblob) : blobs;
    });
    if (last.ok || last.error.reason !== "evidence_conflict") return last;
  }
  return fail("evidence_conflict", `${last!.ok ? "" : last!.error.detail} (${ATTEMPTS} attempts)`);
}

/** mkdir a fresh entry, run `use`, rmdir it whatever happened; file errors become GuestErrors. */
async function withEntry<T>(options: Omit<TsmAttesterOptions, "tee">, use: (entry: string, files: TsmFiles) => Promise<Result<T, GuestError>>): Promise<Result<T, GuestError>> {
  const root = options.root ?? DEFAULT_TSM_REPORT_DIR;
  const files = options.files ?? nodeTsmFiles;
  const entry = join(root, options.entryName?.() ?? `signet-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await files.mkdir(entry);
  } catch (e) {
    const code = codeOf(e);
    if (code === "ENOENT") {
      return fail("evidence_unavailable", `no configfs-tsm report directory ${root}: this is not an SNP or TDX guest with configfs mounted (mount -t configfs none /sys/kernel/config) and the sev-guest or tdx-guest driver loaded`);
    }
    if (code === "EACCES" || code === "EPERM") return fail("evidence_unavailable", `permission denied creating ${entry}: configfs-tsm reports need root`);
    return fail("evidence_unavailable", `cannot create ${entry}: ${messageOf(e)}`);
  }
  try {
    return await use(entry, files);
  } catch (e) {
    const code = codeOf(e);
    if (code === "ENXIO" || code === "ENOTTY") return fail("evidence_unavailable", `no TSM provider is registered (is the sev-guest or tdx-guest driver loaded?): ${messageOf(e)}`);
    return fail("evidence_unavailable", `configfs-tsm: ${messageOf(e)}`);
  } finally {
    await files.rmdir(entry).catch((e: unknown) => options.warn?.(`could not remove ${entry}: ${messageOf(e)}`));
  }
}

interface Blobs {
  readonly outblob: Uint8Array;
  readonly auxblob: Uint8Array | undefined;
}

async function readReport(tee: TsmTee, entry: string, files: TsmFiles, inblob: Uint8Array): Promise<Result<Blobs, GuestError>> {
  const provider = await readText(files, join(entry, "provider"));
  if (provider !== TSM_PROVIDERS[tee]) {
    const actual = (Object.keys(TSM_PROVIDERS) as TsmTee[]).find((t) => TSM_PROVIDERS[t] === provider);
    return fail("tee_mismatch", `the configfs-tsm provider is '${provider}', not ${TSM_PROVIDERS[tee]}: this guest is not ${tee}${actual ? ` (use --tee ${actual})` : ""}`);
  }
  let writes = 0;
  if (tee === "snp") {
    try {
      await files.write(join(entry, "privlevel"), utf8("0\n"));
    } catch (e) {
      if (codeOf(e) !== "EINVAL") throw e;
      return fail("evidence_unavailable", "the kernel refuses privlevel 0 (see privlevel_floor): this guest cannot make the VMPL 0 report a key broker requires");
    }
    writes++;
  }
  await files.write(join(entry, "inblob"), inblob);
  writes++;
  const before = await generation(files, entry);
  if (before !== writes) return fail("evidence_conflict", `generation is ${before} after our ${writes} write(s): another writer changed the request, or the kernel dropped a write`);
  const outblob = await files.read(join(entry, "outblob"), MAX_BLOB_BYTES);
  const auxblob = tee === "snp" ? await files.read(join(entry, "auxblob"), MAX_BLOB_BYTES) : undefined;
  const after = await generation(files, entry);
  if (after !== before) return fail("evidence_conflict", `generation went from ${before} to ${after} while the report was read: another writer raced us`);
  return ok({ outblob, auxblob });
}

function buildEvidence(tee: TsmTee, blobs: Blobs, inblob: Uint8Array): Result<unknown, GuestError> {
  const conflict = () => fail("evidence_conflict", "the report's REPORT_DATA is not what was written: another writer's request was answered");
  if (tee === "tdx") {
    const quote = parseTdxQuote(blobs.outblob);
    if (!quote.ok) return fail("evidence_malformed", `the TSM's outblob is not a TDX quote: ${quote.error.detail}`);
    return bytesEqual(quote.value.body.reportData, inblob) ? ok(tdxEvidenceJson(blobs.outblob)) : conflict();
  }
  const report = parseSnpReport(blobs.outblob);
  if (!report.ok) return fail("evidence_malformed", `the TSM's outblob is not an SNP report: ${report.error.detail}`);
  if (!bytesEqual(report.value.reportData, inblob)) return conflict();
  const chain = certChain(blobs.auxblob);
  if (!chain.ok) return chain;
  const json = snpEvidenceJson(report.value, chain.value);
  return json.ok ? json : fail("evidence_malformed", `the SNP report cannot travel as evidence JSON: ${json.error.detail}`);
}

/** Certificate table GUID → guest-components' `cert_type` (unknown entries are left out: Trustee types them by GUID). */
const CERT_TYPES = new Map<string, string>(Object.entries(CERT_TABLE_GUIDS).map(([name, guid]) => [guid, name.toUpperCase()]));

/** The auxblob's certificate table as `cert_chain`; null when the host supplied none. */
function certChain(auxblob: Uint8Array | undefined): Result<SnpCertChainEntry[] | null, GuestError> {
  if (!auxblob || auxblob.length === 0) return ok(null);
  const table = parseCertTable(auxblob);
  if (!table.ok) return fail("evidence_malformed", `the TSM's auxblob is not a certificate table: ${table.error.detail}`);
  const entries = [...table.value].flatMap(([guid, data]) => {
    const certType = CERT_TYPES.get(guid);
    return certType ? [{ certType, data }] : [];
  });
  return ok(entries.length === 0 ? null : entries);
}

async function readText(files: TsmFiles, path: string): Promise<string> {
  return (fromUtf8(await files.read(path, MAX_TEXT_BYTES)) ?? "").trim();
}

async function generation(files: TsmFiles, entry: string): Promise<number> {
  const text = await readText(files, join(entry, "generation"));
  if (!/^[0-9]{1,15}$/.test(text)) throw Object.assign(new Error(`generation is not a number: '${text.slice(0, 40)}'`), { code: "EINVAL" });
  return Number(text);
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
