/**
 * `signet agent list`: the attested agents, as `spire-server agent list`, following the server's pages
 * to the end. The server filters by attestation type and ban; `--selector` is applied here, to the
 * agents the server sent (the API has no selector filter for agents).
 */
import { parseSelector, selectorSet, type Selector } from "../../lib/registry/selectors";
import { err, ok, type Result } from "../../lib/result";
import { defineCommand } from "../command";
import { oneLine, usageError, type CliFailure } from "../failure";
import { oneOfFlag } from "../values";
import { AGENTS_PATH, agentSelectors, ATTESTATION_TYPES, formatAgent, isWireAgent, outputFlag, printJson } from "./agent-common";
import { fetchAllPages, MAX_PAGE_SIZE, pageSizeFlag } from "./entry-common";

const NAME = "agent list";
const MATCHES = ["exact", "subset", "superset", "any"] as const;
type Match = (typeof MATCHES)[number];

const USAGE = `Usage: signet agent list [--attestation-type T] [--banned true|false] [--selector TYPE:VALUE... [--match M]]
                         [--page-size N] [--output text|json]

Print the attested agents that match every filter given (all agents without filters).

Options:
  --attestation-type T    agents attested by ${ATTESTATION_TYPES.join(", ")}
  --banned true|false     only banned (true) or only not banned (false) agents
  --selector TYPE:VALUE   a node selector to match, e.g. tee:type:snp; repeat for more
  --match M               how the selectors match: ${MATCHES.join(", ")} (default superset: the agent has them all)
  --page-size N           agents per request (1-${MAX_PAGE_SIZE}, default ${MAX_PAGE_SIZE}); every page is fetched
  --output text|json      text (as spire-server prints it) or {"agents": [...]} (default text)
  --server URL            the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help              show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 listed (even none), 1 the server refused, 2 usage error, 3 network or bad answer.
`;

const FLAGS = {
  "attestation-type": { kind: "string" },
  banned: { kind: "string" },
  selector: { kind: "list" },
  match: { kind: "string" },
  "page-size": { kind: "string" },
  output: { kind: "string" },
} as const;


function selectorsFlag(values: readonly string[] | undefined): Result<Selector[], CliFailure> {
  const out: Selector[] = [];
  for (const text of values ?? []) {
    const s = parseSelector(text);
    if (!s.ok) return err(usageError(`--selector '${oneLine(text, 100)}': ${s.error.detail}`, NAME));
    out.push(s.value);
  }
  return ok(out);
}

/** SPIRE's `-matchSelectorsOn`: how the wanted selectors relate to the agent's node selectors. */
export function selectorsMatch(agent: readonly string[], wanted: ReadonlySet<string>, match: Match): boolean {
  const has = new Set(agent);
  const inAgent = [...wanted].filter((s) => has.has(s)).length;
  switch (match) {
    case "superset":
      return inAgent === wanted.size;
    case "subset":
      return [...has].every((s) => wanted.has(s));
    case "exact":
      return inAgent === wanted.size && has.size === wanted.size;
    case "any":
      return inAgent > 0;
  }
}


export const agentListCommand = defineCommand({
  name: NAME,
  summary: "list attested agents (filters, every page)",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const type = oneOfFlag(flags["attestation-type"], "attestation-type", ATTESTATION_TYPES, undefined, NAME);
    if (!type.ok) return type;
    const banned = oneOfFlag(flags.banned, "banned", ["true", "false"] as const, undefined, NAME);
    if (!banned.ok) return banned;
    const match = oneOfFlag(flags.match, "match", MATCHES, undefined, NAME);
    if (!match.ok) return match;
    if (match.value !== undefined && flags.selector === undefined) return err(usageError("--match needs at least one --selector", NAME));
    const selectors = selectorsFlag(flags.selector);
    if (!selectors.ok) return selectors;
    const pageSize = pageSizeFlag(flags["page-size"], NAME);
    if (!pageSize.ok) return pageSize;
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const query = new URLSearchParams();
    if (type.value !== undefined) query.set("attestation_type", type.value);
    if (banned.value !== undefined) query.set("banned", banned.value);
    query.set("page_size", String(pageSize.value));

    const fetched = await fetchAllPages(ctx, { token: token.value, path: AGENTS_PATH, query, key: "agents", isItem: isWireAgent, what: "agents" });
    if (!fetched.ok) return fetched;
    const all = fetched.value;
    const wanted = selectorSet(selectors.value);
    const shown = wanted.size === 0 ? all : all.filter((a) => selectorsMatch(agentSelectors(a), wanted, match.value ?? "superset"));
    if (output.value === "json") printJson(ctx, { agents: shown });
    else ctx.io.stdout(`Found ${shown.length} attested ${shown.length === 1 ? "agent" : "agents"}\n${shown.map((a) => `\n${formatAgent(a)}`).join("")}`);
    return ok(undefined);
  },
});
