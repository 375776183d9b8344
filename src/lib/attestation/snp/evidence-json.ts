/**
 * SNP evidence as guest-components sends it (specs/kbs-protocol.md §3.4):
 *
 *   {"attestation_report": {…the `sev` crate's serde form…},
 *    "cert_chain": [{"cert_type": "VCEK"|"VLEK"|"ASK"|"ARK"|"CRL"|{"OTHER":"<uuid>"}, "data": [bytes…]}] | null}
 *
 * The report's signature covers its binary form, so `parseSnpEvidence` rebuilds the exact 1184-byte
 * ATTESTATION_REPORT from the serde fields, as `AttestationReport::write_bytes` does (sev 6.3 / 7.1,
 * which guest-components 8246e5e and Trustee use); the binary parser (report.ts) then judges it.
 * `snpEvidenceJson` is the inverse (`AttestationReport::from_bytes` + serde), for tools that package
 * evidence and for the round-trip tests.
 *
 * Decisions:
 * - Layout variant from `version`, as sev: 2 → no CPUID; 3, 4 → CPUID; anything else → CPUID and
 *   mitigation vectors (the binary parser then refuses versions it does not know).
 * - TCB byte layout as sev: v2 → Turin when CHIP_ID looks like a Turin hwID (only its first 8 bytes
 *   non-zero), else Milan/Genoa; v3+ → from CPUID. `fmc` must be a number in the Turin layout and
 *   null/absent in the other, in all four TCBs (sev always writes it so); a disagreement is
 *   `malformed_evidence` rather than a silent zero.
 * - The serde form drops the TCB reserved bytes (Milan/Genoa bytes 2–5, Turin 4–6) and every reserved
 *   range; they are rebuilt as zero. So a report with non-zero reserved TCB bytes cannot travel in
 *   this form (its rebuilt signature would not verify); `snpEvidenceJson` refuses such a report.
 * - Optional fields (`cpuid_*`, `*_mit_vector`, `fmc`) may be null or absent (serde's `Option`).
 *   CPUID must be present on v3+, absent on v2; mitigation vectors absent before v5, and 0 when
 *   absent on v5 (as sev writes them).
 * - u64 fields are JSON numbers: a value above 2^53 cannot be carried exactly by `JSON.parse`, so
 *   it is refused unless the caller parsed it as a bigint. Unknown keys are ignored (serde does so).
 * - `cert_chain`: at most 16 entries of at most 64 KiB; entries of unknown type are kept by name.
 */
import { err, ok, type Result } from "../../result";
import { malformedEvidence, isJsonObject, type AttestationFailure } from "../verifier";
import { productFromCpuid } from "./product";
import { REPORT_SIZE, type SnpReport } from "./report";

export interface SnpCertChainEntry {
  /** `VCEK`, `VLEK`, `ASK`, `ARK`, `CRL`, `Empty` or `OTHER`. */
  readonly certType: string;
  readonly data: Uint8Array;
}

export interface ParsedSnpEvidence {
  /** The rebuilt 1184-byte ATTESTATION_REPORT (not yet parsed or verified). */
  readonly report: Uint8Array;
  /** Null when the guest sent none. */
  readonly certChain: readonly SnpCertChainEntry[] | null;
}

/** The JSON form, as `JSON.parse` gives it. */
export interface SnpEvidenceJson {
  readonly attestation_report: Record<string, unknown>;
  readonly cert_chain: { readonly cert_type: string; readonly data: number[] }[] | null;
}

type Kind = "u32" | "u64" | "tcb" | "firmware" | "cpuid" | "mit" | "signature" | number;

/** Serde field → offset and kind (a number is a byte array of that length), in sev's struct order. */
const FIELDS: readonly (readonly [string, number, Kind])[] = [
  ["version", 0x000, "u32"],
  ["guest_svn", 0x004, "u32"],
  ["policy", 0x008, "u64"],
  ["family_id", 0x010, 16],
  ["image_id", 0x020, 16],
  ["vmpl", 0x030, "u32"],
  ["sig_algo", 0x034, "u32"],
  ["current_tcb", 0x038, "tcb"],
  ["plat_info", 0x040, "u64"],
  ["key_info", 0x048, "u32"],
  ["report_data", 0x050, 64],
  ["measurement", 0x090, 48],
  ["host_data", 0x0c0, 32],
  ["id_key_digest", 0x0e0, 48],
  ["author_key_digest", 0x110, 48],
  ["report_id", 0x140, 32],
  ["report_id_ma", 0x160, 32],
  ["reported_tcb", 0x180, "tcb"],
  ["cpuid_fam_id", 0x188, "cpuid"],
  ["cpuid_mod_id", 0x189, "cpuid"],
  ["cpuid_step", 0x18a, "cpuid"],
  ["chip_id", 0x1a0, 64],
  ["committed_tcb", 0x1e0, "tcb"],
  ["current", 0x1e8, "firmware"],
  ["committed", 0x1ec, "firmware"],
  ["launch_tcb", 0x1f0, "tcb"],
  ["launch_mit_vector", 0x1f8, "mit"],
  ["current_mit_vector", 0x200, "mit"],
  ["signature", 0x2a0, "signature"],
];

