/**
 * `signet verify tdx`: verify an Intel TDX quote (v4/v5) offline against a collateral directory, at a
 * chosen time, optionally appraising it against a policy file. Prints one JSON object (see
 * verify-output.ts); exit 0 verified, 1 rejected, 2 usage.
 */
import { join } from "node:path";
import { err } from "../../lib/result";
import { parseTdxCollateral, TDX_COLLATERAL_FILES } from "../../lib/attestation/tdx/collateral";
import { appraiseTdx, parseTdxPolicy, type TdxPolicy } from "../../lib/attestation/tdx/policy";
import { TdxVerifier } from "../../lib/attestation/tdx/verify";
import { fromUtf8 } from "../../lib/encoding";
import { defineCommand } from "../command";
import { usageError } from "../failure";
import { parseAt, printOutcome, readInputFile } from "./verify-output";

const NAME = "verify tdx";

const USAGE = `Usage: signet verify tdx --quote FILE --collateral DIR [--at ISO8601] [--policy FILE]

Verify an Intel TDX DCAP quote (v4 or v5) against the pinned Intel SGX Root CA and a collateral
directory, and print one JSON object: {"ok":true,"tee":"tdx","claims":{…}} or
{"ok":false,"error":"<code>","detail":"…"}. Nothing is fetched: it works air-gapped.

Options:
  --quote FILE       the quote, binary
  --collateral DIR   a directory with ${Object.values(TDX_COLLATERAL_FILES).join(", ")}
  --at ISO8601       verification time, e.g. 2025-06-05T03:45:00Z (default: now)
  --policy FILE      a JSON policy to appraise the claims against (accepted_tcb_statuses, allow_debug,
                     require_sept_ve_disable, mr_td, rtmr0..rtmr3, mr_config_id, report_data, mr_service_td)
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

    const collateral = await parseTdxCollateral(files);
    if (!collateral.ok) return printOutcome(io, { ok: false, error: collateral.error.reason, detail: collateral.error.detail });
    const verified = await new TdxVerifier().verify({ quote: quote.value, collateral: collateral.value, now: now.value });
    if (!verified.ok) return printOutcome(io, { ok: false, error: verified.error.reason, detail: verified.error.detail });
    if (policy) {
      const appraisal = appraiseTdx(verified.value, policy);
      if (!appraisal.ok) return printOutcome(io, { ok: false, error: appraisal.error.reason, detail: appraisal.error.detail });
    }
    return printOutcome(io, { ok: true, tee: "tdx", claims: verified.value });
  },
});
