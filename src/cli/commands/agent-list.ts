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
import { AGENTS_PATH, agentSelectors, ATTESTATION_TYPES, badAnswer, formatAgent, isWireAgent, outputFlag, printJson, type WireAgent } from "./agent-common";

const NAME = "agent list";
const MATCHES = ["exact", "subset", "superset", "any"] as const;
type Match = (typeof MATCHES)[number];
const MAX_PAGE_SIZE = 1000;

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

function pageSizeFlag(value: string | undefined): Result<number, CliFailure> {
  if (value === undefined) return ok(MAX_PAGE_SIZE);
  const n = /^[0-9]{1,4}$/.test(value) ? Number(value) : 0;
  return n >= 1 && n <= MAX_PAGE_SIZE ? ok(n) : err(usageError(`--page-size must be a whole number from 1 to ${MAX_PAGE_SIZE}, not '${oneLine(value, 60)}'`, NAME));
}

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

function readPage(body: unknown): Result<{ agents: WireAgent[]; next: string | undefined }, CliFailure> {
  if (typeof body !== "object" || body === null) return badAnswer(AGENTS_PATH, "not a JSON object");
  const { agents, next_page_token: next } = body as Record<string, unknown>;
  if (!Array.isArray(agents) || !agents.every(isWireAgent)) return badAnswer(AGENTS_PATH, "agents is not a list of agents");
  if (next !== undefined && next !== null && (typeof next !== "string" || next === "")) return badAnswer(AGENTS_PATH, "next_page_token is not a string");
  return ok({ agents, next: next ?? undefined });
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
    const pageSize = pageSizeFlag(flags["page-size"]);
    if (!pageSize.ok) return pageSize;
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const query = new URLSearchParams();
    if (type.value !== undefined) query.set("attestation_type", type.value);
    if (banned.value !== undefined) query.set("banned", banned.value);
    query.set("page_size", String(pageSize.value));

    const all: WireAgent[] = [];
    for (;;) {
      const answer = await ctx.client.requestJson({ method: "GET", path: `${AGENTS_PATH}?${query.toString()}`, token: token.value });
      if (!answer.ok) return answer;
      const page = readPage(answer.value);
      if (!page.ok) return page;
      all.push(...page.value.agents);
      if (page.value.next === undefined) break;
      if (page.value.next === query.get("page_token") || page.value.agents.length === 0) return badAnswer(AGENTS_PATH, "the page token does not advance");
      query.set("page_token", page.value.next);
    }
    const wanted = selectorSet(selectors.value);
    const shown = wanted.size === 0 ? all : all.filter((a) => selectorsMatch(agentSelectors(a), wanted, match.value ?? "superset"));
    if (output.value === "json") printJson(ctx, { agents: shown });
    else ctx.io.stdout(`Found ${shown.length} attested ${shown.length === 1 ? "agent" : "agents"}\n${shown.map((a) => `\n${formatAgent(a)}`).join("")}`);
    return ok(undefined);
  },
});