const MAX_CHAIN_ENTRIES = 16;
const MAX_CERT_BYTES = 64 * 1024;
const U64_MAX = (1n << 64n) - 1n;

/** The two TCB byte layouts (tcb.ts): component → byte index; the other bytes are reserved. */
const TCB_LAYOUT = {
  legacy: { bootloader: 0, tee: 1, snp: 6, microcode: 7 },
  turin: { fmc: 0, bootloader: 1, tee: 2, snp: 3, microcode: 7 },
} as const;
type Layout = keyof typeof TCB_LAYOUT;

interface Variant {
  readonly cpuid: boolean;
  readonly mitigations: boolean;
}

function variantOf(version: number): Variant {
  return version === 2 ? { cpuid: false, mitigations: false } : version === 3 || version === 4 ? { cpuid: true, mitigations: false } : { cpuid: true, mitigations: true };
}

/** sev's `chip_id_is_turin_like`: non-zero, with only the first 8 bytes set. */
function turinLikeChipId(chipId: Uint8Array): boolean {
  return chipId.some((b) => b !== 0) && chipId.subarray(8).every((b) => b === 0);
}

function layoutOf(variant: Variant, chipId: Uint8Array, family: number, model: number): Result<Layout, AttestationFailure> {
  if (!variant.cpuid) return ok(turinLikeChipId(chipId) ? "turin" : "legacy");
  const product = productFromCpuid(family, model);
  if (!product) return err({ reason: "unsupported_product", detail: `CPUID family 0x${family.toString(16)} model 0x${model.toString(16)} is not Milan, Genoa or Turin` });
  return ok(product === "Turin" ? "turin" : "legacy");
}

const isByte = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 255;

function readBytes(v: unknown, n: number): Uint8Array | undefined {
  if (!Array.isArray(v) || v.length !== n) return undefined;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b: unknown = v[i];
    if (!isByte(b)) return undefined;
    out[i] = b;
  }
  return out;
}

function readU64(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v >= 0n && v <= U64_MAX ? v : undefined;
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
}

/** Rebuilds the binary report and reads the certificate chain. Never throws. */
export function parseSnpEvidence(evidence: unknown): Result<ParsedSnpEvidence, AttestationFailure> {
  if (!isJsonObject(evidence)) return malformedEvidence("SNP evidence is a JSON object");
  const r = evidence.attestation_report;
  if (!isJsonObject(r)) return malformedEvidence("SNP evidence has no attestation_report object");
  const bad = (key: string, what: string) => malformedEvidence(`attestation_report.${key} must be ${what}`);

  const version = r.version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0 || version > 0xffff_ffff) return bad("version", "a u32");
  const variant = variantOf(version);
  const chipId = readBytes(r.chip_id, 64);
  if (!chipId) return bad("chip_id", "an array of 64 bytes");
  const cpuid = [r.cpuid_fam_id, r.cpuid_mod_id, r.cpuid_step];
  if (variant.cpuid ? !cpuid.every(isByte) : cpuid.some((v) => v !== undefined && v !== null)) {
    return bad("cpuid_fam_id", variant.cpuid ? "a byte, as cpuid_mod_id and cpuid_step, on a version 3+ report" : "null, as cpuid_mod_id and cpuid_step, on a version 2 report");
  }
  const layout = variant.cpuid ? layoutOf(variant, chipId, cpuid[0] as number, cpuid[1] as number) : layoutOf(variant, chipId, 0, 0);
  if (!layout.ok) return layout;

  const out = new Uint8Array(REPORT_SIZE);
  const view = new DataView(out.buffer);
  for (const [key, at, kind] of FIELDS) {
    const v = r[key];
    if (typeof kind === "number") {
      const bytes = readBytes(v, kind);
      if (!bytes) return bad(key, `an array of ${kind} bytes`);
      out.set(bytes, at);
    } else if (kind === "u32") {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) return bad(key, "a u32");
      view.setUint32(at, v, true);
    } else if (kind === "u64" || kind === "mit") {
      if (kind === "mit" && (v === undefined || v === null)) continue;
      if (kind === "mit" && !variant.mitigations) return bad(key, "null before version 5");
      const n = readU64(v);
      if (n === undefined) return bad(key, "a u64 (as a JSON number, at most 2^53 - 1)");
      view.setBigUint64(at, n, true);
    } else if (kind === "cpuid") {
      if (variant.cpuid) out[at] = v as number;
    } else if (kind === "firmware") {
      if (!isJsonObject(v) || !isByte(v.build) || !isByte(v.minor) || !isByte(v.major)) return bad(key, "{major, minor, build} of bytes");
      out.set([v.build, v.minor, v.major], at);
    } else if (kind === "tcb") {
      const tcb = writeTcb(v, layout.value, out, at);
      if (!tcb) return bad(key, layout.value === "turin" ? "{fmc, bootloader, tee, snp, microcode} of bytes (Turin layout)" : "{fmc: null, bootloader, tee, snp, microcode} of bytes");
    } else {
      const sig = isJsonObject(v) ? [readBytes(v.r, 72), readBytes(v.s, 72)] : [];
      if (!sig[0] || !sig[1]) return bad(key, "{r, s} of 72 bytes each");
      out.set(sig[0], at);
      out.set(sig[1], at + 72);
    }
  }
  const chain = readCertChain(evidence.cert_chain);
  return chain.ok ? ok({ report: out, certChain: chain.value }) : chain;
}

