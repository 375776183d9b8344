/**
 * The TDX collateral set, as a directory of files (the layout of the test vectors and of an
 * air-gapped upload; `collateralFiles` in `../collateral/intel-pcs.ts` writes the same names):
 *
 *   tcb_info.json, qe_identity.json           PCS response bodies, signed member kept byte-exact
 *   tcb_info_issuer_chain.pem,
 *   qe_identity_issuer_chain.pem              Intel SGX TCB Signing ← Intel SGX Root CA
 *   pck_crl.der, pck_crl_issuer_chain.pem     PCK Platform/Processor CA CRL ← its CA ← Root
 *   root_ca_crl.der                           the Root CA's CRL
 *
 * `parseTdxCollateral` checks shape only (every file present and well-formed); trust (chains,
 * signatures, CRL issuers) and time are checked by the verifier. Other files in the record are
 * ignored. The result carries `digest`, the SHA-256 over each file's SHA-256, which identifies the
 * exact bytes: the verifier caches its collateral checks under it, never under certificate serials,
 * and only for sets this function made (a hand-built object's digest proves nothing; it is checked
 * afresh on every call). Treat the result as immutable.
 */
import { ok, type Result } from "../../result";
import { fromPemAll, fromUtf8, toHex } from "../../encoding";
import { parsePemCertificates, type ParsedCertificate } from "../../x509/cert-reader";
import { parseCrl, type ParsedCrl } from "../../x509/crl-reader";
import { tdxFail, type TdxFailure, type TdxFailureReason } from "./errors";
import { sha256 } from "./p256";
import { parseQeIdentity, type QeIdentity } from "./qe-identity";
import { parseTcbInfo, type TcbInfo } from "./tcb-info";

export const TDX_COLLATERAL_FILES = {
  tcbInfo: "tcb_info.json",
  tcbInfoIssuerChain: "tcb_info_issuer_chain.pem",
  qeIdentity: "qe_identity.json",
  qeIdentityIssuerChain: "qe_identity_issuer_chain.pem",
  pckCrl: "pck_crl.der",
  pckCrlIssuerChain: "pck_crl_issuer_chain.pem",
  rootCaCrl: "root_ca_crl.der",
} as const;

export interface TdxCollateral {
  readonly tcbInfo: TcbInfo;
  /** Leaf (signer) first. */
  readonly tcbInfoIssuerChain: readonly ParsedCertificate[];
  readonly qeIdentity: QeIdentity;
  readonly qeIdentityIssuerChain: readonly ParsedCertificate[];
  readonly pckCrl: ParsedCrl;
  readonly pckCrlIssuerChain: readonly ParsedCertificate[];
  readonly rootCaCrl: ParsedCrl;
  /** Lowercase hex SHA-256 over the SHA-256 of each file's bytes, in `TDX_COLLATERAL_FILES` order. */
  readonly digest: string;
}

/** Sets made by `parseTdxCollateral`, whose `digest` is known to be of their own bytes. */
const PARSED = new WeakSet<TdxCollateral>();

/** Whether `c` came from `parseTdxCollateral` (so its digest can key a cache). */
export function isParsedCollateral(c: TdxCollateral): boolean {
  return PARSED.has(c);
}

/** Largest file accepted (a TCB Info body is ~5 KB, a PCK CRL a few KB). */
export const MAX_COLLATERAL_FILE_BYTES = 1024 * 1024;
const MAX_CHAIN_LENGTH = 4;

export function parseIssuerChain(bytes: Uint8Array, file: string): Result<ParsedCertificate[], TdxFailure> {
  const certs = parsePemCertificates(bytes, MAX_CHAIN_LENGTH);
  return certs.ok ? certs : tdxFail("issuer_chain_malformed", `${file}: ${certs.error}`);
}

