/**
 * The real vectors as the verifier contract sees them: SNP reports in guest-components' JSON form
 * (through the JSON text, as they arrive on the wire), TDX quotes with their collateral directory,
 * and recording fake CollateralProviders.
 */
import { readFileSync } from "node:fs";
import type { CollateralProvider } from "../../../src/lib/attestation";
import { parseSnpReport, snpEvidenceJson, type SnpCertChainEntry } from "../../../src/lib/attestation/snp";
import { tdxEvidenceJson } from "../../../src/lib/attestation/tdx";
import { err, ok } from "../../../src/lib/result";
import { bytes, SNP, VECTORS } from "../snp/snp-fixtures";
import { INDEX, loadVector } from "../tdx/tdx-fixtures";

/** As the evidence would arrive: JSON text, parsed. */
export const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

export interface SnpCase {
  readonly name: string;
  readonly version: number;
  readonly signer: "vcek" | "vlek";
  readonly product: string;
  readonly report: Uint8Array;
  readonly cert: Uint8Array;
  readonly now: number;
  readonly reportData: Uint8Array;
  readonly hostData: Uint8Array;
  readonly chipMasked: boolean;
}

export const E2E_DIR = `${SNP}/trustee-e2e`;
export const E2E_NOW = Date.parse("2025-05-28T17:57:03Z");
export const e2eEvidence = (): Record<string, unknown> => JSON.parse(readFileSync(`${E2E_DIR}/evidence.json`, "utf8")) as Record<string, unknown>;

export const SNP_CASES: readonly SnpCase[] = VECTORS.map((v) => {
  const report = bytes(`${SNP}/${v.report}`);
  return {
    name: v.name,
    version: v.report_version,
    signer: v.signer,
    product: v.product,
    report,
    cert: bytes(`${SNP}/${v.endorsement_cert}`),
    now: Date.parse(v.verify_at),
    reportData: report.slice(0x50, 0x90),
    hostData: report.slice(0xc0, 0xe0),
    chipMasked: report.subarray(0x1a0, 0x1e0).every((b) => b === 0),
  };
});

/** The evidence JSON of a binary report, optionally with a certificate chain. */
export function snpJson(report: Uint8Array, certChain: readonly SnpCertChainEntry[] | null = null): unknown {
  const parsed = parseSnpReport(report);
  if (!parsed.ok) throw new Error(`fixture report does not parse: ${parsed.error.reason}`);
  const json = snpEvidenceJson(parsed.value, certChain);
  if (!json.ok) throw new Error(`fixture report has no JSON form: ${json.error.detail}`);
  return wire(json.value);
}

/** The evidence carrying its endorsement key, as a guest with a certificate table sends it. */
export function snpJsonWithChain(c: SnpCase): unknown {
  return snpJson(c.report, [{ certType: c.signer.toUpperCase(), data: c.cert }]);
}

/** REPORT_DATA with its zero tail removed, as a guest wrote its digest before padding (at least 1 byte). */
export function trimmed(reportData: Uint8Array): Uint8Array {
  let end = reportData.length;
  while (end > 1 && reportData[end - 1] === 0) end--;
  return reportData.slice(0, end);
}

export function flipped(b: Uint8Array, at = 0): Uint8Array {
  const out = b.slice();
  out[at] = out[at]! ^ 0x01;
  return out;
}

export interface TdxCase {
  readonly dir: string;
  readonly quote: Uint8Array;
  readonly files: Record<string, Uint8Array>;
  readonly trustedRoot: Uint8Array;
  readonly now: number;
  readonly tcbStatus: string | undefined;
  readonly passes: boolean;
  readonly reportData: Uint8Array;
  readonly mrConfigId: Uint8Array;
}

/** TD report body offsets of REPORTDATA and MRCONFIGID (after the 48-byte header, and v5's 6-byte descriptor). */
function bodyField(quote: Uint8Array, off: number, len: number): Uint8Array {
  const start = (quote[0] === 5 ? 54 : 48) + off;
  return quote.slice(start, start + len);
}

export const TDX_CASES: readonly TdxCase[] = INDEX.positive.map((e) => {
  const v = loadVector(e.dir);
  return {
    dir: e.dir,
    quote: v.quote,
    files: v.files,
    trustedRoot: v.trustedRoot,
    now: v.now,
    tcbStatus: e.expected.tcb_status,
    passes: e.expected.failed_checks.length === 0,
    reportData: bodyField(v.quote, 520, 64),
    mrConfigId: bodyField(v.quote, 184, 48),
  };
});

export const tdxJson = (quote: Uint8Array): unknown => wire(tdxEvidenceJson(quote));

export interface Recording extends CollateralProvider {
  readonly calls: { method: string; input: unknown }[];
}

export interface FakeCollateral {
  readonly vcek?: Uint8Array;
  readonly crl?: Uint8Array;
  readonly tdx?: Record<string, Uint8Array>;
  /** Every request of this kind fails with collateral_unavailable. */
  readonly fail?: "vcek" | "crl" | "tdx";
}

/** A provider that answers with what it was given (whatever is asked) and records the requests. */
export function fakeCollateral(c: FakeCollateral): Recording {
  const calls: { method: string; input: unknown }[] = [];
  const unavailable = (what: string) => err({ reason: "collateral_unavailable" as const, detail: `no ${what} (test)` });
  return {
    calls,
    async snpVcek(input) {
      calls.push({ method: "snpVcek", input });
      return c.fail !== "vcek" && c.vcek ? ok({ der: c.vcek }) : unavailable("VCEK");
    },
    ...(c.crl || c.fail === "crl"
      ? {
          async snpCrl(input: unknown) {
            calls.push({ method: "snpCrl", input });
            return c.fail !== "crl" && c.crl ? ok({ der: c.crl }) : unavailable("CRL");
          },
        }
      : {}),
    async tdxCollateral(input) {
      calls.push({ method: "tdxCollateral", input });
      return c.fail !== "tdx" && c.tdx ? ok({ files: c.tdx }) : unavailable("TDX collateral");
    },
  };
}
