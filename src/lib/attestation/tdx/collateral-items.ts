/**
 * One item of the TDX collateral set, verified on its own before it is stored: a PCS/PCCS answer, or
 * one file of an uploaded set. The trust checks are `checkCollateral`'s, item by item (Root CA CRL
 * signed by the anchor; TCB Info and QE Identity signed over their exact bytes by a TCB Signing
 * certificate of the anchor; the PCK CRL signed by the PCK CA of its chain, which is its issuer; no
 * signer on the Root CA CRL), so every item but the Root CA CRL is checked against an already
 * verified Root CA CRL. On top of that, what an item says it is for: TCB Info `id` "TDX", QE Identity
 * `id` "TD_QE", and the PCK CRL's CA (Platform or Processor) and TCB Info's FMSPC returned for the
 * caller to match against what it asked for. Time is not decided here. Never throws.
 */
import { ok, type Result } from "../../result";
import { commonName, type ParsedCertificate } from "../../x509/cert-reader";
import type { ParsedCrl } from "../../x509/crl-reader";
import { parseIssuerChain, readCrl, TDX_COLLATERAL_FILES as FILES } from "./collateral";
import { checkPckCrl, checkQeIdentity, checkRootCaCrl, checkTcbInfo } from "./collateral-check";
import { tdxFail, type TdxFailure } from "./errors";
import { parseQeIdentity, type QeIdentity } from "./qe-identity";
import { parseTcbInfo, type TcbInfo } from "./tcb-info";

export type PckCaKind = "platform" | "processor";

export interface VerifiedPckCrl {
  readonly crl: ParsedCrl;
  /** The Intel SGX PCK CA that issued and signed it. */
  readonly ca: PckCaKind;
}

const PCK_CA_NAMES: Readonly<Record<string, PckCaKind>> = { "Intel SGX PCK Platform CA": "platform", "Intel SGX PCK Processor CA": "processor" };

/** The Root CA CRL (DER or PEM): issued and signed by `anchor`. */
export async function verifyRootCaCrlItem(bytes: Uint8Array, anchor: ParsedCertificate): Promise<Result<ParsedCrl, TdxFailure>> {
  const crl = readCrl(bytes, FILES.rootCaCrl, "root_ca_crl_malformed");
  if (!crl.ok) return crl;
  const checked = await checkRootCaCrl(crl.value, anchor);
  return checked.ok ? crl : checked;
}

/** A TDX TCB Info body and its issuer chain (PEM), against a verified Root CA CRL. */
export async function verifyTcbInfoItem(body: Uint8Array, issuerChain: Uint8Array, rootCrl: ParsedCrl, anchor: ParsedCertificate): Promise<Result<TcbInfo, TdxFailure>> {
  const info = parseTcbInfo(body);
  if (!info.ok) return tdxFail("tcb_info_malformed", `${FILES.tcbInfo}: ${info.error}`);
  if (info.value.id !== "TDX") return tdxFail("tcb_info_mismatch", `the TCB Info is for ${info.value.id}, not TDX`);
  const chain = parseIssuerChain(issuerChain, FILES.tcbInfoIssuerChain);
  if (!chain.ok) return chain;
  const checked = await checkTcbInfo(info.value, chain.value, rootCrl, anchor);
  return checked.ok ? info : checked;
}

/** The TD Quoting Enclave's identity body and its issuer chain (PEM), against a verified Root CA CRL. */
export async function verifyQeIdentityItem(body: Uint8Array, issuerChain: Uint8Array, rootCrl: ParsedCrl, anchor: ParsedCertificate): Promise<Result<QeIdentity, TdxFailure>> {
  const identity = parseQeIdentity(body);
  if (!identity.ok) return tdxFail("qe_identity_malformed", `${FILES.qeIdentity}: ${identity.error}`);
  if (identity.value.id !== "TD_QE") return tdxFail("qe_identity_mismatch", `the enclave identity is ${identity.value.id}, not TD_QE`);
  const chain = parseIssuerChain(issuerChain, FILES.qeIdentityIssuerChain);
  if (!chain.ok) return chain;
  const checked = await checkQeIdentity(identity.value, chain.value, rootCrl, anchor);
  return checked.ok ? identity : checked;
}

/** A PCK CRL (DER or PEM) and its issuer chain (PEM), against a verified Root CA CRL → the CRL and its CA. */
export async function verifyPckCrlItem(bytes: Uint8Array, issuerChain: Uint8Array, rootCrl: ParsedCrl, anchor: ParsedCertificate): Promise<Result<VerifiedPckCrl, TdxFailure>> {
  const crl = readCrl(bytes, FILES.pckCrl, "pck_crl_malformed");
  if (!crl.ok) return crl;
  const chain = parseIssuerChain(issuerChain, FILES.pckCrlIssuerChain);
  if (!chain.ok) return chain;
  const signer = await checkPckCrl(crl.value, chain.value, rootCrl, anchor);
  if (!signer.ok) return signer;
  const name = commonName(signer.value.subject) ?? "";
  const ca = Object.hasOwn(PCK_CA_NAMES, name) ? PCK_CA_NAMES[name] : undefined;
  if (!ca) return tdxFail("pck_crl_wrong_issuer", `the PCK CRL is issued by "${name.slice(0, 80)}", neither the PCK Platform CA nor the PCK Processor CA`);
  return ok({ crl: crl.value, ca });
}
