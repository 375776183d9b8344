/** `signet entry create`: one registration entry, with spire-server's flags. */
import { err } from "../../lib/result";
import { defineCommand } from "../command";
import { usageError } from "../failure";
import { ENTRIES_PATH, ENTRY_FIELD_FLAGS, ENTRY_FIELD_USAGE, entryFieldsFromFlags, outputFlag, sendOneEntry } from "./entry-common";

const NAME = "entry create";

const USAGE = `Usage: signet entry create --spiffe-id ID (--parent-id ID | --node) --selector TYPE:VALUE... [options]

Create a registration entry. A workload entry is parented to an agent's ID (or a node entry's);
a node entry (--node) is parented to the server and selects agents by their node selectors.

Options:
  --entry-id ID           choose the entry's id (default: a random UUID)
${ENTRY_FIELD_USAGE}
  --server URL            the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help              show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 created, 1 the server refused (a duplicate, a loop, a bad field), 2 usage error, 3 network or bad answer.
`;

export const entryCreateCommand = defineCommand({
  name: NAME,
  summary: "create a registration entry",
  usage: USAGE,
  flags: { ...ENTRY_FIELD_FLAGS, "entry-id": { kind: "string" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const fields = entryFieldsFromFlags(flags, NAME);
    if (!fields.ok) return fields;
    if (fields.value.spiffe_id === undefined) return err(usageError("missing required flag --spiffe-id", NAME));
    if (fields.value.parent_id === undefined) return err(usageError("missing required flag --parent-id (or --node)", NAME));
    if (fields.value.selectors === undefined) return err(usageError("missing required flag --selector (at least one)", NAME));
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const entry = flags["entry-id"] === undefined ? fields.value : { id: flags["entry-id"], ...fields.value };
    return sendOneEntry(ctx, { token: token.value, path: ENTRIES_PATH, item: entry, done: "created", output: output.value });
  },
});
