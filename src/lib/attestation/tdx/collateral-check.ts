/**
 * Trust in a collateral set, independent of any quote (specs/tdx.md §3 steps 2, 4, 5, 6): the Root CA
 * CRL is signed by the trusted root; TCB Info and QE Identity are signed, over their exact bytes, by
 * an Intel SGX TCB Signing certificate that chains to the root and is not on the root CRL; the PCK CRL
 * is signed by a PCK CA that chains to the root, is not on the root CRL, and is the CRL's issuer.
 *
 * The result is what the verifier caches per collateral digest: it holds no verdict about time, only
 * the validity windows to re-check against the verification time on every call. Each item's check is
 * exported on its own (`checkRootCaCrl`, `checkTcbInfo`, …): collateral-items.ts runs the same checks on
 * one item at a time, when a PCS answer or an upload is stored.
 */
import { ok, type Result } from "../../result";
import { bytesEqual } from "../../x509/der-reader";
import { commonName, type ParsedCertificate } from "../../x509/cert-reader";
import type { ParsedCrl } from "../../x509/crl-reader";
import { verifySignedData } from "../../x509/signed-data";
import { certificateWindows, validity, verifyChain, type Validity, type ValidityWindow } from "./cert-chain";
import type { TdxCollateral } from "./collateral";
import { tdxFail, type TdxFailure, type TdxFailureReason } from "./errors";
import { importP256Spki, verifyP256 } from "./p256";
import type { QeIdentity } from "./qe-identity";
import type { TcbInfo } from "./tcb-info";

export interface CheckedCollateral {
  readonly collateral: TdxCollateral;
  /** In check order: root CRL, TCB Info chain and document, QE Identity chain and document, PCK CRL chain and CRL. */
  readonly validity: Validity;
  /** The CA certificate that signed the PCK CRL (checked to the root). */
  readonly pckCrlSigner: ParsedCertificate;
}

const TCB_SIGNING_CHAIN = ["SGX TCB Signing", "SGX Root CA"] as const;
/** The PCK CRL signer is a PCK CA (Platform or Processor), never the root itself. */
const PCK_CA_CHAIN = ["SGX PCK", "SGX Root CA"] as const;

function crlWindow(crl: ParsedCrl, what: string, expired: TdxFailureReason, notYetValid: TdxFailureReason): ValidityWindow {
  // parseTdxCollateral refuses CRLs without nextUpdate.
  return { what, notBefore: crl.thisUpdate, notAfter: crl.nextUpdate ?? crl.thisUpdate, expired, notYetValid };
}

function revokedBy(rootCrl: ParsedCrl, cert: ParsedCertificate): boolean {
  return rootCrl.revokedSerials.has(cert.serialHex);
}

/** A signed JSON document: its signing chain, that the signer is not revoked, and the signature. */
async function checkSignedDocument(
  what: string,
  chain: readonly ParsedCertificate[],
  signed: Uint8Array,
  signature: Uint8Array,
  rootCrl: ParsedCrl,
  anchor: ParsedCertificate,
  untrusted: TdxFailureReason,
): Promise<Result<void, TdxFailure>> {
  const path = await verifyChain(chain, TCB_SIGNING_CHAIN, anchor);
  if (!path.ok) return tdxFail(untrusted, `${what} signing chain: ${path.error}`);
  const signer = chain[0]!;
  if (revokedBy(rootCrl, signer)) return tdxFail(untrusted, `${what} signing certificate ${signer.serialHex} is on the Root CA CRL`);
  const key = await importP256Spki(signer.spki);
  if (!key) return tdxFail(untrusted, `${what} signing certificate has no P-256 key`);
  if (!(await verifyP256(key, signature, signed))) return tdxFail(untrusted, `${what} signature does not verify over its exact bytes`);
  return ok(undefined);
}

/** The Root CA CRL: issued and signed by the trusted root. */
export async function checkRootCaCrl(rootCrl: ParsedCrl, anchor: ParsedCertificate): Promise<Result<void, TdxFailure>> {
  if (!bytesEqual(rootCrl.issuerRaw, anchor.subjectRaw)) return tdxFail("root_ca_crl_untrusted", "the Root CA CRL is not issued by the Intel SGX Root CA");
  const sig = await verifySignedData(rootCrl.signatureAlgorithm, rootCrl.tbs, rootCrl.signature, anchor.spki);
  if (!sig.ok) return tdxFail("root_ca_crl_untrusted", `the Root CA CRL signature does not verify with the trusted root (${sig.error.reason})`);
  return ok(undefined);
}

