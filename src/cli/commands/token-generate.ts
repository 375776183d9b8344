/** `signet token generate`: a single-use join token for an agent, as `spire-server token generate`. */
import { ok, type Result } from "../../lib/result";
import { defineCommand } from "../command";
import { oneLine, type CliFailure } from "../failure";
import { formatInstant, ttlFlag } from "../values";
import { badAnswer, outputFlag, printJson } from "./entry-common";

const NAME = "token generate";
const PATH = "admin/v1/join-tokens";

const USAGE = `Usage: signet token generate [--ttl DURATION] [--output text|json]

Generate a join token. An agent attests with it once, before it expires, and gets the agent ID
spiffe://<td>/signet/agent/join_token/<token>.

Options:
  --ttl DURATION       how long the token is valid, e.g. 600, 10m, 1h (default 600 seconds)
  --output text|json   'Token: …' lines, or the server's JSON (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 generated, 1 the server refused, 2 usage error, 3 network or bad answer.
`;

interface TokenAnswer {
  readonly token: string;
  readonly expires_at: number;
  readonly agent_id: string;
}

function readAnswer(body: unknown): Result<TokenAnswer, CliFailure> {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof b.token !== "string" || b.token === "") return badAnswer(PATH, "token is missing");
  if (typeof b.expires_at !== "number" || !Number.isSafeInteger(b.expires_at)) return badAnswer(PATH, "expires_at is not an integer");
  if (typeof b.agent_id !== "string") return badAnswer(PATH, "agent_id is missing");
  return ok({ token: b.token, expires_at: b.expires_at, agent_id: b.agent_id });
}

export const tokenGenerateCommand = defineCommand({
  name: NAME,
  summary: "generate a single-use join token for an agent",
  usage: USAGE,
  flags: { ttl: { kind: "string" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const ttl = ttlFlag(flags.ttl, NAME);
    if (!ttl.ok) return ttl;
    const token = await ctx.adminToken();
    if (!token.ok) return token;
    const answer = await ctx.client.requestJson({ method: "POST", path: PATH, token: token.value, body: ttl.value === undefined ? {} : { ttl: ttl.value } });
    if (!answer.ok) return answer;
    const t = readAnswer(answer.value);
    if (!t.ok) return t;
    if (output.value === "json") printJson(ctx, t.value);
    else ctx.io.stdout(`Token: ${oneLine(t.value.token, 200)}\nAgent ID: ${oneLine(t.value.agent_id, 2100)}\nExpires: ${formatInstant(t.value.expires_at)}\n`);
    return ok(undefined);
  },
});
