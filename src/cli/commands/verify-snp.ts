/**
 * `signet verify snp`: verify an AMD SEV-SNP attestation report offline, to AMD's pinned roots, and
 * optionally appraise it against a policy. Prints one JSON object (see verify-output.ts); never
 * touches the network.
 */
import { CERT_TABLE_GUIDS, parseCertTable } from "../../lib/attestation/collateral/snp-cert-table";
import { fromPemAll, fromUtf8 } from "../../lib/encoding";
import { err, ok, type Result } from "../../lib/result";
import { appraiseSnp, parseSnpPolicy, type ValidatedSnpPolicy } from "../../lib/attestation/snp/policy";
import { parseSnpReport } from "../../lib/attestation/snp/report";
import { verifySnpEvidence } from "../../lib/attestation/snp/verify";
import { commonName, parseCertificate } from "../../lib/x509/cert-reader";
import { defineCommand, type CliIo } from "../command";
import { oneLine, usageError, type CliFailure } from "../failure";
import { parseAt, printOutcome, readInputFile } from "./verify-output";

const NAME = "verify snp";

const USAGE = `Usage: signet verify snp --report FILE [--vcek FILE | --cert-table FILE] [--crl FILE] [--at ISO8601] [--policy FILE]

Verify an AMD SEV-SNP attestation report (Milan, Genoa, Turin; VCEK or VLEK) to AMD's roots pinned
in Signet, offline, and print one JSON object on stdout:
  {"ok":true,"tee":"snp","claims":{...}}  or  {"ok":false,"error":"<code>","detail":"..."}

Options:
  --report FILE    the raw 1184-byte ATTESTATION_REPORT (required)
  --vcek FILE      the VCEK or VLEK certificate that signed it, DER or PEM (required to verify:
                   from the AMD KDS or the guest's certificate table)
  --cert-table FILE
                   the certificate table of an extended guest request (GUID-indexed; the guest's
                   own VCEK or VLEK, for air-gapped verification); its ASK/ARK are ignored: the
                   roots are pinned
  --crl FILE       AMD's CRL for the product and the signer's chain, DER or PEM: kdsintf.amd.com/vcek/v1/<Product>/crl
                   for a VCEK-signed report, /vlek/v1/<Product>/crl for a VLEK-signed one
  --at ISO8601     verification time, e.g. 2025-01-16T21:21:54Z (default: now)
  --policy FILE    a JSON policy to appraise the claims against, e.g.
                   {"allow_debug":false,"min_tcb":{"snp":8},"measurements":["<96 hex>"],"max_vmpl":0}
                   (fields: allow_debug, allow_migrate_ma, min_tcb, measurements, host_data,
                   report_data, max_vmpl, min_guest_svn)
  -h, --help       show this help

Exit status: 0 verified (and allowed by the policy), 1 rejected, 2 usage error.
`;

const FLAGS = {
  report: { kind: "string" },
  vcek: { kind: "string" },
  "cert-table": { kind: "string" },
  crl: { kind: "string" },
  at: { kind: "string" },
  policy: { kind: "string" },
} as const;

