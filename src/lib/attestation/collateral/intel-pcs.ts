/**
 * Intel PCS (or an operator's PCCS, same paths) collateral for TDX (specs/tdx.md §2): TCB Info per
 * FMSPC, the TD QE Identity, the PCK CRL and the Root CA CRL, with their issuer chains (response
 * headers, URL-encoded PEM). Items are stored under keys that do not depend on certificate serials
 * (Intel re-issued the TCB signing certificate with the same serial).
 *
 * `collateralFiles` lays cached items out as the collateral directory the TDX verifier reads
 * (tcb_info.json, qe_identity.json, *_issuer_chain.pem, pck_crl.der, root_ca_crl.der).
 */
import { err, ok, type Result } from "../../result";
import { fromHex, fromUtf8, utf8 } from "../../encoding";
import { commonName } from "../../x509/cert-reader";
import { parseQeIdentity } from "../tdx/qe-identity";
import { parseTcbInfo } from "../tdx/tcb-info";
import { parseCrl } from "../../x509/crl-reader";
import { CRL_MAX_AGE_MS } from "./amd-kds";
import { crlExpiry, crlIssuedAt } from "./crl-times";
import type { CollateralItem, CollateralRequest } from "./fetcher";

export const DEFAULT_PCS_URL = "https://api.trustedservices.intel.com";
export const DEFAULT_ROOT_CA_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

export type PckCa = "platform" | "processor";

const TCB_CHAIN = "tcb-info-issuer-chain";
const QE_CHAIN = "sgx-enclave-identity-issuer-chain";
const CRL_CHAIN = "sgx-pck-crl-issuer-chain";

/** Expiry of a PCS TCB Info body: it must parse as TCB Info; its nextUpdate. */
export function tcbInfoExpiry(body: Uint8Array): Result<number, string> {
  const info = parseTcbInfo(body);
  return info.ok ? ok(info.value.nextUpdate) : err(`TCB Info: ${info.error}`);
}

/** Expiry of a PCS QE Identity body: it must parse as an enclave identity; its nextUpdate. */
export function qeIdentityExpiry(body: Uint8Array): Result<number, string> {
  const id = parseQeIdentity(body);
  return id.ok ? ok(id.value.nextUpdate) : err(`QE Identity: ${id.error}`);
}

export function tcbInfoIssuedAt(body: Uint8Array): number | undefined {
  const info = parseTcbInfo(body);
  return info.ok ? info.value.issueDate : undefined;
}

export function qeIdentityIssuedAt(body: Uint8Array): number | undefined {
  const id = parseQeIdentity(body);
  return id.ok ? id.value.issueDate : undefined;
}

export const tcbInfoKey = (fmspc: string) => `tdx/tcb/${fmspc.toLowerCase()}`;
export const QE_IDENTITY_KEY = "tdx/qe-identity";
export const pckCrlKey = (ca: PckCa) => `tdx/pck-crl/${ca}`;
export const ROOT_CA_CRL_KEY = "tdx/root-ca-crl";

export function tcbInfoRequest(base: string, fmspc: string): CollateralRequest {
  return {
    key: tcbInfoKey(fmspc),
    url: `${base}/tdx/certification/v4/tcb?fmspc=${fmspc.toLowerCase()}`,
    keepHeaders: [TCB_CHAIN],
    expiry: (body, headers) => (headers[TCB_CHAIN] ? tcbInfoExpiry(body) : err("no TCB-Info-Issuer-Chain header")),
    issuedAt: tcbInfoIssuedAt,
  };
}

export function qeIdentityRequest(base: string): CollateralRequest {
  return {
    key: QE_IDENTITY_KEY,
    url: `${base}/tdx/certification/v4/qe/identity`,
    keepHeaders: [QE_CHAIN],
    expiry: (body, headers) => (headers[QE_CHAIN] ? qeIdentityExpiry(body) : err("no SGX-Enclave-Identity-Issuer-Chain header")),
    issuedAt: qeIdentityIssuedAt,
  };
}

export function pckCrlRequest(base: string, ca: PckCa): CollateralRequest {
  return {
    key: pckCrlKey(ca),
    url: `${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`,
    keepHeaders: [CRL_CHAIN],
    expiry: (body, headers) => (headers[CRL_CHAIN] ? crlExpiry(body) : err("no SGX-PCK-CRL-Issuer-Chain header")),
    maxAgeMs: CRL_MAX_AGE_MS,
    issuedAt: crlIssuedAt,
  };
}

/** Intel serves the root CA CRL as DER; a PCCS serves it hex-encoded. Both are accepted. */
export function rootCaCrlDer(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === 0x30) return body;
  const text = fromUtf8(body)?.trim();
  return text ? fromHex(text) : undefined;
}

export function rootCaCrlRequest(url: string): CollateralRequest {
  return {
    key: ROOT_CA_CRL_KEY,
    url,
    expiry: (body) => {
      const der = rootCaCrlDer(body);
      return der ? crlExpiry(der) : err("not a CRL");
    },
    maxAgeMs: CRL_MAX_AGE_MS,
    issuedAt: (body) => {
      const der = rootCaCrlDer(body);
      return der ? crlIssuedAt(der) : undefined;
    },
  };
}


/** A PCK CRL's CA, from its issuer CN. */
export function pckCrlCa(der: Uint8Array): PckCa | undefined {
  const crl = parseCrl(der);
  if (!crl.ok) return undefined;
  const cn = commonName(crl.value.issuer);
  return cn === "Intel SGX PCK Platform CA" ? "platform" : cn === "Intel SGX PCK Processor CA" ? "processor" : undefined;
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
