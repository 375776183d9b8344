/** The SEV-SNP test vectors (test/fixtures/snp, see its PROVENANCE.md) and the CRLs in ./fixtures. */
import { readFileSync } from "node:fs";
import { fromPemAll } from "../../../src/lib/encoding";

export const SNP = "test/fixtures/snp";
export const CRLS = "test/fixtures/snp/crl";

export interface VectorEntry {
  readonly name: string;
  readonly product: "Milan" | "Genoa" | "Turin";
  readonly report_version: number;
  readonly signer: "vcek" | "vlek";
  readonly report: string;
  readonly endorsement_cert: string;
  readonly verify_at: string;
  readonly negatives: string;
}

export interface NegativeCase {
  readonly name: string;
  readonly file: string | null;
  readonly ek?: string;
  readonly verify_at?: string;
  readonly expect: string | readonly string[];
}

export const bytes = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
export const pemCerts = (path: string): Uint8Array[] => fromPemAll(readFileSync(path, "utf8"), "CERTIFICATE") ?? [];

export const VECTORS: readonly VectorEntry[] = JSON.parse(readFileSync(`${SNP}/index.json`, "utf8")) as VectorEntry[];

export function vector(name: string): VectorEntry {
  const v = VECTORS.find((x) => x.name === name);
  if (!v) throw new Error(`no SNP vector ${name}`);
  return v;
}

export function meta(v: VectorEntry): { expect: Record<string, unknown> } {
  return JSON.parse(readFileSync(`${SNP}/${v.name}/meta.json`, "utf8")) as { expect: Record<string, unknown> };
}

export function negatives(v: VectorEntry): readonly NegativeCase[] {
  return JSON.parse(readFileSync(`${SNP}/${v.negatives}`, "utf8")) as NegativeCase[];
}

/** Report, endorsement certificate and verification time of a positive vector. */
export function evidence(name: string): { report: Uint8Array; endorsementCert: Uint8Array; now: number } {
  const v = vector(name);
  return { report: bytes(`${SNP}/${v.report}`), endorsementCert: bytes(`${SNP}/${v.endorsement_cert}`), now: Date.parse(v.verify_at) };
}

export const at = (iso: string): number => Date.parse(iso);
