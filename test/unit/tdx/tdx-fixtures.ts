/**
 * Loads the real-hardware TDX vectors in test/fixtures/tdx (see PROVENANCE.md there): each vector's
 * quote, collateral files (under the names the collateral directory uses), trusted root and
 * verification time, as its vector.json lists them.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromPemAll } from "../../../src/lib/encoding";
import type { TdxFailureReason } from "../../../src/lib/attestation/tdx/errors";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "tdx");

export interface Expected {
  readonly failed_checks: readonly string[];
  readonly tcb_status?: string;
  readonly must_reject?: boolean;
}

export interface IndexEntry {
  readonly dir: string;
  readonly verification_time: string;
  readonly expected: Expected;
  readonly mutation?: string;
}

export interface TdxIndex {
  readonly positive: readonly IndexEntry[];
  readonly negative: readonly IndexEntry[];
}

export const INDEX = JSON.parse(readFileSync(join(FIXTURES, "index.json"), "utf8")) as TdxIndex;

/** vector.json collateral keys → the file names of a collateral directory. */
const FILE_NAMES: Readonly<Record<string, string>> = {
  tcb_info: "tcb_info.json",
  tcb_info_issuer_chain: "tcb_info_issuer_chain.pem",
  qe_identity: "qe_identity.json",
  qe_identity_issuer_chain: "qe_identity_issuer_chain.pem",
  pck_crl: "pck_crl.der",
  pck_crl_issuer_chain: "pck_crl_issuer_chain.pem",
  root_ca_crl: "root_ca_crl.der",
};

export interface Vector {
  readonly dir: string;
  readonly quote: Uint8Array;
  readonly files: Record<string, Uint8Array>;
  /** DER of the root the vector trusts (the Intel root, or an impostor for `wrong-root`). */
  readonly trustedRoot: Uint8Array;
  readonly now: number;
  readonly expected: Expected;
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

const cache = new Map<string, Vector>();

export function loadVector(dir: string): Vector {
  const hit = cache.get(dir);
  if (hit) return hit;
  const base = join(FIXTURES, dir);
  const manifest = JSON.parse(readFileSync(join(base, "vector.json"), "utf8")) as {
    quote: string;
    collateral: Record<string, string>;
    trusted_root: string;
    verification_time: string;
    expected: Expected;
  };
  const files: Record<string, Uint8Array> = {};
  for (const [key, rel] of Object.entries(manifest.collateral)) files[FILE_NAMES[key]!] = readBytes(join(base, rel));
  const rootPem = readFileSync(join(base, manifest.trusted_root), "utf8");
  const root = fromPemAll(rootPem, "CERTIFICATE")?.[0];
  if (!root) throw new Error(`${dir}: no trusted root`);
  const v: Vector = {
    dir,
    quote: readBytes(join(base, manifest.quote)),
    files,
    trustedRoot: root,
    now: Date.parse(manifest.verification_time),
    expected: manifest.expected,
  };
  cache.set(dir, v);
  return v;
}

export function decoded(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, dir, "decoded.json"), "utf8")) as Record<string, unknown>;
}

/**
 * The vectors' check names (an independent implementation's, see PROVENANCE.md) → the failure codes
 * of ours that mean the same check failed. A negative vector passes when our code is in the union of
 * its failed checks' codes.
 */
export const CHECK_CODES = {
  QUOTE_FORMAT: [
    "quote_truncated",
    "quote_unsupported_version",
    "quote_unsupported_attestation_key_type",
    "quote_unsupported_tee_type",
    "quote_unsupported_qe_vendor",
    "quote_invalid_body",
    "quote_unsupported_certification_data",
    "quote_invalid_certification_data",
  ],
  ROOT_CA_CRL: ["root_ca_crl_malformed", "root_ca_crl_untrusted", "root_ca_crl_expired", "root_ca_crl_not_yet_valid"],
  TCB_INFO_SIGNATURE: ["tcb_info_untrusted"],
  TCB_INFO_TIME: ["tcb_info_expired", "tcb_info_not_yet_valid"],
  QE_IDENTITY_SIGNATURE: ["qe_identity_untrusted"],
  QE_IDENTITY_TIME: ["qe_identity_expired", "qe_identity_not_yet_valid"],
  PCK_CHAIN: ["pck_chain_malformed", "pck_chain_untrusted", "pck_chain_expired", "pck_chain_not_yet_valid", "pck_ca_revoked"],
  PCK_CRL: ["pck_crl_malformed", "pck_crl_untrusted", "pck_crl_wrong_issuer", "pck_crl_expired", "pck_crl_not_yet_valid", "pck_revoked"],
  QE_REPORT_SIGNATURE: ["qe_report_signature_invalid"],
  QE_REPORT_DATA: ["qe_report_data_mismatch"],
  QE_IDENTITY_MATCH: ["qe_identity_mismatch"],
  QUOTE_SIGNATURE: ["quote_signature_invalid"],
  TCB_INFO_MATCH: ["tcb_info_mismatch", "tdx_module_mismatch"],
  TCB_LEVEL: ["tcb_not_supported", "tcb_status_unrecognized", "tcb_revoked"],
} as const satisfies Record<string, readonly TdxFailureReason[]>;

/** Our codes for a vector's check name (none for an unknown name, so the test fails). */
export function codesFor(check: string): readonly string[] {
  return (CHECK_CODES as Record<string, readonly string[]>)[check] ?? [];
}
