/**
 * Intel PCS (or an operator's PCCS, same paths) collateral for TDX (specs/tdx.md §2): TCB Info per
 * FMSPC, the TD QE Identity, the PCK CRL and the Root CA CRL, with their issuer chains (response
 * headers, URL-encoded PEM). The `verified…` functions judge a PCS answer before it is cached, an
 * uploaded file before it is stored, and a stored item before it is trusted (CollateralFetcher `get`
 * and `admit`), with the checks of tdx/collateral-items.ts; every item but the Root CA CRL is checked
 * against a verified Root CA CRL. Each lands under the key of what it says it is for, which for a
 * fetch must be what was asked. Keys do not depend on certificate serials (Intel re-issued the TCB
 * signing certificate with the same serial).
 *
 * `collateralFiles` lays cached items out as the collateral directory the TDX verifier reads
 * (tcb_info.json, qe_identity.json, *_issuer_chain.pem, pck_crl.der, root_ca_crl.der).
 */
import { err, ok, type Result } from "../../result";
import { fromHex, fromUtf8, toHex, utf8 } from "../../encoding";
import { parseCertificate, type ParsedCertificate } from "../../x509/cert-reader";
import type { ParsedCrl } from "../../x509/crl-reader";
import { readCrl, TDX_COLLATERAL_FILES } from "../tdx/collateral";
import { verifyPckCrlItem, verifyQeIdentityItem, verifyRootCaCrlItem, verifyTcbInfoItem, type PckCaKind } from "../tdx/collateral-items";
import type { TdxFailure } from "../tdx/errors";
import { INTEL_SGX_ROOT_CA_DER } from "../tdx/roots";
import { CRL_MAX_AGE_MS } from "./amd-kds";
import type { CollateralItem, CollateralRequest, VerifiedCollateral } from "./fetcher";

export const DEFAULT_PCS_URL = "https://api.trustedservices.intel.com";
export const DEFAULT_ROOT_CA_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

export type PckCa = PckCaKind;

const TCB_CHAIN = "tcb-info-issuer-chain";
const QE_CHAIN = "sgx-enclave-identity-issuer-chain";
const CRL_CHAIN = "sgx-pck-crl-issuer-chain";

export const tcbInfoKey = (fmspc: string) => `tdx/tcb/${fmspc.toLowerCase()}`;
export const QE_IDENTITY_KEY = "tdx/qe-identity";
export const pckCrlKey = (ca: PckCa) => `tdx/pck-crl/${ca}`;
export const ROOT_CA_CRL_KEY = "tdx/root-ca-crl";

let root: ParsedCertificate | undefined;
/** The pinned Intel SGX Root CA: every item is verified to it. */
function intelRoot(): ParsedCertificate {
  if (!root) {
    const parsed = parseCertificate(INTEL_SGX_ROOT_CA_DER);
    if (!parsed.ok) throw new TypeError("the pinned Intel SGX Root CA does not parse");
    root = parsed.value;
  }
  return root;
}

const because = (f: TdxFailure) => err(`${f.reason}: ${f.detail}`);

/** The Root CA CRL (DER as Intel serves it, hex as a PCCS does), signed by the pinned root. */
export async function verifiedRootCaCrl(body: Uint8Array): Promise<Result<VerifiedCollateral, string>> {
  const der = rootCaCrlDer(body);
  if (!der) return err("not a CRL (DER, or hex as a PCCS serves it)");
  const crl = await verifyRootCaCrlItem(der, intelRoot());
  if (!crl.ok) return because(crl.error);
  return ok({ key: ROOT_CA_CRL_KEY, expiresAt: crl.value.nextUpdate!, issuedAt: crl.value.thisUpdate });
}

/** TDX TCB Info with its TCB-Info-Issuer-Chain header → stored under its own FMSPC. */
export async function verifiedTcbInfo(body: Uint8Array, headers: Readonly<Record<string, string>>, rootCrl: ParsedCrl): Promise<Result<VerifiedCollateral, string>> {
  const chain = headerPem(headers[TCB_CHAIN]);
  if (!chain) return err("no readable TCB-Info-Issuer-Chain header");
  const info = await verifyTcbInfoItem(body, chain, rootCrl, intelRoot());
  if (!info.ok) return because(info.error);
  return ok({ key: tcbInfoKey(toHex(info.value.fmspc)), expiresAt: info.value.nextUpdate, issuedAt: info.value.issueDate });
}

/** The TD QE Identity with its SGX-Enclave-Identity-Issuer-Chain header. */
export async function verifiedQeIdentity(body: Uint8Array, headers: Readonly<Record<string, string>>, rootCrl: ParsedCrl): Promise<Result<VerifiedCollateral, string>> {
  const chain = headerPem(headers[QE_CHAIN]);
  if (!chain) return err("no readable SGX-Enclave-Identity-Issuer-Chain header");
  const identity = await verifyQeIdentityItem(body, chain, rootCrl, intelRoot());
  if (!identity.ok) return because(identity.error);
  return ok({ key: QE_IDENTITY_KEY, expiresAt: identity.value.nextUpdate, issuedAt: identity.value.issueDate });
}