/** TCB Info, given the (checked) Root CA CRL: signed over its exact bytes by a TCB Signing certificate of the root. */
export function checkTcbInfo(tcb: TcbInfo, chain: readonly ParsedCertificate[], rootCrl: ParsedCrl, anchor: ParsedCertificate): Promise<Result<void, TdxFailure>> {
  return checkSignedDocument("TCB Info", chain, tcb.signed, tcb.signature, rootCrl, anchor, "tcb_info_untrusted");
}

/** QE Identity, likewise. */
export function checkQeIdentity(qe: QeIdentity, chain: readonly ParsedCertificate[], rootCrl: ParsedCrl, anchor: ParsedCertificate): Promise<Result<void, TdxFailure>> {
  return checkSignedDocument("QE Identity", chain, qe.signed, qe.signature, rootCrl, anchor, "qe_identity_untrusted");
}

/** The PCK CRL, given the (checked) Root CA CRL: its issuer chain to the root, then the CRL against the chain's CA → that CA. */
export async function checkPckCrl(pckCrl: ParsedCrl, chain: readonly ParsedCertificate[], rootCrl: ParsedCrl, anchor: ParsedCertificate): Promise<Result<ParsedCertificate, TdxFailure>> {
  const path = await verifyChain(chain, PCK_CA_CHAIN, anchor);
  if (!path.ok) return tdxFail("pck_crl_untrusted", `PCK CRL issuer chain: ${path.error}`);
  const pckCa = chain[0]!;
  if (revokedBy(rootCrl, pckCa)) return tdxFail("pck_crl_untrusted", `the PCK CRL issuer ${pckCa.serialHex} is on the Root CA CRL`);
  if (!bytesEqual(pckCrl.issuerRaw, pckCa.subjectRaw)) {
    return tdxFail("pck_crl_wrong_issuer", `the PCK CRL is issued by "${commonName(pckCrl.issuer) ?? "?"}", not by "${commonName(pckCa.subject) ?? "?"}"`);
  }
  const sig = await verifySignedData(pckCrl.signatureAlgorithm, pckCrl.tbs, pckCrl.signature, pckCa.spki);
  if (!sig.ok) return tdxFail("pck_crl_untrusted", `the PCK CRL signature does not verify (${sig.error.reason})`);
  return ok(pckCa);
}

export async function checkCollateral(c: TdxCollateral, anchor: ParsedCertificate): Promise<Result<CheckedCollateral, TdxFailure>> {
  const rootCrl = c.rootCaCrl;
  const rootCheck = await checkRootCaCrl(rootCrl, anchor);
  if (!rootCheck.ok) return rootCheck;
  const tcb = c.tcbInfo;
  const tcbCheck = await checkTcbInfo(tcb, c.tcbInfoIssuerChain, rootCrl, anchor);
  if (!tcbCheck.ok) return tcbCheck;
  const qe = c.qeIdentity;
  const qeCheck = await checkQeIdentity(qe, c.qeIdentityIssuerChain, rootCrl, anchor);
  if (!qeCheck.ok) return qeCheck;
  const crlChain = c.pckCrlIssuerChain;
  const pckCrl = c.pckCrl;
  const pckCa = await checkPckCrl(pckCrl, crlChain, rootCrl, anchor);
  if (!pckCa.ok) return pckCa;

  const windows: ValidityWindow[] = [
    crlWindow(rootCrl, "the Root CA CRL", "root_ca_crl_expired", "root_ca_crl_not_yet_valid"),
    ...certificateWindows(c.tcbInfoIssuerChain, "tcb_info_expired", "tcb_info_not_yet_valid"),
    { what: "TCB Info", notBefore: tcb.issueDate, notAfter: tcb.nextUpdate, expired: "tcb_info_expired", notYetValid: "tcb_info_not_yet_valid" },
    ...certificateWindows(c.qeIdentityIssuerChain, "qe_identity_expired", "qe_identity_not_yet_valid"),
    { what: "QE Identity", notBefore: qe.issueDate, notAfter: qe.nextUpdate, expired: "qe_identity_expired", notYetValid: "qe_identity_not_yet_valid" },
    ...certificateWindows(crlChain, "pck_crl_expired", "pck_crl_not_yet_valid"),
    crlWindow(pckCrl, "the PCK CRL", "pck_crl_expired", "pck_crl_not_yet_valid"),
  ];
  return ok({ collateral: c, validity: validity(windows), pckCrlSigner: pckCa.value });
}
