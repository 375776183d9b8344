/** `signet federation refresh`: fetch a peer's bundle now (as `spire-server federation refresh`). */
import { defineCommand } from "../command";
import { federationRequest, reportRefresh } from "./federation-common";

const NAME = "federation refresh";

const USAGE = `Usage: signet federation refresh --trust-domain TD [--force] [--output text|json]

Fetch the peer's bundle now. A bundle with a lower spiffe_sequence than the stored one (a rollback),
or the same sequence with other keys, is refused and the stored bundle kept; --force accepts any
valid bundle (a peer rebuilt from scratch, whose sequence started again).

Options:
  --trust-domain TD    the relationship's trust domain (required)
  --force              accept the fetched bundle even if its sequence is not higher
  --output text|json   text, or the server's JSON (default text)
  --server URL         the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help           show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 refreshed (updated or unchanged), 1 the fetch failed or was refused, or no such relationship, 2 usage error, 3 network or bad answer.
`;

export const federationRefreshCommand = defineCommand({
  name: NAME,
  summary: "fetch a federated trust domain's bundle now",
  usage: USAGE,
  flags: { "trust-domain": { kind: "string" }, force: { kind: "boolean" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const r = await federationRequest(flags, ctx, NAME, { method: "POST", suffix: "/refresh", body: flags.force ? { force: true } : {} });
    if (!r.ok) return r;
    return reportRefresh(ctx, r.value.answer, r.value.path, r.value.output, true);
  },
});