/** A PCK CRL with its SGX-PCK-CRL-Issuer-Chain header → stored under the CA that signed it. */
export async function verifiedPckCrl(body: Uint8Array, headers: Readonly<Record<string, string>>, rootCrl: ParsedCrl): Promise<Result<VerifiedCollateral, string>> {
  const chain = headerPem(headers[CRL_CHAIN]);
  if (!chain) return err("no readable SGX-PCK-CRL-Issuer-Chain header");
  const crl = await verifyPckCrlItem(body, chain, rootCrl, intelRoot());
  if (!crl.ok) return because(crl.error);
  return ok({ key: pckCrlKey(crl.value.ca), expiresAt: crl.value.crl.nextUpdate!, issuedAt: crl.value.crl.thisUpdate });
}

export function rootCaCrlRequest(url: string): CollateralRequest {
  return { key: ROOT_CA_CRL_KEY, url, verify: verifiedRootCaCrl, maxAgeMs: CRL_MAX_AGE_MS };
}

/** TCB Info for `fmspc`; an answer for another FMSPC is refused. */
export function tcbInfoRequest(base: string, fmspc: string, rootCrl: ParsedCrl): CollateralRequest {
  return {
    key: tcbInfoKey(fmspc),
    url: `${base}/tdx/certification/v4/tcb?fmspc=${fmspc.toLowerCase()}`,
    keepHeaders: [TCB_CHAIN],
    verify: (body, headers) => verifiedTcbInfo(body, headers, rootCrl),
  };
}

export function qeIdentityRequest(base: string, rootCrl: ParsedCrl): CollateralRequest {
  return {
    key: QE_IDENTITY_KEY,
    url: `${base}/tdx/certification/v4/qe/identity`,
    keepHeaders: [QE_CHAIN],
    verify: (body, headers) => verifiedQeIdentity(body, headers, rootCrl),
  };
}

/** The CRL of the PCK `ca`; a CRL of the other CA is refused. */
export function pckCrlRequest(base: string, ca: PckCa, rootCrl: ParsedCrl): CollateralRequest {
  return {
    key: pckCrlKey(ca),
    url: `${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`,
    keepHeaders: [CRL_CHAIN],
    verify: (body, headers) => verifiedPckCrl(body, headers, rootCrl),
    maxAgeMs: CRL_MAX_AGE_MS,
  };
}

/** Intel serves the root CA CRL as DER; a PCCS serves it hex-encoded. Both are accepted. */
export function rootCaCrlDer(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === 0x30) return body;
  const text = fromUtf8(body)?.trim();
  return text ? fromHex(text) : undefined;
}

/** The Root CA CRL of an item the fetcher verified (or admitted), to check the other items against. */
export function rootCaCrlOf(body: Uint8Array): ParsedCrl | undefined {
  const der = rootCaCrlDer(body);
  const crl = der ? readCrl(der, TDX_COLLATERAL_FILES.rootCaCrl, "root_ca_crl_malformed") : undefined;
  return crl?.ok ? crl.value : undefined;
}

function headerPem(value: string | undefined): Uint8Array | undefined {
  if (!value) return undefined;
  try {
    return utf8(decodeURIComponent(value));
  } catch {
    return undefined;
  }
}

export interface TdxCollateralItems {
  readonly tcbInfo: CollateralItem;
  readonly qeIdentity: CollateralItem;
  readonly pckCrl: CollateralItem;
  readonly rootCaCrl: CollateralItem;
}

/** The collateral directory layout (file name → bytes) from cached items. */
export function collateralFiles(items: TdxCollateralItems): Result<Record<string, Uint8Array>, string> {
  const tcbChain = headerPem(items.tcbInfo.headers[TCB_CHAIN]);
  const qeChain = headerPem(items.qeIdentity.headers[QE_CHAIN]);
  const crlChain = headerPem(items.pckCrl.headers[CRL_CHAIN]);
  const rootCrl = rootCaCrlDer(items.rootCaCrl.body);
  if (!tcbChain || !qeChain || !crlChain || !rootCrl) return err("cached collateral lacks an issuer chain");
  return ok({
    "tcb_info.json": items.tcbInfo.body,
    "tcb_info_issuer_chain.pem": tcbChain,
    "qe_identity.json": items.qeIdentity.body,
    "qe_identity_issuer_chain.pem": qeChain,
    "pck_crl.der": items.pckCrl.body,
    "pck_crl_issuer_chain.pem": crlChain,
    "root_ca_crl.der": rootCrl,
  });
}

/** Issuer-chain headers as PCS sends them, for storing uploaded files under the fetched layout. */
export function chainHeader(kind: "tcb" | "qe" | "crl", pem: Uint8Array): Record<string, string> {
  const name = kind === "tcb" ? TCB_CHAIN : kind === "qe" ? QE_CHAIN : CRL_CHAIN;
  return { [name]: encodeURIComponent(fromUtf8(pem) ?? "") };
}
