/** `signet federation show`: one federation relationship and its bundle's state. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { badAnswer } from "./entry-common";
import { federationPath, formatFederation, isWireFederation, outputFlag, printJson, trustDomainFlag } from "./federation-common";

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
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const td = trustDomainFlag(flags["trust-domain"], NAME);
    if (!td.ok) return td;
    const token = await ctx.adminToken();
    if (!token.ok) return token;
    const path = federationPath(td.value);
    const answer = await ctx.client.requestJson({ method: "GET", path, token: token.value });
    if (!answer.ok) return answer;
    if (!isWireFederation(answer.value)) return badAnswer(path, "not a federation relationship");
    if (output.value === "json") printJson(ctx, answer.value);
    else ctx.io.stdout(formatFederation(answer.value));
    return ok(undefined);
  },
});
