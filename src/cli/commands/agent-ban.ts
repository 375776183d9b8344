/** `signet agent ban`: refuse an agent everywhere until it is evicted, as `spire-server agent ban`. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { agentRequest, badAnswer, isWireAgent, printJson } from "./agent-common";

const NAME = "agent ban";

const USAGE = `Usage: signet agent ban --spiffe-id ID [--output text|json]

Ban an attested agent: every call it makes is refused (agent_banned), renewal and re-attestation
included, until 'signet agent evict' removes it.

Options:
  --spiffe-id ID       the agent's SPIFFE ID (required)
  --output text|json   text, or the banned agent as the server's JSON (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 banned, 1 the server refused (no such agent), 2 usage error, 3 network or bad answer.
`;

export const agentBanCommand = defineCommand({
  name: NAME,
  summary: "ban an attested agent",
  usage: USAGE,
  flags: { "spiffe-id": { kind: "string" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const r = await agentRequest(flags, ctx, NAME, { method: "POST", suffix: "/ban" });
    if (!r.ok) return r;
    const { output, path, answer } = r.value;
    if (!isWireAgent(answer) || answer.banned !== true) return badAnswer(path, "not a banned agent");
    if (output === "json") printJson(ctx, answer);
    else ctx.io.stdout("Agent banned successfully\n");
    return ok(undefined);
  },
});
