/** `signet entry delete`: delete entries by id, each on its own (as SPIRE's BatchDeleteEntry). */
import { err, ok } from "../../lib/result";
import { defineCommand } from "../command";
import { failure, oneLine, usageError } from "../failure";
import { describeItemFailure, ENTRIES_PATH, outputFlag, printJson, readResults } from "./entry-common";

const NAME = "entry delete";
const DELETE_PATH = `${ENTRIES_PATH}/delete`;

const USAGE = `Usage: signet entry delete --entry-id ID... [--output text|json]

Delete registration entries. Each id is deleted or reported on its own.

Options:
  --entry-id ID        an entry to delete; repeat for more (required)
  --output text|json   text, or the server's JSON results (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 all deleted, 1 the server refused one or more (no such entry), 2 usage error, 3 network or bad answer.
`;

const MAX_IDS = 500;

export const entryDeleteCommand = defineCommand({
  name: NAME,
  summary: "delete registration entries",
  usage: USAGE,
  flags: { "entry-id": { kind: "list" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const ids = flags["entry-id"];
    if (ids === undefined) return err(usageError("missing required flag --entry-id", NAME));
    if (ids.length > MAX_IDS) return err(usageError(`at most ${MAX_IDS} --entry-id per call`, NAME));
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const answer = await ctx.client.requestJson({ method: "POST", path: DELETE_PATH, token: token.value, body: { ids } });
    if (!answer.ok) return answer;
    const results = readResults(answer.value, DELETE_PATH, ids.length);
    if (!results.ok) return results;
    if (output.value === "json") printJson(ctx, { results: results.value });
    const failed = results.value.map((r, i) => ({ r, id: ids[i]! })).filter(({ r }) => r.status !== "deleted");
    if (output.value === "text") {
      for (const [i, r] of results.value.entries()) if (r.status === "deleted") ctx.io.stdout(`Deleted entry ID ${oneLine(ids[i]!, 300)}\n`);
    }
    if (failed.length === 0) return ok(undefined);
    const first = failed[0]!;
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : "";
    return err(failure("rejected", `entry ${oneLine(first.id, 100)}: ${describeItemFailure(first.r)}${more}`));
  },
});
