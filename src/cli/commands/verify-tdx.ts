/**
 * `signet verify tdx`: verify an Intel TDX quote (v4/v5) offline against a collateral directory, at a
 * chosen time, optionally appraising it against a policy file. Prints one JSON object (see
 * verify-output.ts); exit 0 verified, 1 rejected, 2 usage. The quote goes to the attestation
 * contract (`verifierFor("tdx")`) in guest-components' JSON form, with the directory as its collateral.
 */
import { join } from "node:path";
import { err } from "../../lib/result";
import { verifierFor } from "../../lib/attestation";
import { appraiseTdx, parseTdxPolicy, parseTdxQuote, tdxEvidenceJson, TDX_COLLATERAL_FILES, type TdxPolicy } from "../../lib/attestation/tdx";
import { fromUtf8 } from "../../lib/encoding";
import { defineCommand } from "../command";
import { usageError } from "../failure";
import { fileCollateral } from "../file-collateral";
import { parseAt, parseBindingFlags, printOutcome, readInputFile } from "./verify-output";

const NAME = "verify tdx";

const USAGE = `Usage: signet verify tdx --quote FILE --collateral DIR [--at ISO8601] [--policy FILE]
                         [--report-data HEX] [--init-data-digest HEX]

Verify an Intel TDX DCAP quote (v4 or v5) against the pinned Intel SGX Root CA and a collateral
directory, and print one JSON object: {"ok":true,"tee":"tdx","claims":{…}} or
{"ok":false,"error":"<code>","detail":"…"}. Nothing is fetched: it works air-gapped.

Options:
  --quote FILE       the quote, binary
  --collateral DIR   a directory with ${Object.values(TDX_COLLATERAL_FILES).join(", ")}
  --at ISO8601       verification time, e.g. 2025-06-05T03:45:00Z (default: now)
  --policy FILE      a JSON policy to appraise the claims against (accepted_tcb_statuses, allow_debug,
                     require_sept_ve_disable, mr_td, rtmr0..rtmr3, mr_config_id, report_data, mr_service_td)
  --report-data HEX  the expected binding (e.g. the KBS runtime-data digest): REPORTDATA must be it
                     zero-padded to 64 bytes (default: no binding is checked)
  --init-data-digest HEX
                     the expected init-data digest: MRCONFIGID must be it zero-padded to 48 bytes
  -h, --help         show this help

Without --policy, a quote verifies when its signatures and collateral check out and it matches a
TCB level that is not Revoked; the TCB status is in the claims.
Exit status: 0 verified, 1 rejected, 2 usage error.
`;

const FLAGS = {
  quote: { kind: "string" },
  collateral: { kind: "string" },
  at: { kind: "string" },
  policy: { kind: "string" },
  "report-data": { kind: "string" },
  "init-data-digest": { kind: "string" },
} as const;

export const verifyTdxCommand = defineCommand({
  name: NAME,
  summary: "verify an Intel TDX quote offline",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const io = ctx.io;
    if (flags.quote === undefined) return err(usageError("missing required flag --quote", NAME));
    if (flags.collateral === undefined) return err(usageError("missing required flag --collateral", NAME));
    const now = parseAt(flags.at, () => Date.now(), NAME);
    if (!now.ok) return now;
    const binding = parseBindingFlags(flags, NAME);
    if (!binding.ok) return binding;

    let policy: TdxPolicy | undefined;
    if (flags.policy !== undefined) {
      const bytes = await readInputFile(io, flags.policy, "policy file", NAME, 1024 * 1024);
      if (!bytes.ok) return bytes;
      let doc: unknown;
      try {
        doc = JSON.parse(fromUtf8(bytes.value) ?? "");
      } catch {
        return err(usageError(`policy file ${flags.policy} is not JSON`, NAME));
      }
      const parsed = parseTdxPolicy(doc);
      if (!parsed.ok) return err(usageError(`policy file ${flags.policy}: ${parsed.error.detail}`, NAME));
      policy = parsed.value;
    }

    const quote = await readInputFile(io, flags.quote, "quote", NAME, 1024 * 1024);
    if (!quote.ok) return quote;
    const files: Record<string, Uint8Array> = {};
    for (const name of Object.values(TDX_COLLATERAL_FILES)) {
      const bytes = await readInputFile(io, join(flags.collateral, name), "collateral file", NAME, 1024 * 1024);
      if (!bytes.ok) return bytes;
      files[name] = bytes.value;
    }

    const parsed = parseTdxQuote(quote.value);
    if (!parsed.ok) return printOutcome(io, { ok: false, error: parsed.error.reason, detail: parsed.error.detail });
    const verifier = verifierFor("tdx", { collateral: fileCollateral({ tdx: files }), allowSample: false });
    const verified = await verifier.verify({
      evidence: tdxEvidenceJson(quote.value),
      // Without --report-data no binding is checked: the quote's own REPORTDATA is expected.
      expectedReportData: binding.value.reportData ?? parsed.value.body.reportData,
      expectedInitDataDigest: binding.value.initDataDigest,
      now: now.value,
    });
    if (!verified.ok) return printOutcome(io, { ok: false, error: verified.error.reason, detail: verified.error.detail });
    const claims = verified.value.evidenceClaims;
    if (policy) {
      const appraisal = appraiseTdx(claims, policy);
      if (!appraisal.ok) return printOutcome(io, { ok: false, error: appraisal.error.reason, detail: appraisal.error.detail });
    }
    return printOutcome(io, { ok: true, tee: "tdx", claims });
  },
});
