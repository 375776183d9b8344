/**
 * What `signet-agent api …` and `healthcheck` share: their I/O, flag parsing in spire-agent's style
 * (Go flags: `-socketPath X` as well as `--socket X`), the socket address, durations, and how a failed
 * call becomes one line on stderr and an exit code.
 *
 * Exit codes: 0 done; 1 the agent refused (PermissionDenied, InvalidArgument, Unimplemented, …) or a
 * local step failed (writing files); 2 usage error; 3 the agent unreachable (no socket, nothing
 * listening, no answer within --timeout), not ready (Unavailable) or its answer unreadable.
 */
import { stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { oneLine } from "./server-client";
import { GrpcStatus, WorkloadCallError } from "./workload-client";
import { socketPathFrom, SocketPathError } from "./workload/socket";

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

/** Where `api` and `healthcheck` look for the agent when neither --socket nor the environment says. */
export const DEFAULT_SOCKET = "/run/signet/agent.sock";
export const DEFAULT_TIMEOUT_MS = 5000;

export interface ApiIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly signal: AbortSignal;
}

/** A failure with its exit code; the message is one line, shown after `signet-agent: `. */
export class ApiFailure extends Error {
  override readonly name = "ApiFailure";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export class ApiUsageError extends ApiFailure {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/** spire-agent's camelCase flag names → ours. */
const ALIASES: Readonly<Record<string, string>> = { socketPath: "socket", "socket-path": "socket", spiffeID: "spiffe-id", spiffeId: "spiffe-id" };

/**
 * Go's flag package takes `-name value` and `--name value` alike; Node's parseArgs only the latter.
 * Single-dash words longer than one letter become `--word`, aliases are renamed, and everything
 * after `--` is left alone.
 */
export function normalizeFlags(args: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const a of args) {
    if (rest || a === "--") {
      rest = true;
      out.push(a);
      continue;
    }
    const m = /^--?([A-Za-z][A-Za-z0-9-]+)(=.*)?$/s.exec(a);
    if (!m || (!a.startsWith("--") && m[1]!.length < 2)) {
      out.push(a);
      continue;
    }
    out.push(`--${ALIASES[m[1]!] ?? m[1]}${m[2] ?? ""}`);
  }
  return out;
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export const COMMON_OPTIONS = {
  socket: { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/**
 * The agent's socket: --socket, else SPIFFE_ENDPOINT_SOCKET (go-spiffe's variable, `unix:///path`),
 * else SIGNET_AGENT_SOCKET (what `run` reads), else /run/signet/agent.sock. A bare path may be relative.
 */
export function resolveSocket(flag: string | undefined, io: ApiIo): string {
  const from = flag !== undefined ? "--socket" : io.env.SPIFFE_ENDPOINT_SOCKET ? "SPIFFE_ENDPOINT_SOCKET" : io.env.SIGNET_AGENT_SOCKET ? "SIGNET_AGENT_SOCKET" : undefined;
  const value = flag ?? (io.env.SPIFFE_ENDPOINT_SOCKET || io.env.SIGNET_AGENT_SOCKET || DEFAULT_SOCKET);
  if (value === "") throw new ApiUsageError("--socket needs a path or unix:///path");
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && !value.startsWith("unix:")) throw new ApiUsageError(`${from ?? "--socket"}: ${value} is not a unix socket (unix:///path; the agent serves no tcp)`);
  try {
    return socketPathFrom(value.startsWith("unix:") || isAbsolute(value) ? value : resolve(io.cwd, value));
  } catch (e) {
    if (e instanceof SocketPathError) throw new ApiUsageError(`${from ?? "--socket"}: ${e.message}`);
    throw e;
  }
}

/** Before dialling: a missing path or something that is not a socket is named plainly (exit 3). */
export async function checkSocket(path: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ApiFailure(`no agent socket at ${path} (is signet-agent running? --socket or SPIFFE_ENDPOINT_SOCKET name another)`, EXIT_UNREACHABLE);
    if (code === "EACCES") throw new ApiFailure(`cannot reach the agent socket ${path}: permission denied`, EXIT_UNREACHABLE);
    throw new ApiFailure(`cannot reach the agent socket ${path}: ${code ?? "error"}`, EXIT_UNREACHABLE);
  }
  if (!st.isSocket()) throw new ApiFailure(`${path} is not a socket (is it the agent's --socket?)`, EXIT_UNREACHABLE);
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations (`500ms`, `5s`, `1m30s`) or plain seconds; 0 < d ≤ 1 h. */
export function parseTimeout(s: string | undefined): number {
  if (s === undefined) return DEFAULT_TIMEOUT_MS;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(s)) ms = Number(s) * 1000;
  else if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) {
    ms = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
  } else throw new ApiUsageError(`--timeout ${JSON.stringify(s)} is not a duration (e.g. 500ms, 5s, 1m)`);
  if (!(ms > 0) || ms > 3_600_000) throw new ApiUsageError("--timeout must be more than 0 and at most 1h");
  return Math.ceil(ms);
}

export type OutputFormat = "pretty" | "json";

export function parseOutput(s: string | undefined): OutputFormat {
  if (s === undefined || s === "pretty" || s === "text") return "pretty";
  if (s === "json") return "json";
  throw new ApiUsageError("--output must be pretty or json");
}

const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(GrpcStatus).filter(([, v]) => typeof v === "number").map(([k, v]) => [v, k]));

/** A failed Workload API call → one line and the exit code; `what` names the call (e.g. "fetch x509"). */
export function callFailure(e: unknown, what: string, socketPath: string, timeoutMs: number): ApiFailure {
  if (!(e instanceof WorkloadCallError)) return new ApiFailure(`${what}: ${oneLine(e instanceof Error ? e.message : String(e))}`, EXIT_REFUSED);
  const details = oneLine(e.details);
  if (e.code === "bad_response") return new ApiFailure(`${what}: ${details}`, EXIT_UNREACHABLE);
  switch (e.code) {
    case GrpcStatus.UNAVAILABLE:
      // grpc-js reports a failed connect as UNAVAILABLE with the OS error in its details.
      if (/No connection established|connect E|ECONNREFUSED|ENOENT|EACCES/.test(e.details)) return new ApiFailure(`${what}: cannot connect to the agent at ${socketPath}: ${details}`, EXIT_UNREACHABLE);
      return new ApiFailure(`${what}: the agent is not available: ${details}`, EXIT_UNREACHABLE);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new ApiFailure(`${what}: no answer from the agent at ${socketPath} within ${timeoutMs} ms`, EXIT_UNREACHABLE);
    case GrpcStatus.CANCELLED:
      return new ApiFailure(`${what}: cancelled`, EXIT_UNREACHABLE);
    case GrpcStatus.PERMISSION_DENIED:
      return new ApiFailure(`${what}: permission denied by the agent: ${details}`, EXIT_REFUSED);
    case GrpcStatus.INVALID_ARGUMENT:
      return new ApiFailure(`${what}: refused by the agent (invalid argument): ${details}`, EXIT_REFUSED);
    case GrpcStatus.INTERNAL:
    case GrpcStatus.UNKNOWN:
      // The agent failed, or the connection carried something other than its gRPC answer.
      return new ApiFailure(`${what}: the agent's answer is unusable (${STATUS_NAMES[e.code]}): ${details}`, EXIT_UNREACHABLE);
    default:
      return new ApiFailure(`${what}: refused by the agent (${STATUS_NAMES[e.code] ?? e.code}): ${details}`, EXIT_REFUSED);
  }
}
