/** `signet agent show`: one attested agent by SPIFFE ID, as `spire-server agent show`. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { agentIdFlag, agentPath, badAnswer, formatAgent, isWireAgent, outputFlag, printJson } from "./agent-common";

const NAME = "agent show";

const USAGE = `Usage: signet agent show --spiffe-id ID [--output text|json]

Print one attested agent: its attestation type, SVID serial number and expiry, node selectors and
whether it is banned.

Options:
  --spiffe-id ID       the agent's SPIFFE ID, e.g. spiffe://example.org/signet/agent/join_token/<token> (required)
  --output text|json   text (as spire-server prints it) or the server's JSON (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 shown, 1 the server refused (no such agent), 2 usage error, 3 network or bad answer.
`;

export const agentShowCommand = defineCommand({
  name: NAME,
  summary: "show an attested agent",
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
    const answer = await ctx.client.requestJson({ method: "GET", path, token: token.value });
    if (!answer.ok) return answer;
    if (!isWireAgent(answer.value)) return badAnswer(path, "not an agent");
    if (output.value === "json") printJson(ctx, answer.value);
    else ctx.io.stdout(`Found an attested agent given its SPIFFE ID\n\n${formatAgent(answer.value)}`);
    return ok(undefined);
  },
});
