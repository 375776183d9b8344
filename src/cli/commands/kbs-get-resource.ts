/**
 * `signet kbs get-resource`: fetch one secret from a key broker as a guest does, with the whole RCAR
 * handshake (lib/kbs/guest.ts, the code the agent runs too) and evidence from the sample attester or
 * configfs-tsm, and print its plaintext bytes (or write them to a file, mode 0600). No admin token.
 */
import { basename, dirname, resolve } from "node:path";
import { GUEST_TEES, getResource, parseResourceUri, runHandshake, type Attester, type GuestError, type GuestTee } from "../../lib/kbs/guest";
import type { TeeKeyAlgorithm } from "../../lib/kbs/resource-jwe";
import { err, ok, type Result } from "../../lib/result";
import { sampleAttester } from "../../node/attesters/sample";
import { DEFAULT_TSM_REPORT_DIR, detectTsmTee, tsmAttester } from "../../node/attesters/tsm";
import { defineCommand, type CliIo } from "../command";
import { failure, oneLine, usageError, type CliFailure, type FailureReason } from "../failure";
import { writeFilesAtomically } from "../../node/files";
import { oneOfFlag } from "../values";

const NAME = "kbs get-resource";
const KEY_ALGORITHMS = ["ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521", "RSA-OAEP-256"] as const satisfies readonly TeeKeyAlgorithm[];

const USAGE = `Usage: signet kbs get-resource <kbs:///repo/type/tag | repo/type/tag> [--tee sample|snp|tdx]
                                [--key-algorithm ALG] [--tsm-dir DIR] [--output FILE]

Fetch a secret from the key broker as a confidential guest does (Trustee RCAR 0.4.0): POST
/kbs/v0/auth, evidence bound to the nonce and a fresh TEE key, POST /kbs/v0/attest, then GET
/kbs/v0/resource/<repo>/<type>/<tag>, decrypted with the TEE key. The plaintext bytes go to stdout
as they are (no newline added), or to --output. A 401 from the resource re-runs the handshake (3
attempts in all, as guest-components); a 404 stops. No admin token is used.

The resource URI is kbs:///<repo>/<type>/<tag> (host and port ignored, kbs+resource:// accepted, a
?query passed on), or just <repo>/<type>/<tag>.

Options:
  --tee TEE            sample: development evidence anyone can make (accepted only by a permissive
                       key broker); snp or tdx: the hardware's report through configfs-tsm (root)
                       (default: the TEE configfs-tsm names)
  --key-algorithm ALG  the TEE key: ${KEY_ALGORITHMS.join(", ")}
                       (default ECDH-ES+A256KW-P256)
  --tsm-dir DIR        the configfs-tsm report directory (default ${DEFAULT_TSM_REPORT_DIR})
  --output FILE        write the plaintext to FILE (mode 0600, replaced atomically) instead of stdout
  --server URL         the key broker (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

Exit codes: 0 fetched, 1 the key broker refused (its error type and detail are shown), 2 usage
error, 3 key broker unreachable or its answer unusable, or no evidence (no configfs-tsm, not root).
`;

const FLAGS = {
  tee: { kind: "string" },
  "key-algorithm": { kind: "string" },
  "tsm-dir": { kind: "string" },
  output: { kind: "string" },
} as const;

