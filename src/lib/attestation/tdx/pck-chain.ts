/**
 * The PCK certificate chain carried in the quote (certification data type 5, specs/tdx.md §3 step 3):
 * exactly three PEM certificates — "Intel SGX PCK Certificate" ← "Intel SGX PCK Platform/Processor
 * CA" ← "Intel SGX Root CA" — verified to the trust anchor. The leaf must hold a P-256 key (it signs
 * the QE report) and the SGX extension (FMSPC, PCE-ID, TCB), which TCB Info matching needs.
 *
 * Like `checkCollateral`, the result holds no time verdict (only `validity`) and no revocation verdict
 * (the CRLs belong to the collateral), so the verifier can cache it per chain-bytes digest.
 */
import { ok, type Result } from "../../result";
import { parsePemCertificates, type ParsedCertificate } from "../../x509/cert-reader";
import { certificateWindows, validity, verifyChain, type Validity } from "./cert-chain";
import { tdxFail, type TdxFailure } from "./errors";
import { importP256Spki } from "./p256";
import { OID_SGX_EXTENSION, readSgxExtension, type SgxExtension } from "./sgx-extension";

export interface CheckedPckChain {
  readonly leaf: ParsedCertificate;
  readonly intermediate: ParsedCertificate;
  readonly sgx: SgxExtension;
  /** The PCK leaf's key: it signs the QE report. */
  readonly pckKey: CryptoKey;
  readonly validity: Validity;
}

const PCK_CHAIN = ["SGX PCK Certificate", "CA", "SGX Root CA"] as const;

export function readPckChain(pem: Uint8Array): Result<ParsedCertificate[], TdxFailure> {
  const certs = parsePemCertificates(pem, PCK_CHAIN.length);
  if (!certs.ok) return tdxFail("pck_chain_malformed", `PCK chain: ${certs.error}`);
  if (certs.value.length !== PCK_CHAIN.length) return tdxFail("pck_chain_malformed", `the PCK chain has ${certs.value.length} certificates; expected leaf, PCK CA and root`);
  return certs;
}

export async function checkPckChain(pem: Uint8Array, anchor: ParsedCertificate): Promise<Result<CheckedPckChain, TdxFailure>> {
  const chain = readPckChain(pem);
  if (!chain.ok) return chain;
  const [leaf, intermediate] = chain.value as [ParsedCertificate, ParsedCertificate, ParsedCertificate];
  const path = await verifyChain(chain.value, PCK_CHAIN, anchor);
  if (!path.ok) return tdxFail("pck_chain_untrusted", `PCK chain: ${path.error}`);
  const ext = leaf.extensions.get(OID_SGX_EXTENSION);
  if (!ext) return tdxFail("pck_chain_malformed", "the PCK certificate has no SGX extension");
  const sgx = readSgxExtension(ext.value);
  if (!sgx.ok) return tdxFail("pck_chain_malformed", `the PCK certificate's SGX extension: ${sgx.error}`);
  const pckKey = await importP256Spki(leaf.spki);
  if (!pckKey) return tdxFail("pck_chain_malformed", "the PCK certificate's key is not ECDSA P-256");
  return ok({
    leaf,
    intermediate,
    sgx: sgx.value,
    pckKey,
    validity: validity(certificateWindows(chain.value, "pck_chain_expired", "pck_chain_not_yet_valid")),
  });
}