/** A CRL as DER, or PEM ("X509 CRL"), with a nextUpdate. */
export function readCrl(bytes: Uint8Array, file: string, reason: TdxFailureReason): Result<ParsedCrl, TdxFailure> {
  let der = bytes;
  if (bytes[0] === 0x2d /* - */) {
    const text = fromUtf8(bytes);
    const blocks = text === undefined ? undefined : fromPemAll(text, "X509 CRL");
    if (!blocks || blocks.length !== 1) return tdxFail(reason, `${file} is neither DER nor one PEM CRL`);
    der = blocks[0]!;
  }
  const crl = parseCrl(der);
  if (!crl.ok) return tdxFail(reason, `${file}: ${crl.error.detail ?? crl.error.reason}`);
  if (crl.value.nextUpdate === undefined) return tdxFail(reason, `${file} has no nextUpdate`);
  return ok(crl.value);
}

/** Reads the collateral set from file name → bytes (a directory read by the CLI, an upload). */
export async function parseTdxCollateral(files: Readonly<Record<string, Uint8Array | undefined>>): Promise<Result<TdxCollateral, TdxFailure>> {
  const raw: Partial<Record<keyof typeof TDX_COLLATERAL_FILES, Uint8Array>> = {};
  for (const [key, name] of Object.entries(TDX_COLLATERAL_FILES) as [keyof typeof TDX_COLLATERAL_FILES, string][]) {
    const bytes = Object.hasOwn(files, name) ? files[name] : undefined;
    if (!(bytes instanceof Uint8Array)) return tdxFail("collateral_file_missing", `the collateral set has no ${name}`);
    if (bytes.length > MAX_COLLATERAL_FILE_BYTES) return tdxFail("collateral_file_missing", `${name} is larger than ${MAX_COLLATERAL_FILE_BYTES} bytes`);
    raw[key] = bytes;
  }
  const f = raw as Record<keyof typeof TDX_COLLATERAL_FILES, Uint8Array>;

  const tcbInfo = parseTcbInfo(f.tcbInfo);
  if (!tcbInfo.ok) return tdxFail("tcb_info_malformed", `${TDX_COLLATERAL_FILES.tcbInfo}: ${tcbInfo.error}`);
  const qeIdentity = parseQeIdentity(f.qeIdentity);
  if (!qeIdentity.ok) return tdxFail("qe_identity_malformed", `${TDX_COLLATERAL_FILES.qeIdentity}: ${qeIdentity.error}`);
  const tcbChain = parseIssuerChain(f.tcbInfoIssuerChain, TDX_COLLATERAL_FILES.tcbInfoIssuerChain);
  if (!tcbChain.ok) return tcbChain;
  const qeChain = parseIssuerChain(f.qeIdentityIssuerChain, TDX_COLLATERAL_FILES.qeIdentityIssuerChain);
  if (!qeChain.ok) return qeChain;
  const crlChain = parseIssuerChain(f.pckCrlIssuerChain, TDX_COLLATERAL_FILES.pckCrlIssuerChain);
  if (!crlChain.ok) return crlChain;
  const pckCrl = readCrl(f.pckCrl, TDX_COLLATERAL_FILES.pckCrl, "pck_crl_malformed");
  if (!pckCrl.ok) return pckCrl;
  const rootCaCrl = readCrl(f.rootCaCrl, TDX_COLLATERAL_FILES.rootCaCrl, "root_ca_crl_malformed");
  if (!rootCaCrl.ok) return rootCaCrl;

  const digests = await Promise.all(Object.keys(TDX_COLLATERAL_FILES).map((k) => sha256(f[k as keyof typeof TDX_COLLATERAL_FILES])));
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(d, i * 32));
  const digest = toHex(await sha256(all));

  const collateral: TdxCollateral = Object.freeze({
    tcbInfo: tcbInfo.value,
    tcbInfoIssuerChain: tcbChain.value,
    qeIdentity: qeIdentity.value,
    qeIdentityIssuerChain: qeChain.value,
    pckCrl: pckCrl.value,
    pckCrlIssuerChain: crlChain.value,
    rootCaCrl: rootCaCrl.value,
    digest,
  });
  PARSED.add(collateral);
  return ok(collateral);
}