export const kbsGetResourceCommand = defineCommand({
  name: NAME,
  summary: "fetch a secret from the key broker as a guest (RCAR handshake)",
  usage: USAGE,
  flags: FLAGS,
  positionals: ["URI"],
  async run(flags, ctx, [uri]) {
    const resource = parseResourceUri(uri!);
    if (!resource.ok) return err(usageError(resource.error.detail, NAME));
    const tee = oneOfFlag(flags.tee, "tee", GUEST_TEES, undefined, NAME);
    if (!tee.ok) return tee;
    const keyAlgorithm = oneOfFlag(flags["key-algorithm"], "key-algorithm", KEY_ALGORITHMS, "ECDH-ES+A256KW-P256", NAME);
    if (!keyAlgorithm.ok) return keyAlgorithm;
    if (tee.value === "sample" && flags["tsm-dir"] !== undefined) return err(usageError("--tsm-dir applies to --tee snp or tdx, not sample", NAME));
    const attester = await chooseAttester(ctx.io, tee.value, flags["tsm-dir"]);
    if (!attester.ok) return attester;

    const endpoint = { server: ctx.client.server, fetch: ctx.io.fetch };
    const plain = await getResource({
      ...endpoint,
      path: resource.value.path,
      ...(resource.value.query === undefined ? {} : { query: resource.value.query }),
      handshake: () => runHandshake({ ...endpoint, attester: attester.value, keyAlgorithm: keyAlgorithm.value! }),
    });
    if (!plain.ok) return err(describeGuestError(plain.error));

    if (flags.output === undefined) {
      ctx.io.stdoutBytes(plain.value);
      return ok(undefined);
    }
    const path = resolve(ctx.io.cwd, flags.output);
    const written = await writeFilesAtomically(dirname(path), [{ name: basename(path), contents: plain.value, mode: 0o600 }]);
    if (!written.ok) return err(failure("local", `cannot write ${written.error.path}: ${written.error.message}`));
    return ok(undefined);
  },
});

/** The attester for `--tee`; without it, the TEE configfs-tsm names (and a hint towards sample). */
async function chooseAttester(io: CliIo, tee: GuestTee | undefined, tsmDir: string | undefined): Promise<Result<Attester, CliFailure>> {
  if (tee === "sample") return ok(sampleAttester);
  const root = tsmDir === undefined ? undefined : resolve(io.cwd, tsmDir);
  const options = { ...(root === undefined ? {} : { root }), warn: (m: string) => io.stderr(`signet: warning: ${m}\n`) };
  if (tee !== undefined) return ok(tsmAttester({ ...options, tee }));
  const detected = await detectTsmTee(options);
  if (!detected.ok) {
    const hint = "; pass --tee sample for development evidence (accepted only by a permissive key broker)";
    return err(failure("unreadable", `no TEE found: ${detected.error.detail}${detected.error.reason === "evidence_unavailable" ? hint : ""}`));
  }
  return ok(tsmAttester({ ...options, tee: detected.value }));
}

const EXIT_REASON: Readonly<Record<GuestError["reason"], FailureReason>> = {
  kbs_refused: "rejected",
  resource_not_found: "rejected",
  kbs_unreachable: "unreachable",
  kbs_bad_response: "bad_response",
  evidence_unavailable: "unreadable",
  tee_mismatch: "unreadable",
  evidence_conflict: "unreadable",
  evidence_malformed: "unreadable",
  bad_resource_uri: "usage",
};

const STEP: Readonly<Record<NonNullable<GuestError["step"]>, string>> = {
  auth: "the handshake (/kbs/v0/auth)",
  attest: "the attestation (/kbs/v0/attest)",
  resource: "the resource",
};

/** One line: for a refusal, `the key broker refused <step>: <Variant>: <detail> (HTTP n[, after n attempts])`. */
function describeGuestError(e: GuestError): CliFailure {
  const reason = EXIT_REASON[e.reason];
  const detail = oneLine(e.detail);
  if (e.reason !== "kbs_refused" && e.reason !== "resource_not_found") return failure(reason, detail);
  const what = e.kbsType === undefined ? detail : `${oneLine(e.kbsType, 100)}: ${detail}`;
  const tags = [e.status === undefined ? undefined : `HTTP ${e.status}`, (e.attempts ?? 1) > 1 ? `after ${e.attempts} attempts` : undefined].filter((t) => t !== undefined);
  const step = e.step === undefined ? "the request" : STEP[e.step];
  return failure(reason, `the key broker refused ${step}: ${what}${tags.length > 0 ? ` (${tags.join(", ")})` : ""}`);
}
