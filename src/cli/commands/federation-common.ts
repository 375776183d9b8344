/**
 * What the `signet federation …` commands share: the path, the `--trust-domain` flag, reading the
 * server's relationships and refresh results, and printing a relationship the way
 * `spire-server federation show` does (plus the bundle's state), or as JSON.
 */
import { err, ok, type Result } from "../../lib/result";
import { parseTrustDomain } from "../../lib/spiffe/id";
import type { RunContext } from "../command";
import { failure, oneLine, usageError, type CliFailure } from "../failure";
import { formatInstant } from "../values";
import { badAnswer, outputFlag, printJson, type Output } from "./entry-common";

export { outputFlag, printJson } from "./entry-common";

/** What `federation show|delete|refresh` share: `--output`, `--trust-domain`, the admin token, one request. */
export async function federationRequest(
  flags: { readonly output?: string | undefined; readonly "trust-domain"?: string | undefined },
  ctx: RunContext,
  command: string,
  request: { readonly method: "GET" | "POST" | "DELETE"; readonly suffix?: string; readonly body?: unknown },
): Promise<Result<{ output: Output; trustDomain: string; path: string; answer: unknown }, CliFailure>> {
  const output = outputFlag(flags.output, command);
  if (!output.ok) return output;
  const td = trustDomainFlag(flags["trust-domain"], command);
  if (!td.ok) return td;
  const token = await ctx.adminToken();
  if (!token.ok) return token;
  const path = federationPath(td.value, request.suffix);
  const answer = await ctx.client.requestJson({ method: request.method, path, token: token.value, ...(request.body !== undefined ? { body: request.body } : {}) });
  if (!answer.ok) return answer;
  return ok({ output: output.value, trustDomain: td.value, path, answer: answer.value });
}
export const FEDERATION_PATH = "admin/v1/federation";

export interface WireFederation {
  readonly trust_domain: string;
  readonly bundle_endpoint_url: string;
  readonly bundle_endpoint_profile?: unknown;
  readonly [field: string]: unknown;
}

export function isWireFederation(v: unknown): v is WireFederation {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as WireFederation).trust_domain === "string" && typeof (v as WireFederation).bundle_endpoint_url === "string";
}

/** `--trust-domain TD`, required, a trust domain name (not a SPIFFE ID, not ours: the server checks that). */
export function trustDomainFlag(value: string | undefined, command: string): Result<string, CliFailure> {
  if (value === undefined) return err(usageError("missing required flag --trust-domain", command));
  const td = parseTrustDomain(value);
  if (!td.ok) return err(usageError(`--trust-domain '${oneLine(value, 200)}' is not a trust domain name: ${td.error.detail}`, command));
  return ok(td.value);
}

export function federationPath(td: string, suffix = ""): string {
  return `${FEDERATION_PATH}/${encodeURIComponent(td)}${suffix}`;
}

const instant = (v: unknown) => (typeof v === "number" && v > 0 ? formatInstant(v) : "never");
const plural = (n: unknown, one: string, many: string) => `${typeof n === "number" ? n : 0} ${n === 1 ? one : many}`;

/** A relationship as text: one `Name : value` line each (server text made safe for one line). */
export function formatFederation(f: WireFederation): string {
  const status = typeof f.bundle_status === "string" ? f.bundle_status : "unknown";
  const bundle =
    status === "missing"
      ? "none yet"
      : `${status}, sequence ${typeof f.spiffe_sequence === "number" ? f.spiffe_sequence : "none"}, ${plural(f.x509_authorities, "X.509 authority", "X.509 authorities")}, ${plural(f.jwt_authorities, "JWT authority", "JWT authorities")}`;
  const rows: [string, string][] = [
    ["Trust domain", f.trust_domain],
    ["Bundle endpoint URL", f.bundle_endpoint_url],
    ["Bundle endpoint profile", String(f.bundle_endpoint_profile ?? "")],
    ["Bundle", bundle],
    ["Last success", instant(f.last_success_at)],
    ["Next refresh", instant(f.next_refresh_at)],
  ];
  if (typeof f.last_error === "string") rows.push(["Last error", f.last_error]);
  return `${rows.map(([k, v]) => `${k.padEnd(24)}: ${oneLine(v, 500)}`).join("\n")}\n`;
}

/**
 * The answer to create and refresh (`{"federation","refresh":{"outcome","detail"?}}`): printed, and a
 * fetch that failed or was refused is a `rejected` failure when `strict` (refresh), a warning otherwise
 * (create: the relationship exists, the registry will retry).
 */
export function reportRefresh(ctx: RunContext, body: unknown, path: string, output: Output, strict: boolean): Result<void, CliFailure> {
  const { federation, refresh } = (typeof body === "object" && body !== null ? body : {}) as { federation?: unknown; refresh?: { outcome?: unknown; detail?: unknown } };
  if (!isWireFederation(federation) || typeof refresh?.outcome !== "string") return badAnswer(path, "not a federation relationship and refresh outcome");
  if (output === "json") printJson(ctx, body);
  else ctx.io.stdout(formatFederation(federation));
  const outcome = refresh.outcome;
  if (outcome === "updated" || outcome === "unchanged") return ok(undefined);
  const detail = typeof refresh.detail === "string" ? `: ${oneLine(refresh.detail, 300)}` : "";
  const message = `the bundle of ${oneLine(federation.trust_domain, 255)} was not ${outcome === "refused" ? "accepted" : "fetched"} (${outcome}${detail})`;
  if (strict) return err(failure("rejected", message));
  ctx.io.stderr(`signet: warning: ${message}; the server keeps retrying\n`);
  return ok(undefined);
}
