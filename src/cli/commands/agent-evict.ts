/** `signet agent evict`: forget an attested agent, as `spire-server agent evict`; it must attest again. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { agentIdFlag, agentPath, badAnswer, outputFlag, printJson } from "./agent-common";

const NAME = "agent evict";

const USAGE = `Usage: signet agent evict --spiffe-id ID [--output text|json]

Evict an attested agent (banned or not): its SVID no longer authenticates and it must attest again
(a join-token agent cannot: its token is spent).

Options:
  --spiffe-id ID       the agent's SPIFFE ID (required)
  --output text|json   text, or {"spiffe_id", "status": "evicted"} (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 evicted, 1 the server refused (no such agent), 2 usage error, 3 network or bad answer.
`;

export const agentEvictCommand = defineCommand({
  name: NAME,
  summary: "evict an attested agent",
  usage: USAGE,
  flags: { "spiffe-id": { kind: "string" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const id = agentIdFlag(flags["spiffe-id"], NAME);
    if (!id.ok) return id;
    const token = await ctx.adminToken();
    if (!token.ok) return token;
    const path = agentPath(id.value);
    const answer = await ctx.client.requestJson({ method: "DELETE", path, token: token.value });
    if (!answer.ok) return answer;
    // 204 No Content: the client reads it as null.
    if (answer.value !== null) return badAnswer(path, "expected no content");
    if (output.value === "json") printJson(ctx, { spiffe_id: id.value, status: "evicted" });
    else ctx.io.stdout("Agent evicted successfully\n");
    return ok(undefined);
  },
});
