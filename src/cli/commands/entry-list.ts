/** `signet entry list`: every entry matching the filters, following the server's pages to the end. */
import { err, ok, type Result } from "../../lib/result";
import { parseSelector } from "../../lib/registry/selectors";
import { defineCommand } from "../command";
import { oneLine, usageError, type CliFailure } from "../failure";
import { oneOfFlag } from "../values";
import { badAnswer, ENTRIES_PATH, formatEntry, isWireEntry, outputFlag, printJson, type WireEntry } from "./entry-common";

const NAME = "entry list";
const MATCHES = ["exact", "subset", "superset", "any"] as const;
const MAX_PAGE_SIZE = 1000;

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

function pageSizeFlag(value: string | undefined): Result<number, CliFailure> {
  if (value === undefined) return ok(MAX_PAGE_SIZE);
  const n = /^[0-9]{1,4}$/.test(value) ? Number(value) : 0;
  return n >= 1 && n <= MAX_PAGE_SIZE ? ok(n) : err(usageError(`--page-size must be a whole number from 1 to ${MAX_PAGE_SIZE}, not '${oneLine(value, 60)}'`, NAME));
}

function readPage(body: unknown): Result<{ entries: WireEntry[]; next: string | undefined }, CliFailure> {
  if (typeof body !== "object" || body === null) return badAnswer(ENTRIES_PATH, "not a JSON object");
  const { entries, next_page_token: next } = body as Record<string, unknown>;
  if (!Array.isArray(entries) || !entries.every(isWireEntry)) return badAnswer(ENTRIES_PATH, "entries is not a list of entries");
  if (next !== undefined && next !== null && (typeof next !== "string" || next === "")) return badAnswer(ENTRIES_PATH, "next_page_token is not a string");
  return ok({ entries, next: next ?? undefined });
}

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
    const pageSize = pageSizeFlag(flags["page-size"]);
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

    const all: WireEntry[] = [];
    for (;;) {
      const answer = await ctx.client.requestJson({ method: "GET", path: `${ENTRIES_PATH}?${query.toString()}`, token: token.value });
      if (!answer.ok) return answer;
      const page = readPage(answer.value);
      if (!page.ok) return page;
      all.push(...page.value.entries);
      if (page.value.next === undefined) break;
      if (page.value.next === query.get("page_token") || page.value.entries.length === 0) return badAnswer(ENTRIES_PATH, "the page token does not advance");
      query.set("page_token", page.value.next);
    }
    if (output.value === "json") printJson(ctx, { entries: all });
    else ctx.io.stdout(`Found ${all.length} ${all.length === 1 ? "entry" : "entries"}\n${all.map((e) => `${formatEntry(e)}\n`).join("")}`);
    return ok(undefined);
  },
});
