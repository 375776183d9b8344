/** `signet federation show`: one federation relationship and its bundle's state. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { badAnswer } from "./entry-common";
import { federationRequest, formatFederation, isWireFederation, printJson } from "./federation-common";

const NAME = "federation show";

const USAGE = `Usage: signet federation show --trust-domain TD [--output text|json]

Print a federation relationship: its endpoint, the last good bundle's sequence and keys, the last
fetch's error if it failed. --output json includes the bundle itself (trust_domain_bundle).

Options:
  --trust-domain TD    the relationship's trust domain (required)
  --output text|json   text, or the server's JSON (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 shown, 1 the server refused (no such relationship), 2 usage error, 3 network or bad answer.
`;

export const federationShowCommand = defineCommand({
  name: NAME,
  summary: "show a federation relationship and its bundle",
  usage: USAGE,
  flags: { "trust-domain": { kind: "string" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const r = await federationRequest(flags, ctx, NAME, { method: "GET" });
    if (!r.ok) return r;
    const { output, path, answer } = r.value;
    if (!isWireFederation(answer)) return badAnswer(path, "not a federation relationship");
    if (output === "json") printJson(ctx, answer);
    else ctx.io.stdout(formatFederation(answer));
    return ok(undefined);
  },
});
