/**
 * What the `signet entry …` commands share: the SPIRE-like entry flags and the body they make, the
 * `--output` choice, reading the server's entries and batch results, and printing an entry the way
 * `spire-server entry show` does (or as JSON).
 */
import { parseDuration } from "../../lib/duration";
import { parseSelector, type Selector } from "../../lib/registry/selectors";
import { err, ok, type Result } from "../../lib/result";
import { parseDnsNames } from "../../lib/spiffe/dns-name";
import { parseSpiffeId, parseTrustDomain, pathOf, trustDomainOf, type SpiffeId } from "../../lib/spiffe/id";
import type { Flags } from "../args";
import type { RunContext } from "../command";
import { failure, oneLine, usageError, type CliFailure } from "../failure";
import { formatInstant, oneOfFlag } from "../values";
import { parseAt } from "./verify-output";

export const ENTRIES_PATH = "admin/v1/entries";
export const OUTPUTS = ["text", "json"] as const;
export type Output = (typeof OUTPUTS)[number];

/** The flags that set an entry's fields (create and update). */
export const ENTRY_FIELD_FLAGS = {
  "spiffe-id": { kind: "string" },
  "parent-id": { kind: "string" },
  node: { kind: "boolean" },
  selector: { kind: "list" },
  "x509-svid-ttl": { kind: "string" },
  "jwt-svid-ttl": { kind: "string" },
  "federates-with": { kind: "list" },
  dns: { kind: "list" },
  admin: { kind: "boolean" },
  downstream: { kind: "boolean" },
  hint: { kind: "string" },
  "entry-expiry": { kind: "string" },
  output: { kind: "string" },
} as const;

export const ENTRY_FIELD_USAGE = `  --spiffe-id ID          the SPIFFE ID the entry issues, e.g. spiffe://example.org/ns/prod/sa/api
  --parent-id ID          the agent (or node entry) it is parented to
  --node                  a node entry: parented to the server, spiffe://<td>/signet/server
  --selector TYPE:VALUE   a selector, e.g. unix:uid:1000; repeat for more
  --x509-svid-ttl DUR     X509-SVID lifetime, e.g. 3600, 30m, 1h (default: the server's)
  --jwt-svid-ttl DUR      JWT-SVID lifetime (default: the server's)
  --federates-with TD     a trust domain whose bundle the workload receives; repeat for more
  --dns NAME              a DNS name for the X509-SVID; repeat for more
  --admin                 the workload may call the admin API
  --downstream            the workload may mint downstream CAs
  --hint TEXT             a hint for the workload to tell its SVIDs apart
  --entry-expiry WHEN     when the entry expires: unix seconds or an ISO 8601 date-time
  --output text|json      text (as spire-server prints it) or the server's JSON (default text)`;

type FieldFlags = Flags<typeof ENTRY_FIELD_FLAGS>;

export function outputFlag(value: string | undefined, command: string): Result<Output, CliFailure> {
  const o = oneOfFlag(value, "output", OUTPUTS, "text", command);
  return o.ok ? ok(o.value ?? "text") : o;
}

function idFlag(value: string, flag: string, command: string): Result<SpiffeId, CliFailure> {
  const id = parseSpiffeId(value);
  if (!id.ok) return err(usageError(`--${flag} '${oneLine(value, 200)}' is not a valid SPIFFE ID: ${id.error.detail}`, command));
  return ok(id.value);
}

function secondsFlag(value: string | undefined, flag: string, command: string): Result<number | undefined, CliFailure> {
  if (value === undefined) return ok(undefined);
  const s = parseDuration(value);
  return s.ok ? ok(s.value) : err(usageError(`--${flag} '${oneLine(value, 100)}' is not a valid duration: ${s.error.detail}`, command));
}

function expiryFlag(value: string | undefined, command: string): Result<number | undefined, CliFailure> {
  if (value === undefined) return ok(undefined);
  if (/^[0-9]{1,12}$/.test(value)) return ok(Number(value));
  const t = parseAt(value, () => 0, command);
  return t.ok ? ok(Math.floor(t.value / 1000)) : err(usageError(`--entry-expiry must be unix seconds or an ISO 8601 date-time, not '${oneLine(value, 60)}'`, command));
}

/**
 * The wire fields the flags set (snake_case, only those given). The CLI checks the syntax it can
 * (IDs, selectors, durations, DNS names, trust domains); the server checks the rest.
 */