function writeTcb(v: unknown, layout: Layout, out: Uint8Array, at: number): boolean {
  if (!isJsonObject(v)) return false;
  const fmc = v.fmc === undefined ? null : v.fmc;
  if ((layout === "turin") !== (fmc !== null)) return false;
  for (const [name, index] of Object.entries(TCB_LAYOUT[layout])) {
    const b = v[name];
    if (!isByte(b)) return false;
    out[at + index] = b;
  }
  return true;
}

function readCertChain(v: unknown): Result<SnpCertChainEntry[] | null, AttestationFailure> {
  if (v === undefined || v === null) return ok(null);
  if (!Array.isArray(v) || v.length > MAX_CHAIN_ENTRIES) return malformedEvidence(`cert_chain must be null or an array of at most ${MAX_CHAIN_ENTRIES} entries`);
  const entries: SnpCertChainEntry[] = [];
  for (const [i, e] of v.entries()) {
    const type: unknown = isJsonObject(e) ? e.cert_type : undefined;
    const certType = typeof type === "string" ? type : isJsonObject(type) && typeof type.OTHER === "string" ? "OTHER" : undefined;
    const raw: unknown = isJsonObject(e) ? e.data : undefined;
    const data = Array.isArray(raw) && raw.length <= MAX_CERT_BYTES ? readBytes(raw, raw.length) : undefined;
    if (certType === undefined || !data) return malformedEvidence(`cert_chain[${i}] must be {cert_type, data: [bytes]} (at most ${MAX_CERT_BYTES} bytes)`);
    entries.push({ certType, data });
  }
  return ok(entries);
}

/**
 * A parsed report (and optionally certificates) in guest-components' JSON form. Refused when the
 * form cannot carry the report exactly (non-zero TCB reserved bytes, a u64 above 2^53, a v3+ CPUID
 * that names no known product).
 */
export function snpEvidenceJson(report: SnpReport, certChain: readonly SnpCertChainEntry[] | null = null): Result<SnpEvidenceJson, AttestationFailure> {
  const b = report.bytes;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const variant = variantOf(report.version);
  const layout = layoutOf(variant, report.chipId, b[0x188]!, b[0x189]!);
  if (!layout.ok) return layout;
  const json: Record<string, unknown> = {};
  for (const [key, at, kind] of FIELDS) {
    if (typeof kind === "number") json[key] = Array.from(b.subarray(at, at + kind));
    else if (kind === "u32") json[key] = view.getUint32(at, true);
    else if (kind === "u64" || kind === "mit") {
      if (kind === "mit" && !variant.mitigations) {
        json[key] = null;
        continue;
      }
      const n = view.getBigUint64(at, true);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) return malformedEvidence(`${key} 0x${n.toString(16)} cannot be carried exactly as a JSON number`);
      json[key] = Number(n);
    } else if (kind === "cpuid") json[key] = variant.cpuid ? b[at] : null;
    else if (kind === "firmware") json[key] = { major: b[at + 2], minor: b[at + 1], build: b[at] };
    else if (kind === "tcb") {
      const l = TCB_LAYOUT[layout.value];
      const used = new Set<number>(Object.values(l));
      for (let i = 0; i < 8; i++) if (!used.has(i) && b[at + i] !== 0) return malformedEvidence(`${key} has a non-zero reserved byte ${i}, which the sev serde form cannot carry`);
      json[key] = { fmc: layout.value === "turin" ? b[at] : null, bootloader: b[at + l.bootloader], tee: b[at + l.tee], snp: b[at + l.snp], microcode: b[at + l.microcode] };
    } else json[key] = { r: Array.from(b.subarray(at, at + 72)), s: Array.from(b.subarray(at + 72, at + 144)) };
  }
  return ok({ attestation_report: json, cert_chain: certChain ? certChain.map((e) => ({ cert_type: e.certType, data: Array.from(e.data) })) : null });
}
