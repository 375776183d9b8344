/** `signet federation delete`: end a federation relationship (its bundle is no longer served). */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { oneLine } from "../failure";
import { badAnswer } from "./entry-common";
import { federationPath, outputFlag, printJson, trustDomainFlag } from "./federation-common";

const NAME = "federation delete";

const USAGE = `Usage: signet federation delete --trust-domain TD [--output text|json]

Delete a federation relationship: the peer's bundle is no longer fetched nor given to workloads.

Options:
  --trust-domain TD    the relationship's trust domain (required)
  --output text|json   text, or the server's JSON (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 deleted, 1 the server refused (no such relationship), 2 usage error, 3 network or bad answer.
`;

export const federationDeleteCommand = defineCommand({
  name: NAME,
  summary: "delete a federation relationship",
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
    const answer = await ctx.client.requestJson({ method: "DELETE", path, token: token.value });
    if (!answer.ok) return answer;
    const body = answer.value as { trust_domain?: unknown; status?: unknown } | null;
    if (typeof body !== "object" || body === null || body.status !== "deleted") return badAnswer(path, "not a deletion result");
    if (output.value === "json") printJson(ctx, body);
    else ctx.io.stdout(`Deleted federation relationship with ${oneLine(td.value, 255)}\n`);
    return ok(undefined);
  },
});