export function entryFieldsFromFlags(flags: FieldFlags, command: string): Result<Record<string, unknown>, CliFailure> {
  const body: Record<string, unknown> = {};
  if (flags["spiffe-id"] !== undefined) {
    const id = idFlag(flags["spiffe-id"], "spiffe-id", command);
    if (!id.ok) return id;
    body.spiffe_id = id.value;
  }
  if (flags.node && flags["parent-id"] !== undefined) return err(usageError("--node and --parent-id exclude each other", command));
  if (flags.node) {
    const id = typeof body.spiffe_id === "string" ? parseSpiffeId(body.spiffe_id) : undefined;
    if (!id?.ok) return err(usageError("--node needs --spiffe-id (the server's ID is in its trust domain)", command));
    body.parent_id = `spiffe://${trustDomainOf(id.value)}/signet/server`;
  } else if (flags["parent-id"] !== undefined) {
    const id = idFlag(flags["parent-id"], "parent-id", command);
    if (!id.ok) return id;
    if (pathOf(id.value) === "") return err(usageError(`--parent-id '${id.value}' has no path`, command));
    body.parent_id = id.value;
  }
  if (flags.selector !== undefined) {
    const selectors: Selector[] = [];
    for (const text of flags.selector) {
      const s = parseSelector(text);
      if (!s.ok) return err(usageError(`--selector '${oneLine(text, 100)}': ${s.error.detail}`, command));
      selectors.push(s.value);
    }
    body.selectors = selectors;
  }
  for (const [flag, wire] of [["x509-svid-ttl", "x509_svid_ttl"], ["jwt-svid-ttl", "jwt_svid_ttl"]] as const) {
    const s = secondsFlag(flags[flag], flag, command);
    if (!s.ok) return s;
    if (s.value !== undefined) body[wire] = s.value;
  }
  if (flags["federates-with"] !== undefined) {
    const tds: string[] = [];
    for (const text of flags["federates-with"]) {
      const td = parseTrustDomain(text);
      if (!td.ok) return err(usageError(`--federates-with '${oneLine(text, 100)}' is not a trust domain: ${td.error.detail}`, command));
      tds.push(td.value);
    }
    body.federates_with = tds;
  }
  if (flags.dns !== undefined) {
    const dns = parseDnsNames(flags.dns);
    if (!dns.ok) return err(usageError(`--dns '${oneLine(dns.error.input, 100)}' is not a valid DNS name: ${dns.error.detail}`, command));
    body.dns_names = dns.value;
  }
  if (flags.admin) body.admin = true;
  if (flags.downstream) body.downstream = true;
  if (flags.hint !== undefined) body.hint = flags.hint;
  const expiry = expiryFlag(flags["entry-expiry"], command);
  if (!expiry.ok) return expiry;
  if (expiry.value !== undefined) body.expires_at = expiry.value;
  return ok(body);
}

/** An entry as the server sent it: an object with at least an id and a spiffe_id. */
export type WireEntry = Record<string, unknown> & { id: string; spiffe_id: string };

export function isWireEntry(v: unknown): v is WireEntry {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as WireEntry).id === "string" && typeof (v as WireEntry).spiffe_id === "string";
}

export function badAnswer(path: string, why: string): Result<never, CliFailure> {
  return err(failure("bad_response", `unexpected answer from ${path}: ${why}`));
}

/** The `results` list of a batch answer. */
export function readResults(body: unknown, path: string, count: number): Result<Record<string, unknown>[], CliFailure> {
  const results = typeof body === "object" && body !== null ? (body as { results?: unknown }).results : undefined;
  if (!Array.isArray(results) || results.length !== count || !results.every((r) => typeof r === "object" && r !== null && typeof (r as { status?: unknown }).status === "string")) {
    return badAnswer(path, `results is not a list of ${count} result(s)`);
  }
  return ok(results as Record<string, unknown>[]);
}

/**
 * Sends a batch of one entry (create or update) and prints its result: the entry as text, or the
 * result as JSON; a refused item is a `rejected` failure.
 */
export async function sendOneEntry(ctx: RunContext, input: { token: string; path: string; item: Record<string, unknown>; done: "created" | "updated"; output: Output }): Promise<Result<void, CliFailure>> {
  const answer = await ctx.client.requestJson({ method: "POST", path: input.path, token: input.token, body: { entries: [input.item] } });
  if (!answer.ok) return answer;
  const results = readResults(answer.value, input.path, 1);
  if (!results.ok) return results;
  const result = results.value[0]!;
  if (input.output === "json") printJson(ctx, result);
  if (result.status !== input.done) return err(failure("rejected", describeItemFailure(result)));
  if (!isWireEntry(result.entry)) return badAnswer(input.path, `the ${input.done} entry is missing`);
  if (input.output === "text") ctx.io.stdout(formatEntry(result.entry));
  return ok(undefined);
}

