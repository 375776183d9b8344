/**
 * `signet bundle show`: the trust bundle from the public `/bundle` endpoint (no token needed),
 * either as PEM X.509 authorities or as the SPIFFE bundle document itself.
 */
import { toPem } from "../../lib/encoding";
import { err, ok } from "../../lib/result";
import { defineCommand } from "../command";
import { failure } from "../failure";
import { decodeDerList, oneOfFlag } from "../values";

const NAME = "bundle show";
const PATH = "bundle";
const FORMATS = ["pem", "spiffe"] as const;

const USAGE = `Usage: signet bundle show [--format pem|spiffe]

Print the trust domain's bundle, as served at /bundle (no admin token needed).

Options:
  --format FORMAT   pem: the X.509 authorities as PEM certificates (default)
                    spiffe: the SPIFFE bundle JSON document, pretty-printed
  --server URL      the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help        show this help
`;

const FLAGS = { format: { kind: "string" } } as const;

export const bundleShowCommand = defineCommand({
  name: NAME,
  summary: "print the trust bundle (X.509 authorities or SPIFFE JSON)",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const format = oneOfFlag(flags.format, "format", FORMATS, "pem", NAME);
    if (!format.ok) return format;

    const answer = await ctx.client.requestJson({ method: "GET", path: PATH });
    if (!answer.ok) return answer;
    const doc = answer.value;
    const keys = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>).keys : undefined;
    if (!Array.isArray(keys)) return err(failure("bad_response", "unexpected answer from /bundle: not a SPIFFE bundle (no keys list)"));

    if (format.value === "spiffe") {
      ctx.io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
      return ok(undefined);
    }

    let pem = "";
    for (const key of keys) {
      if (typeof key !== "object" || key === null || (key as Record<string, unknown>).use !== "x509-svid") continue;
      const x5c = decodeDerList((key as Record<string, unknown>).x5c);
      if (!x5c || x5c.length === 0) {
        return err(failure("bad_response", "unexpected answer from /bundle: an x509-svid key has no valid x5c certificate"));
      }
      for (const der of x5c) pem += toPem("CERTIFICATE", der);
    }
    if (pem === "") ctx.io.stderr("signet: the bundle has no X.509 authorities\n");
    ctx.io.stdout(pem);
    return ok(undefined);
  },
});
