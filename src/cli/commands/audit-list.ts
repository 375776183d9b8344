/**
 * `signet audit list`: the release audit log, newest first, one JSON object per record per line
 * (JSON Lines, as the server sends each record), optionally following the cursor to the end.
 */
import { err, ok, type Result } from "../../lib/result";
import { defineCommand, type RunContext } from "../command";
import { failure, oneLine, usageError, type CliFailure } from "../failure";
import { oneOfFlag } from "../values";
import { parseAt } from "./verify-output";

const NAME = "audit list";
const PATH = "admin/v1/audit";
const KINDS = ["attestation", "release"] as const;
const OUTCOMES = ["accepted", "denied", "released", "refused"] as const;
const MAX_LIMIT = 1000;

const USAGE = `Usage: signet audit list [--kind K] [--outcome O] [--tee T] [--session S] [--path P]
                         [--since ISO8601] [--until ISO8601] [--limit N] [--all]

Print audit records, newest first, as JSON Lines: one JSON object per record per line, with the
server's fields (id, at in ms since the epoch, kind, outcome, reason, session_id, tee,
evidence_digest, measurement, platform_id, init_data_digest, policy_id, resource_path, token_id,
client; absent ones are left out). Pipe it to jq, e.g. 'signet audit list --all | jq -c .'

Options:
  --kind K          ${KINDS.join(" or ")}
  --outcome O       ${OUTCOMES.join(", ")}
  --tee T           a TEE name, e.g. snp, tdx
  --session S       one attestation session's id
  --path P          a resource path, repo/type/tag
  --since ISO8601   records at or after this time, e.g. 2025-01-16T00:00:00Z
  --until ISO8601   records before this time
  --limit N         how many records (1-${MAX_LIMIT}; default 100); with --all, per request (default ${MAX_LIMIT})
  --all             follow the server's cursor until every matching record is printed
  --server URL      the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help        show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 listed (even none), 1 the server refused, 2 usage error, 3 network or bad answer.
`;

const FLAGS = {
  kind: { kind: "string" },
  outcome: { kind: "string" },
  tee: { kind: "string" },
  session: { kind: "string" },
  path: { kind: "string" },
  since: { kind: "string" },
  until: { kind: "string" },
  limit: { kind: "string" },
  all: { kind: "boolean" },
} as const;

/** `--since`/`--until`: a full ISO 8601 date-time, sent as ms. */
function instantFlag(value: string | undefined, flag: string): Result<number | undefined, CliFailure> {
  if (value === undefined) return ok(undefined);
  const t = parseAt(value, () => 0, NAME);
  if (t.ok) return t;
  return err(usageError(`--${flag} must be an ISO 8601 date-time such as 2025-01-16T21:21:54Z, not '${oneLine(value, 60)}'`, NAME));
}

function limitFlag(value: string | undefined, fallback: number): Result<number, CliFailure> {
  if (value === undefined) return ok(fallback);
  const n = /^[0-9]{1,4}$/.test(value) ? Number(value) : 0;
  return n >= 1 && n <= MAX_LIMIT ? ok(n) : err(usageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}, not '${oneLine(value, 60)}'`, NAME));
}

interface Page {
  readonly records: readonly Record<string, unknown>[];
  readonly next: string | undefined;
}

function readPage(body: unknown): Result<Page, CliFailure> {
  const bad = (why: string) => err(failure("bad_response", `unexpected answer from ${PATH}: ${why}`));
  if (typeof body !== "object" || body === null) return bad("not a JSON object");
  const { records, next_cursor: next } = body as Record<string, unknown>;
  if (!Array.isArray(records) || !records.every((r) => typeof r === "object" && r !== null && !Array.isArray(r))) return bad("records is not a list of objects");
  if (next !== undefined && next !== null && (typeof next !== "string" || next === "")) return bad("next_cursor is not a string");
  return ok({ records: records as Record<string, unknown>[], next: next ?? undefined });
}

/** JSON that is also safe on a terminal: C1 controls and line separators escaped too. */
function jsonLine(record: Record<string, unknown>): string {
  return `${JSON.stringify(record).replace(/[\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n`;
}

async function fetchPage(ctx: RunContext, token: string, query: URLSearchParams): Promise<Result<Page, CliFailure>> {
  const answer = await ctx.client.requestJson({ method: "GET", path: `${PATH}?${query.toString()}`, token });
  return answer.ok ? readPage(answer.value) : answer;
}

export const auditListCommand = defineCommand({
  name: NAME,
  summary: "list audit records (attestations, releases) as JSON Lines",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const kind = oneOfFlag(flags.kind, "kind", KINDS, undefined, NAME);
    if (!kind.ok) return kind;
    const outcome = oneOfFlag(flags.outcome, "outcome", OUTCOMES, undefined, NAME);
    if (!outcome.ok) return outcome;
    const since = instantFlag(flags.since, "since");
    if (!since.ok) return since;
    const until = instantFlag(flags.until, "until");
    if (!until.ok) return until;
    if (since.value !== undefined && until.value !== undefined && since.value >= until.value) return err(usageError("--since must be before --until", NAME));
    const limit = limitFlag(flags.limit, flags.all ? MAX_LIMIT : 100);
    if (!limit.ok) return limit;
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const query = new URLSearchParams();
    const filters = { kind: kind.value, outcome: outcome.value, tee: flags.tee, session: flags.session, path: flags.path, since: since.value, until: until.value };
    for (const [name, value] of Object.entries(filters)) if (value !== undefined) query.set(name, String(value));
    query.set("limit", String(limit.value));

    for (;;) {
      const page = await fetchPage(ctx, token.value, query);
      if (!page.ok) return page;
      for (const record of page.value.records) ctx.io.stdout(jsonLine(record));
      if (!flags.all || page.value.next === undefined) return ok(undefined);
      if (page.value.next === query.get("cursor") || page.value.records.length === 0) {
        return err(failure("bad_response", `unexpected answer from ${PATH}: the cursor does not advance`));
      }
      query.set("cursor", page.value.next);
    }
  },
});
