/**
 * `signet verify snp`: verify an AMD SEV-SNP attestation report offline, to AMD's pinned roots, and
 * optionally appraise it against a policy. Prints one JSON object (see verify-output.ts); never
 * touches the network. The report is handed to the attestation contract (`verifierFor("snp")`) in
 * the JSON form guest-components sends, with the files as its collateral, so the CLI and the key
 * broker run the same evidence logic.
 */
import { verifierFor } from "../../lib/attestation";
import { CERT_TABLE_GUIDS, parseCertTable } from "../../lib/attestation/collateral/snp-cert-table";
import { appraiseSnp, parseSnpPolicy, parseSnpReport, snpEvidenceJson, type SnpCertChainEntry, type ValidatedSnpPolicy } from "../../lib/attestation/snp";
import { fromUtf8 } from "../../lib/encoding";
import { err, ok, type Result } from "../../lib/result";
import { defineCommand, type CliIo } from "../command";
import { oneLine, usageError, type CliFailure } from "../failure";
import { fileCollateral } from "../file-collateral";
import { parseAt, parseBindingFlags, printOutcome, readInputFile } from "./verify-output";

const NAME = "verify snp";

const USAGE = `Usage: signet verify snp --report FILE [--vcek FILE | --cert-table FILE] [--crl FILE] [--at ISO8601] [--policy FILE]
                         [--report-data HEX] [--init-data-digest HEX]

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
  --report-data HEX
                   the expected binding (e.g. the KBS runtime-data digest): REPORT_DATA must be it
                   zero-padded to 64 bytes (default: no binding is checked)
  --init-data-digest HEX
                   the expected init-data digest: HOST_DATA must be it zero-padded to 32 bytes
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
  "report-data": { kind: "string" },
  "init-data-digest": { kind: "string" },
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
    const binding = parseBindingFlags(flags, NAME);
    if (!binding.ok) return binding;
    const policy = flags.policy === undefined ? ok(undefined) : await readPolicy(io, flags.policy);
    if (!policy.ok) return policy;
    const report = await readInputFile(io, flags.report, "report", NAME);
    if (!report.ok) return report;
    if (flags.vcek !== undefined && flags["cert-table"] !== undefined) return err(usageError("use --vcek or --cert-table, not both", NAME));
    const vcek = flags.vcek === undefined ? undefined : await readInputFile(io, flags.vcek, "certificate", NAME);
    if (vcek && !vcek.ok) return vcek;
    let certChain: SnpCertChainEntry[] | null = null;
    if (flags["cert-table"] !== undefined) {
      const table = await readInputFile(io, flags["cert-table"], "certificate table", NAME);
      if (!table.ok) return table;
      const entries = parseCertTable(table.value);
      if (!entries.ok) return printOutcome(io, { ok: false, error: entries.error.reason, detail: entries.error.detail });
      if (!entries.value.has(CERT_TABLE_GUIDS.vcek) && !entries.value.has(CERT_TABLE_GUIDS.vlek)) {
        return printOutcome(io, { ok: false, error: "missing_endorsement_key", detail: "the certificate table holds neither a VCEK nor a VLEK entry" });
      }
      certChain = [...entries.value].map(([guid, data]) => ({ certType: CERT_TYPES[guid] ?? "OTHER", data }));
    }
    const crl = flags.crl === undefined ? undefined : await readInputFile(io, flags.crl, "CRL", NAME);
    if (crl && !crl.ok) return crl;

    const parsed = parseSnpReport(report.value);
    if (!parsed.ok) return printOutcome(io, { ok: false, error: parsed.error.reason, detail: parsed.error.detail });
    if (!vcek && !certChain) {
      const kind = parsed.value.signingKey === "vlek" ? "VLEK" : "VCEK";
      return printOutcome(io, {
        ok: false,
        error: "missing_endorsement_key",
        detail: `the report alone cannot be verified offline: pass the ${kind} that signed it with --vcek (from the AMD KDS or the guest's certificate table)`,
      });
    }

    // The report travels as guest-components sends it, so the evidence logic is the key broker's. A
    // VCEK comes from the (file-backed) collateral provider; a VLEK only ever comes with the evidence
    // (KDS does not serve VLEKs), so --vcek naming one goes into cert_chain.
    const vlek = vcek && parsed.value.signingKey === "vlek";
    if (vlek) certChain = [{ certType: "VLEK", data: vcek.value }];
    const evidence = snpEvidenceJson(parsed.value, certChain);
    if (!evidence.ok) return printOutcome(io, { ok: false, error: evidence.error.reason, detail: evidence.error.detail });
    const collateral = fileCollateral({ vcek: vlek ? undefined : vcek?.value, crl: crl?.value });
    const verifier = verifierFor("snp", { collateral, allowSample: false });
    const verified = await verifier.verify({
      evidence: evidence.value,
      // Without --report-data no binding is checked: the report's own REPORT_DATA is expected.
      expectedReportData: binding.value.reportData ?? parsed.value.reportData,
      expectedInitDataDigest: binding.value.initDataDigest,
      now: now.value,
    });
    if (!verified.ok) return printOutcome(io, { ok: false, error: verified.error.reason, detail: verified.error.detail });
    const claims = verified.value.evidenceClaims;
    if (policy.value) {
      const appraisal = appraiseSnp(claims, policy.value);
      if (!appraisal.ok) return printOutcome(io, { ok: false, error: appraisal.error.reason, detail: appraisal.error.detail });
    }
    return printOutcome(io, { ok: true, tee: "snp", claims });
  },
});

/** Certificate table GUID → the `cert_type` guest-components gives the entry. */
const CERT_TYPES: Readonly<Record<string, string>> = {
  [CERT_TABLE_GUIDS.vcek]: "VCEK",
  [CERT_TABLE_GUIDS.vlek]: "VLEK",
  [CERT_TABLE_GUIDS.ask]: "ASK",
  [CERT_TABLE_GUIDS.ark]: "ARK",
};

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
