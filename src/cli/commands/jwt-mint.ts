/** `signet jwt mint`: mint a JWT-SVID and print the token alone on stdout. */
import { err, ok } from "../../lib/result";
import { defineCommand } from "../command";
import { failure, oneLine, usageError } from "../failure";
import { oneOfFlag, spiffeIdFlag, ttlFlag } from "../values";

const NAME = "jwt mint";
const PATH = "admin/v1/svids/jwt";
const ALGORITHMS = ["ES256", "RS256"] as const;

const USAGE = `Usage: signet jwt mint --spiffe-id ID --audience AUD [--audience AUD]... [options]

Mint a JWT-SVID and print the token on stdout (and nothing else).

Options:
  --spiffe-id ID     the workload's SPIFFE ID, e.g. spiffe://example.org/ns/prod/sa/api (required)
  --audience AUD     an audience; repeat for more (at least one required)
  --ttl DURATION     lifetime, e.g. 5m, 1h (default: the server's)
  --alg ALG          ${ALGORITHMS.join(" or ")} (default: the server's)
  --server URL       the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help         show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
`;

const FLAGS = {
  "spiffe-id": { kind: "string" },
  audience: { kind: "list" },
  ttl: { kind: "string" },
  alg: { kind: "string" },
} as const;

/** Three base64url parts: what a compact JWS looks like, without trusting anything in it. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export const jwtMintCommand = defineCommand({
  name: NAME,
  summary: "mint a JWT-SVID and print it",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const spiffeId = spiffeIdFlag(flags["spiffe-id"], NAME);
    if (!spiffeId.ok) return spiffeId;
    const audience = flags.audience ?? [];
    if (audience.length === 0) return err(usageError("missing required flag --audience", NAME));
    const ttl = ttlFlag(flags.ttl, NAME);
    if (!ttl.ok) return ttl;
    const alg = oneOfFlag(flags.alg, "alg", ALGORITHMS, undefined, NAME);
    if (!alg.ok) return alg;
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const answer = await ctx.client.requestJson({
      method: "POST",
      path: PATH,
      token: token.value,
      body: {
        spiffe_id: spiffeId.value,
        audience,
        ...(ttl.value === undefined ? {} : { ttl: ttl.value }),
        ...(alg.value === undefined ? {} : { alg: alg.value }),
      },
    });
    if (!answer.ok) return answer;
    const body = answer.value;
    const jwt = typeof body === "object" && body !== null ? (body as Record<string, unknown>).token : undefined;
    if (typeof jwt !== "string" || !COMPACT_JWS.test(jwt)) {
      return err(failure("bad_response", `unexpected answer from ${PATH}: token is missing or not a compact JWT`));
    }
    ctx.io.stdout(`${oneLine(jwt, jwt.length)}\n`);
    return ok(undefined);
  },
});
