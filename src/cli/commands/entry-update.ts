/**
 * `signet entry update`: change some fields of an entry. The update is compare-and-set on the
 * entry's revision number: given with --revision, or read from the server first, so a change made
 * by someone else in between is refused (revision_conflict) rather than overwritten.
 */
import { err, ok, type Result } from "../../lib/result";
import { defineCommand } from "../command";
import { oneLine, usageError, type CliFailure } from "../failure";
import { requireFlag } from "../values";
import { badAnswer, ENTRIES_PATH, ENTRY_FIELD_FLAGS, ENTRY_FIELD_USAGE, entryFieldsFromFlags, isWireEntry, outputFlag, sendOneEntry } from "./entry-common";

const NAME = "entry update";
const UPDATE_PATH = `${ENTRIES_PATH}/update`;

const USAGE = `Usage: signet entry update --entry-id ID [--revision N] [options]

Change the given fields of an entry; the others keep their value. Selectors, DNS names and
trust domains given replace the entry's lists.

Options:
  --entry-id ID           the entry to change (required)
  --revision N            the revision you read (default: the entry's current one, read first)
${ENTRY_FIELD_USAGE}
  --no-admin              clear the admin flag
  --no-downstream         clear the downstream flag
  --server URL            the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help              show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 updated, 1 the server refused (changed since read, no such entry, a bad field), 2 usage error, 3 network or bad answer.
`;

function revisionFlag(value: string | undefined): Result<number | undefined, CliFailure> {
  if (value === undefined) return ok(undefined);
  return /^[0-9]{1,15}$/.test(value) ? ok(Number(value)) : err(usageError(`--revision must be a whole number, not '${oneLine(value, 60)}'`, NAME));
}

export const entryUpdateCommand = defineCommand({
  name: NAME,
  summary: "change fields of a registration entry (compare-and-set)",
  usage: USAGE,
  flags: { ...ENTRY_FIELD_FLAGS, "entry-id": { kind: "string" }, revision: { kind: "string" }, "no-admin": { kind: "boolean" }, "no-downstream": { kind: "boolean" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const id = requireFlag(flags["entry-id"], "entry-id", NAME);
    if (!id.ok) return id;
    const revision = revisionFlag(flags.revision);
    if (!revision.ok) return revision;
    if (flags.admin && flags["no-admin"]) return err(usageError("--admin and --no-admin exclude each other", NAME));
    if (flags.downstream && flags["no-downstream"]) return err(usageError("--downstream and --no-downstream exclude each other", NAME));
    const fields = entryFieldsFromFlags(flags, NAME);
    if (!fields.ok) return fields;
    const changes = { ...fields.value, ...(flags["no-admin"] ? { admin: false } : {}), ...(flags["no-downstream"] ? { downstream: false } : {}) };
    if (Object.keys(changes).length === 0) return err(usageError("nothing to change: give at least one field flag", NAME));
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    let expected = revision.value;
    if (expected === undefined) {
      const path = `${ENTRIES_PATH}/${encodeURIComponent(id.value)}`;
      const current = await ctx.client.requestJson({ method: "GET", path, token: token.value });
      if (!current.ok) return current;
      const n = (current.value as { revision_number?: unknown }).revision_number;
      if (!isWireEntry(current.value) || typeof n !== "number" || !Number.isSafeInteger(n)) return badAnswer(path, "not an entry with a revision_number");
      expected = n;
    }
    return sendOneEntry(ctx, { token: token.value, path: UPDATE_PATH, item: { id: id.value, revision_number: expected, ...changes }, done: "updated", output: output.value });
  },
});
