/** `signet agent evict`: forget an attested agent, as `spire-server agent evict`; it must attest again. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { agentRequest, badAnswer, printJson } from "./agent-common";

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
    const r = await agentRequest(flags, ctx, NAME, { method: "DELETE" });
    if (!r.ok) return r;
    const { output, path, answer } = r.value;
    // 204 No Content: the client reads it as null.
    if (answer !== null) return badAnswer(path, "expected no content");
    if (output === "json") printJson(ctx, { spiffe_id: r.value.id, status: "evicted" });
    else ctx.io.stdout("Agent evicted successfully\n");
    return ok(undefined);
  },
});
