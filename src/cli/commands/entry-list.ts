/** `signet entry list`: every entry matching the filters, following the server's pages to the end. */
import { err, ok } from "../../lib/result";
import { parseSelector } from "../../lib/registry/selectors";
import { defineCommand } from "../command";
import { oneLine, usageError } from "../failure";
import { oneOfFlag } from "../values";
import { ENTRIES_PATH, fetchAllPages, formatEntry, isWireEntry, MAX_PAGE_SIZE, outputFlag, pageSizeFlag, printJson } from "./entry-common";

const NAME = "entry list";
const MATCHES = ["exact", "subset", "superset", "any"] as const;

const USAGE = `Usage: signet entry list [--spiffe-id ID] [--parent-id ID] [--selector TYPE:VALUE... [--match M]]
                         [--federates-with TD...] [--hint TEXT] [--downstream] [--page-size N] [--output text|json]

Print the registration entries that match every filter given (all entries without filters).

Options:
  --spiffe-id ID          entries with this SPIFFE ID
  --parent-id ID          entries with this parent
  --selector TYPE:VALUE   a selector to match; repeat for more
  --match M               how the selectors match: ${MATCHES.join(", ")} (default superset: the entry has them all)
  --federates-with TD     entries federating with this trust domain; repeat for more (all must hold)
  --hint TEXT             entries with this hint
  --downstream            only downstream entries
  --page-size N           entries per request (1-${MAX_PAGE_SIZE}, default ${MAX_PAGE_SIZE}); every page is fetched
  --output text|json      text (as spire-server prints it) or {"entries": [...]} (default text)
  --server URL            the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help              show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 listed (even none), 1 the server refused, 2 usage error, 3 network or bad answer.
`;

const FLAGS = {
  "spiffe-id": { kind: "string" },
  "parent-id": { kind: "string" },
  selector: { kind: "list" },
  match: { kind: "string" },
  "federates-with": { kind: "list" },
  hint: { kind: "string" },
  downstream: { kind: "boolean" },
  "page-size": { kind: "string" },
  output: { kind: "string" },
} as const;



export const entryListCommand = defineCommand({
  name: NAME,
  summary: "list registration entries (filters, every page)",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const match = oneOfFlag(flags.match, "match", MATCHES, undefined, NAME);
    if (!match.ok) return match;
    if (match.value !== undefined && flags.selector === undefined) return err(usageError("--match needs at least one --selector", NAME));
    for (const text of flags.selector ?? []) {
      const s = parseSelector(text);
      if (!s.ok) return err(usageError(`--selector '${oneLine(text, 100)}': ${s.error.detail}`, NAME));
    }
    const pageSize = pageSizeFlag(flags["page-size"], NAME);
    if (!pageSize.ok) return pageSize;
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const query = new URLSearchParams();
    if (flags["spiffe-id"] !== undefined) query.set("spiffe_id", flags["spiffe-id"]);
    if (flags["parent-id"] !== undefined) query.set("parent_id", flags["parent-id"]);
    for (const s of flags.selector ?? []) query.append("selector", s);
    if (match.value !== undefined) query.set("match", match.value);
    for (const td of flags["federates-with"] ?? []) query.append("federates_with", td);
    if (flags.hint !== undefined) query.set("hint", flags.hint);
    if (flags.downstream) query.set("downstream", "true");
    query.set("page_size", String(pageSize.value));

    const fetched = await fetchAllPages(ctx, { token: token.value, path: ENTRIES_PATH, query, key: "entries", isItem: isWireEntry, what: "entries" });
    if (!fetched.ok) return fetched;
    const all = fetched.value;
    if (output.value === "json") printJson(ctx, { entries: all });
    else ctx.io.stdout(`Found ${all.length} ${all.length === 1 ? "entry" : "entries"}\n${all.map((e) => `${formatEntry(e)}\n`).join("")}`);
    return ok(undefined);
  },
});
