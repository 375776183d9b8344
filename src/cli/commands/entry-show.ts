/** `signet entry show`: one registration entry by id. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { requireFlag } from "../values";
import { badAnswer, ENTRIES_PATH, formatEntry, isWireEntry, outputFlag, printJson } from "./entry-common";

const NAME = "entry show";

const USAGE = `Usage: signet entry show --entry-id ID [--output text|json]

Print one registration entry ('signet entry list' finds entries by SPIFFE ID, parent or selectors).

Options:
  --entry-id ID        the entry (required)
  --output text|json   text (as spire-server prints it) or the server's JSON (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 shown, 1 the server refused (no such entry), 2 usage error, 3 network or bad answer.
`;

export const entryShowCommand = defineCommand({
  name: NAME,
  summary: "show a registration entry",
  usage: USAGE,
  flags: { "entry-id": { kind: "string" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const id = requireFlag(flags["entry-id"], "entry-id", NAME);
    if (!id.ok) return id;
    const token = await ctx.adminToken();
    if (!token.ok) return token;
    const path = `${ENTRIES_PATH}/${encodeURIComponent(id.value)}`;
    const answer = await ctx.client.requestJson({ method: "GET", path, token: token.value });
    if (!answer.ok) return answer;
    if (!isWireEntry(answer.value)) return badAnswer(path, "not an entry");
    if (output.value === "json") printJson(ctx, answer.value);
    else ctx.io.stdout(formatEntry(answer.value));
    return ok(undefined);
  },
});