/** One line for a failed batch item, in the shape the client gives a problem answer. */
export function describeItemFailure(r: Record<string, unknown>): string {
  const text = (k: string) => (typeof r[k] === "string" ? oneLine(r[k], 300) : undefined);
  const head = [text("title"), text("detail")].filter((s) => s !== undefined).join(": ") || "refused";
  const extra = typeof r.existing_id === "string" ? `; existing entry ${oneLine(r.existing_id, 80)}` : typeof r.current_revision === "number" ? `; the entry is at revision ${r.current_revision}` : "";
  return `${head}${extra} (code ${text("status")}${typeof r.http_status === "number" ? `, HTTP ${r.http_status}` : ""})`;
}

const seconds = (v: unknown) => (typeof v === "number" && v > 0 ? `${v}s` : "default");
const instant = (v: unknown) => (typeof v === "number" && v > 0 ? formatInstant(v) : "never");
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** An entry as `spire-server entry show` prints one (server text made safe for one line each). */
export function formatEntry(e: WireEntry): string {
  const rows: [string, string][] = [
    ["Entry ID", e.id],
    ["SPIFFE ID", e.spiffe_id],
    ["Parent ID", String(e.parent_id ?? "")],
    ["Revision", String(e.revision_number ?? "")],
    ["X509-SVID TTL", seconds(e.x509_svid_ttl)],
    ["JWT-SVID TTL", seconds(e.jwt_svid_ttl)],
    ["Expiration time", instant(e.expires_at)],
  ];
  const selectors = Array.isArray(e.selectors) ? e.selectors : [];
  for (const s of selectors) {
    const sel = s as { type?: unknown; value?: unknown };
    rows.push(["Selector", `${String(sel.type)}:${String(sel.value)}`]);
  }
  for (const td of strings(e.federates_with)) rows.push(["FederatesWith", td]);
  for (const name of strings(e.dns_names)) rows.push(["DNS name", name]);
  if (e.admin === true) rows.push(["Admin", "true"]);
  if (e.downstream === true) rows.push(["Downstream", "true"]);
  if (typeof e.hint === "string" && e.hint !== "") rows.push(["Hint", e.hint]);
  rows.push(["Created at", instant(e.created_at)]);
  return rows.map(([k, v]) => `${k.padEnd(16)}: ${oneLine(v, 2100)}\n`).join("");
}

/** JSON safe on a terminal (C1 controls and line separators escaped too), two-space indented. */
export function printJson(ctx: RunContext, value: unknown): void {
  ctx.io.stdout(`${JSON.stringify(value, null, 2).replace(/[\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n`);
}

/** The admin list APIs' largest page (agents and entries alike). */
export const MAX_PAGE_SIZE = 1000;

/** `--page-size N`: 1 to MAX_PAGE_SIZE, MAX_PAGE_SIZE when absent. */
export function pageSizeFlag(value: string | undefined, command: string): Result<number, CliFailure> {
  if (value === undefined) return ok(MAX_PAGE_SIZE);
  const n = /^[0-9]{1,4}$/.test(value) ? Number(value) : 0;
  return n >= 1 && n <= MAX_PAGE_SIZE ? ok(n) : err(usageError(`--page-size must be a whole number from 1 to ${MAX_PAGE_SIZE}, not '${oneLine(value, 60)}'`, command));
}

/**
 * Every page of an admin list (`{<key>: [...], next_page_token}`), following the page tokens until
 * there is none; an answer of another shape, or a token that does not advance, is a bad answer.
 */
export async function fetchAllPages<T>(ctx: RunContext, input: { token: string; path: string; query: URLSearchParams; key: string; isItem: (v: unknown) => v is T; what: string }): Promise<Result<T[], CliFailure>> {
  const { path, query, key } = input;
  const all: T[] = [];
  for (;;) {
    const answer = await ctx.client.requestJson({ method: "GET", path: `${path}?${query.toString()}`, token: input.token });
    if (!answer.ok) return answer;
    const body = answer.value;
    if (typeof body !== "object" || body === null) return badAnswer(path, "not a JSON object");
    const { [key]: items, next_page_token: next } = body as Record<string, unknown>;
    if (!Array.isArray(items) || !items.every(input.isItem)) return badAnswer(path, `${key} is not a list of ${input.what}`);
    if (next !== undefined && next !== null && (typeof next !== "string" || next === "")) return badAnswer(path, "next_page_token is not a string");
    all.push(...items);
    if (next === undefined || next === null) return ok(all);
    if (next === query.get("page_token") || items.length === 0) return badAnswer(path, "the page token does not advance");
    query.set("page_token", next);
  }
}
