/** `signet federation list`: every federation relationship, following the server's pages to the end. */
import { ok, type Result } from "../../lib/result";
import { defineCommand } from "../command";
import type { CliFailure } from "../failure";
import { badAnswer } from "./entry-common";
import { FEDERATION_PATH, formatFederation, isWireFederation, outputFlag, printJson, type WireFederation } from "./federation-common";

const NAME = "federation list";
const PAGE_SIZE = 1000;

const USAGE = `Usage: signet federation list [--output text|json]

Print every federation relationship with the state of its bundle.

Options:
  --output text|json   text (as spire-server prints it) or {"federations": [...]} (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 listed (even none), 1 the server refused, 2 usage error, 3 network or bad answer.
`;

function readPage(body: unknown): Result<{ federations: WireFederation[]; next: string | undefined }, CliFailure> {
  if (typeof body !== "object" || body === null) return badAnswer(FEDERATION_PATH, "not a JSON object");
  const { federations, next_page_token: next } = body as Record<string, unknown>;
  if (!Array.isArray(federations) || !federations.every(isWireFederation)) return badAnswer(FEDERATION_PATH, "federations is not a list of relationships");
  if (next !== undefined && next !== null && (typeof next !== "string" || next === "")) return badAnswer(FEDERATION_PATH, "next_page_token is not a string");
  return ok({ federations, next: next ?? undefined });
}

export const federationListCommand = defineCommand({
  name: NAME,
  summary: "list federation relationships (every page)",
  usage: USAGE,
  flags: { output: { kind: "string" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const token = await ctx.adminToken();
    if (!token.ok) return token;
    const query = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    const all: WireFederation[] = [];
    for (;;) {
      const answer = await ctx.client.requestJson({ method: "GET", path: `${FEDERATION_PATH}?${query.toString()}`, token: token.value });
      if (!answer.ok) return answer;
      const page = readPage(answer.value);
      if (!page.ok) return page;
      all.push(...page.value.federations);
      if (page.value.next === undefined) break;
      if (page.value.next === query.get("page_token") || page.value.federations.length === 0) return badAnswer(FEDERATION_PATH, "the page token does not advance");
      query.set("page_token", page.value.next);
    }
    if (output.value === "json") printJson(ctx, { federations: all });
    else ctx.io.stdout(`Found ${all.length} federation relationship${all.length === 1 ? "" : "s"}\n${all.map((f) => `\n${formatFederation(f)}`).join("")}`);
    return ok(undefined);
  },
});
