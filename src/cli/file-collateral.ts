/**
 * The CLI's CollateralProvider: what the user named on the command line (`--vcek`, `--crl`,
 * `--collateral DIR`), read before verification starts. It answers every request with those files,
 * whatever chip, TCB, FMSPC or CA is asked for: the verifier checks that they fit the evidence. It
 * never touches the network. Without `--crl` it has no `snpCrl`, so no revocation check is made.
 */
import type { CollateralProvider } from "../lib/attestation";
import { err, ok } from "../lib/result";

export interface CollateralFiles {
  /** The VCEK or VLEK, DER or PEM. */
  readonly vcek?: Uint8Array | undefined;
  /** AMD's CRL for the product and chain, DER or PEM. */
  readonly crl?: Uint8Array | undefined;
  /** The TDX collateral directory: file name → bytes. */
  readonly tdx?: Readonly<Record<string, Uint8Array>> | undefined;
}

const missing = (flag: string) => err({ reason: "collateral_unavailable" as const, detail: `no ${flag} was given` });

export function fileCollateral(files: CollateralFiles): CollateralProvider {
  const { vcek, crl, tdx } = files;
  return {
    snpVcek: async () => (vcek ? ok({ der: vcek }) : missing("--vcek")),
    ...(crl ? { snpCrl: async () => ok({ der: crl }) } : {}),
    tdxCollateral: async () => (tdx ? ok({ files: tdx }) : missing("--collateral")),
  };
}