export const verifySnpCommand = defineCommand({
  name: NAME,
  summary: "verify an AMD SEV-SNP report offline",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const io = ctx.io;
    if (flags.report === undefined) return err(usageError("missing required flag --report", NAME));
    const now = parseAt(flags.at, () => Date.now(), NAME);
    if (!now.ok) return now;
    const policy = flags.policy === undefined ? ok(undefined) : await readPolicy(io, flags.policy);
    if (!policy.ok) return policy;
    const report = await readInputFile(io, flags.report, "report", NAME);
    if (!report.ok) return report;
    if (flags.vcek !== undefined && flags["cert-table"] !== undefined) return err(usageError("use --vcek or --cert-table, not both", NAME));
    let vcek = flags.vcek === undefined ? undefined : await readInputFile(io, flags.vcek, "certificate", NAME);
    if (vcek && !vcek.ok) return vcek;
    if (flags["cert-table"] !== undefined) {
      const table = await readInputFile(io, flags["cert-table"], "certificate table", NAME);
      if (!table.ok) return table;
      const entries = parseCertTable(table.value);
      if (!entries.ok) return printOutcome(io, { ok: false, error: entries.error.reason, detail: entries.error.detail });
      const ek = entries.value.get(CERT_TABLE_GUIDS.vcek) ?? entries.value.get(CERT_TABLE_GUIDS.vlek);
      if (!ek) return printOutcome(io, { ok: false, error: "missing_endorsement_key", detail: "the certificate table holds neither a VCEK nor a VLEK entry" });
      vcek = ok(ek);
    }
    const crl = flags.crl === undefined ? undefined : await readInputFile(io, flags.crl, "CRL", NAME);
    if (crl && !crl.ok) return crl;

    if (!vcek) {
      const parsed = parseSnpReport(report.value);
      if (!parsed.ok) return printOutcome(io, { ok: false, error: parsed.error.reason, detail: parsed.error.detail });
      const kind = parsed.value.signingKey === "vlek" ? "VLEK" : "VCEK";
      return printOutcome(io, {
        ok: false,
        error: "missing_endorsement_key",
        detail: `the report alone cannot be verified offline: pass the ${kind} that signed it with --vcek (from the AMD KDS or the guest's certificate table)`,
      });
    }

    const endorsementCert = derOrPem(vcek.value, "CERTIFICATE");
    if (!endorsementCert) return printOutcome(io, { ok: false, error: "malformed_endorsement_cert", detail: `${flags.vcek} is PEM without a readable CERTIFICATE block` });
    const crlDer = crl ? derOrPem(crl.value, "X509 CRL") : undefined;
    if (crl && !crlDer) return printOutcome(io, { ok: false, error: "malformed_crl", detail: `${flags.crl} is PEM without a readable X509 CRL block` });
    const verified = await verifySnpEvidence({ report: report.value, endorsementCert, ...(crlDer ? { crl: crlDer } : {}), now: now.value });
    if (!verified.ok) return printOutcome(io, { ok: false, error: verified.error.reason, detail: verified.error.detail });
    if (policy.value) {
      const appraisal = appraiseSnp(verified.value, policy.value);
      if (!appraisal.ok) return printOutcome(io, { ok: false, error: appraisal.error.reason, detail: appraisal.error.detail });
    }
    return printOutcome(io, { ok: true, tee: "snp", claims: verified.value });
  },
});

/**
 * PEM input (text starting with `-----BEGIN`) → DER of one block with `label`; anything else is
 * taken as DER. For certificates, a bundle such as Azure THIM's (VCEK, ASK, ARK) or a KDS chain
 * with the VCEK appended yields the block whose subject is SEV-VCEK or SEV-VLEK (the others are
 * ignored: the roots are pinned), else the first. PEM without such a block is undefined: rejected
 * evidence, not a usage error.
 */
function derOrPem(bytes: Uint8Array, label: string): Uint8Array | undefined {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  if (fromUtf8(bytes.subarray(i, i + 10)) !== "-----BEGIN") return bytes;
  const text = fromUtf8(bytes);
  const blocks = text === undefined ? undefined : fromPemAll(text, label);
  if (!blocks || blocks.length === 0) return undefined;
  if (label !== "CERTIFICATE") return blocks[0];
  const isEndorsementKey = (der: Uint8Array) => {
    const c = parseCertificate(der);
    const cn = c.ok ? commonName(c.value.subject) : undefined;
    return cn === "SEV-VCEK" || cn === "SEV-VLEK";
  };
  return blocks.find(isEndorsementKey) ?? blocks[0];
}

async function readPolicy(io: CliIo, path: string): Promise<Result<ValidatedSnpPolicy, CliFailure>> {
  const file = await readInputFile(io, path, "policy", NAME, 1024 * 1024);
  if (!file.ok) return file;
  const text = fromUtf8(file.value);
  let json: unknown;
  try {
    json = JSON.parse(text ?? "");
  } catch {
    return err(usageError(`policy ${path} is not valid JSON`, NAME));
  }
  const policy = parseSnpPolicy(json);
  if (!policy.ok) return err(usageError(`policy ${path}: ${oneLine(policy.error.detail, 200)}`, NAME));
  return ok(policy.value);
}
