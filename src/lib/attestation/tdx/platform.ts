/**
 * Which collateral a quote needs, read from the PCK certificate it carries (before anything is
 * verified, so only to choose collateral): the platform's FMSPC and PPID from the
 * SGX extension, and which PCK CA (Platform or Processor) issued the certificate, by its CN. The
 * verifier later checks the chain to the pinned root and the TCB Info's FMSPC against the same
 * certificate, so a lie here only fetches collateral that then fails to match. Never throws.
 */
import { toHex } from "../../encoding";
import { ok, type Result } from "../../result";
import { commonName } from "../../x509/cert-reader";
import type { PckCa } from "../collateral/intel-pcs";
import { tdxFail, type TdxFailure } from "./errors";
import { readPckChain } from "./pck-chain";
import { OID_SGX_EXTENSION, readSgxExtension } from "./sgx-extension";

export interface TdxPlatform {
  /** 12 lowercase hex digits. */
  readonly fmspc: string;
  readonly ca: PckCa;
  /** The PPID (16 bytes) as lowercase hex: the platform's identity in Intel's PKI. */
  readonly ppid: string;
}

const PCK_CAS: Readonly<Record<string, PckCa>> = { "Intel SGX PCK Platform CA": "platform", "Intel SGX PCK Processor CA": "processor" };

export function readTdxPlatform(pckChainPem: Uint8Array): Result<TdxPlatform, TdxFailure> {
  const chain = readPckChain(pckChainPem);
  if (!chain.ok) return chain;
  const leaf = chain.value[0]!;
  const ext = leaf.extensions.get(OID_SGX_EXTENSION);
  if (!ext) return tdxFail("pck_chain_malformed", "the PCK certificate has no SGX extension");
  const sgx = readSgxExtension(ext.value);
  if (!sgx.ok) return tdxFail("pck_chain_malformed", `the PCK certificate's SGX extension: ${sgx.error}`);
  const issuer = commonName(leaf.issuer) ?? "";
  const ca = Object.hasOwn(PCK_CAS, issuer) ? PCK_CAS[issuer] : undefined;
  if (!ca) return tdxFail("pck_chain_malformed", `the PCK certificate is issued by "${issuer.slice(0, 80)}", neither the PCK Platform CA nor the PCK Processor CA`);
  return ok({ fmspc: toHex(sgx.value.fmspc), ca, ppid: toHex(sgx.value.ppid) });
}
