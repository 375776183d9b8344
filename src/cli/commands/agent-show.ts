/** `signet agent show`: one attested agent by SPIFFE ID, as `spire-server agent show`. */
import { ok } from "../../lib/result";
import { defineCommand } from "../command";
import { agentRequest, badAnswer, formatAgent, isWireAgent, printJson } from "./agent-common";

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
    const r = await agentRequest(flags, ctx, NAME, { method: "GET" });
    if (!r.ok) return r;
    const { output, path, answer } = r.value;
    if (!isWireAgent(answer)) return badAnswer(path, "not an agent");
    if (output === "json") printJson(ctx, answer);
    else ctx.io.stdout(`Found an attested agent given its SPIFFE ID\n\n${formatAgent(answer)}`);
    return ok(undefined);
  },
});
