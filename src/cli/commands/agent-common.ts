/**
 * What the `signet agent …` commands share: the agents path, `--spiffe-id` for one agent, reading the
 * server's agents, and printing one the way `spire-server agent show` does (or as JSON).
 */
import { err, ok, type Result } from "../../lib/result";
import { parseSpiffeId, pathOf } from "../../lib/spiffe/id";
import { oneLine, usageError, type CliFailure } from "../failure";
import { formatInstant } from "../values";
import type { RunContext } from "../command";
import { outputFlag, type Output } from "./entry-common";

export { badAnswer, outputFlag, printJson } from "./entry-common";

/** What `agent show|ban|evict` share: `--output`, `--spiffe-id`, the admin token, one request for the agent. */
export async function agentRequest(
  flags: { readonly output?: string | undefined; readonly "spiffe-id"?: string | undefined },
  ctx: RunContext,
  command: string,
  request: { readonly method: "GET" | "POST" | "DELETE"; readonly suffix?: string },
): Promise<Result<{ output: Output; id: string; path: string; answer: unknown }, CliFailure>> {
  const output = outputFlag(flags.output, command);
  if (!output.ok) return output;
  const id = agentIdFlag(flags["spiffe-id"], command);
  if (!id.ok) return id;
  const token = await ctx.adminToken();
  if (!token.ok) return token;
  const path = agentPath(id.value, request.suffix);
  const answer = await ctx.client.requestJson({ method: request.method, path, token: token.value });
  if (!answer.ok) return answer;
  return ok({ output: output.value, id: id.value, path, answer: answer.value });
}
export const AGENTS_PATH = "admin/v1/agents";
export const ATTESTATION_TYPES = ["join_token", "tee", "x509pop"] as const;

/** An agent as the server sent it: an object with at least its SPIFFE ID. */
export type WireAgent = Record<string, unknown> & { spiffe_id: string };

export function isWireAgent(v: unknown): v is WireAgent {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as WireAgent).spiffe_id === "string";
}

/** `--spiffe-id ID`, required: an agent's SPIFFE ID (`spiffe://<td>/signet/agent/…`; the server knows which exist). */
export function agentIdFlag(value: string | undefined, command: string): Result<string, CliFailure> {
  if (value === undefined) return err(usageError("missing required flag --spiffe-id", command));
  const id = parseSpiffeId(value);
  if (!id.ok) return err(usageError(`--spiffe-id '${oneLine(value, 200)}' is not a valid SPIFFE ID: ${id.error.detail}`, command));
  if (pathOf(id.value) === "") return err(usageError(`--spiffe-id '${id.value}' has no path; an agent ID looks like spiffe://<td>/signet/agent/…`, command));
  return ok(id.value);
}

/** The path of one agent: its SPIFFE ID percent-encoded as one segment, then `suffix`. */
export function agentPath(id: string, suffix = ""): string {
  return `${AGENTS_PATH}/${encodeURIComponent(id)}${suffix}`;
}

const instant = (v: unknown) => (typeof v === "number" && v > 0 ? formatInstant(v) : "unknown");

/** The agent's selectors as `type:value` strings (malformed items skipped). */
export function agentSelectors(a: WireAgent): string[] {
  const list = Array.isArray(a.selectors) ? a.selectors : [];
  return list.flatMap((s) => {
    const sel = s as { type?: unknown; value?: unknown };
    return typeof sel.type === "string" && typeof sel.value === "string" ? [`${sel.type}:${sel.value}`] : [];
  });
}

/** An agent as `spire-server agent show` prints one, plus its selectors, ban and creation time. */
export function formatAgent(a: WireAgent): string {
  const rows: [string, string][] = [
    ["SPIFFE ID", a.spiffe_id],
    ["Attestation type", String(a.attestation_type ?? "")],
    ["Expiration time", instant(a.x509_svid_expires_at)],
    ["Serial number", String(a.x509_svid_serial_number ?? "")],
    ["Can re-attest", String(a.can_reattest === true)],
    ["Banned", String(a.banned === true)],
  ];
  for (const s of agentSelectors(a)) rows.push(["Selector", s]);
  rows.push(["Created at", instant(a.created_at)]);
  return rows.map(([k, v]) => `${k.padEnd(18)}: ${oneLine(v, 2100)}\n`).join("");
}
