/** `signet federation delete`: end a federation relationship (its bundle is no longer served). */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { oneLine } from "../failure";
import { badAnswer } from "./entry-common";
import { federationRequest, printJson } from "./federation-common";

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
    const r = await federationRequest(flags, ctx, NAME, { method: "DELETE" });
    if (!r.ok) return r;
    const { output, path, trustDomain } = r.value;
    const body = r.value.answer as { trust_domain?: unknown; status?: unknown } | null;
    if (typeof body !== "object" || body === null || body.status !== "deleted") return badAnswer(path, "not a deletion result");
    if (output === "json") printJson(ctx, body);
    else ctx.io.stdout(`Deleted federation relationship with ${oneLine(trustDomain, 255)}\n`);
    return ok(undefined);
  },
});
