/**
 * `signet-agent api fetch x509|jwt`, `api validate jwt` and `signet-agent healthcheck`: Workload API
 * clients on the agent's own socket, with spire-agent's flags (`-socketPath`, `-audience`, `-spiffeID`,
 * `-svid`, `-write`, `-silent`, `-output`, `-timeout`, `-shallow`, `-verbose`; `--kebab-case` forms too)
 * and its output. Exit codes are api-common.ts's: 0, 1 refused, 2 usage, 3 unreachable/unavailable.
 */
import { parseArgs } from "node:util";
import { audiences, formatFetchJwt, formatValidateJwt } from "./api-jwt";
import {
  ApiFailure,
  ApiUsageError,
  callFailure,
  checkSocket,
  COMMON_OPTIONS,
  DEFAULT_SOCKET,
  EXIT_OK,
  EXIT_REFUSED,
  EXIT_USAGE,
  normalizeFlags,
  parseOutput,
  parseTimeout,
  resolveSocket,
  type ApiIo,
  type Options,
} from "./api-common";
import { checkX509Response, formatX509Json, formatX509Pretty, writeX509 } from "./api-x509";
import { oneLine } from "./server-client";
import { GrpcStatus, WorkloadApiClient, WorkloadCallError } from "./workload-client";

const SOCKET_HELP = `  --socket PATH      the agent's socket, unix:///path or a path (also -socketPath); default
                     $SPIFFE_ENDPOINT_SOCKET, else $SIGNET_AGENT_SOCKET, else ${DEFAULT_SOCKET}
  --timeout D        time to wait for each answer (500ms, 5s, 1m; default 5s)`;

const API_USAGE = `Usage: signet-agent api fetch x509 [--write DIR] [--silent] [--output pretty|json] [--socket PATH] [--timeout D]
       signet-agent api fetch jwt --audience AUD[,AUD…] [--spiffe-id ID] [--output pretty|json] [--socket PATH] [--timeout D]
       signet-agent api validate jwt --audience AUD (--svid TOKEN | TOKEN) [--output pretty|json] [--socket PATH] [--timeout D]

Calls the SPIFFE Workload API on the agent's socket as this process (the agent attests the caller):
  fetch x509     the caller's X.509-SVIDs, their validity and the bundle's CAs; --write DIR writes
                 svid.N.pem, svid.N.key (PKCS#8, mode 0600), bundle.N.pem, federated_bundle.N.M.pem
  fetch jwt      a JWT-SVID for the audiences (--spiffe-id picks one of the caller's identities) and
                 the JWT bundles
  validate jwt   validates a JWT-SVID for an audience; prints its SPIFFE ID and claims

Options:
${SOCKET_HELP}
  --output FORMAT    pretty (default) or json

Exit codes: 0 done, 1 refused by the agent (no identity, invalid token or argument) or a file not
written, 2 usage error, 3 the agent unreachable, not ready (Unavailable) or its answer unusable.
`;

const HEALTH_USAGE = `Usage: signet-agent healthcheck [--shallow] [--verbose] [--socket PATH] [--timeout D]

Healthy (exit 0) when the agent answers a Workload API call on its socket: with SVIDs, or refusing
this caller (PermissionDenied still means it serves). An agent that answers Unavailable (not yet
synchronised with the server) is unhealthy unless --shallow. Unhealthy: exit 1, usage error: exit 2.

Options:
${SOCKET_HELP}
  --shallow          any gRPC answer counts, including Unavailable
  --verbose          say what was checked
`;

function parseFlags<O extends Options>(args: readonly string[], options: O, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: normalizeFlags(args), options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new ApiUsageError(oneLine(e instanceof Error ? e.message : String(e)).replace(/ To specify a positional argument.*$/, ""));
  }
  if (parsed.positionals.length > positionals) throw new ApiUsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`);
  return parsed;
}

function common(io: ApiIo, values: { socket?: string; timeout?: string }) {
  return { socketPath: resolveSocket(values.socket, io), timeoutMs: parseTimeout(values.timeout) };
}

async function withClient<T>(io: ApiIo, what: string, socketPath: string, timeoutMs: number, f: (c: WorkloadApiClient) => Promise<T>): Promise<T> {
  await checkSocket(socketPath);
  const client = new WorkloadApiClient({ socketPath, timeoutMs, signal: io.signal });
  try {
    return await f(client);
  } catch (e) {
    if (e instanceof ApiFailure) throw e;
    throw callFailure(e, what, socketPath, timeoutMs);
  } finally {
    client.close();
  }
}

async function fetchX509(io: ApiIo, args: readonly string[]): Promise<number> {
  const { values } = parseFlags(args, { ...COMMON_OPTIONS, write: { type: "string" }, silent: { type: "boolean" }, output: { type: "string" } }, 0);
  if (values.help) return help(io, API_USAGE);
  const { socketPath, timeoutMs } = common(io, values);
  const format = parseOutput(values.output);
  if (values.write === "") throw new ApiUsageError("--write needs a directory");
  const started = performance.now();
  const resp = await withClient(io, "fetch x509", socketPath, timeoutMs, (c) => c.fetchX509Svid());
  const elapsed = performance.now() - started;
  const checked = checkX509Response(resp);
  if (format === "json") io.stdout(formatX509Json(resp));
  else if (!values.silent) io.stdout(formatX509Pretty(checked, elapsed));
  if (values.write !== undefined) await writeX509(io, values.write, checked, format);
  return EXIT_OK;
}

async function fetchJwt(io: ApiIo, args: readonly string[]): Promise<number> {
  const { values } = parseFlags(args, { ...COMMON_OPTIONS, audience: { type: "string", multiple: true }, "spiffe-id": { type: "string" }, output: { type: "string" } }, 0);
  if (values.help) return help(io, API_USAGE);
  const { socketPath, timeoutMs } = common(io, values);
  const format = parseOutput(values.output);
  const aud = audiences(values.audience);
  if (aud.length === 0) throw new ApiUsageError("--audience must be specified (a comma-separated list, or repeated)");
  const [bundles, svids] = await withClient(io, "fetch jwt", socketPath, timeoutMs, async (c) => [await c.fetchJwtBundles(), await c.fetchJwtSvid(aud, values["spiffe-id"] ?? "")] as const);
  if (svids.length === 0) throw new ApiFailure("fetch jwt: the agent returned no JWT-SVID", EXIT_REFUSED);
  io.stdout(formatFetchJwt(format, svids, bundles));
  return EXIT_OK;
}

async function validateJwt(io: ApiIo, args: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...COMMON_OPTIONS, audience: { type: "string" }, svid: { type: "string" }, output: { type: "string" } }, 1);
  if (values.help) return help(io, API_USAGE);
  const { socketPath, timeoutMs } = common(io, values);
  const format = parseOutput(values.output);
  if (!values.audience) throw new ApiUsageError("--audience must be specified");
  if (values.svid !== undefined && positionals.length > 0) throw new ApiUsageError("give the token once: --svid TOKEN or TOKEN");
  const token = (values.svid ?? positionals[0] ?? "").trim();
  if (token === "") throw new ApiUsageError("--svid must be specified (the JWT-SVID to validate)");
  try {
    const resp = await withClient(io, "validate jwt", socketPath, timeoutMs, (c) => c.validateJwtSvid(values.audience!, token));
    io.stdout(formatValidateJwt(format, resp));
    return EXIT_OK;
  } catch (e) {
    // spire-agent's wording for a token the agent refuses.
    if (e instanceof ApiFailure && e.exitCode === EXIT_REFUSED && /invalid argument/.test(e.message)) {
      throw new ApiFailure(`SVID is not valid: ${e.message.replace(/^.*?\(invalid argument\): /, "")}`, EXIT_REFUSED);
    }
    throw e;
  }
}

function help(io: ApiIo, text: string): number {
  io.stdout(text);
  return EXIT_OK;
}

/** What one health probe found. */
type Probe = { readonly alive: true; readonly ready: boolean; readonly detail: string } | { readonly alive: false; readonly detail: string };

async function probe(io: ApiIo, socketPath: string, timeoutMs: number): Promise<Probe> {
  try {
    await checkSocket(socketPath);
  } catch (e) {
    return { alive: false, detail: (e as Error).message };
  }
  const client = new WorkloadApiClient({ socketPath, timeoutMs, signal: io.signal });
  try {
    await client.firstMessage("FetchX509Bundles");
    return { alive: true, ready: true, detail: "the agent answered FetchX509Bundles with bundles" };
  } catch (e) {
    if (!(e instanceof WorkloadCallError) || e.code === "bad_response") return { alive: false, detail: oneLine(e instanceof Error ? e.message : String(e)) };
    const failure = callFailure(e, "FetchX509Bundles", socketPath, timeoutMs);
    if (e.code === GrpcStatus.UNAVAILABLE) {
      if (/cannot connect/.test(failure.message)) return { alive: false, detail: failure.message };
      return { alive: true, ready: false, detail: failure.message };
    }
    if (e.code === GrpcStatus.DEADLINE_EXCEEDED || e.code === GrpcStatus.CANCELLED || e.code === GrpcStatus.INTERNAL || e.code === GrpcStatus.UNKNOWN) return { alive: false, detail: failure.message };
    // PermissionDenied (this caller has no identity) and any other status: the agent is serving.
    return { alive: true, ready: true, detail: `the agent answered: ${failure.message}` };
  } finally {
    client.close();
  }
}

async function healthcheck(io: ApiIo, args: readonly string[]): Promise<number> {
  const { values } = parseFlags(args, { ...COMMON_OPTIONS, shallow: { type: "boolean" }, verbose: { type: "boolean" } }, 0);
  if (values.help) return help(io, HEALTH_USAGE);
  const { socketPath, timeoutMs } = common(io, values);
  if (values.verbose) io.stdout(`Checking agent health on ${socketPath}...\n`);
  const p = await probe(io, socketPath, timeoutMs);
  if (values.verbose) io.stdout(`${p.detail}\n`);
  if (p.alive && (p.ready || values.shallow)) {
    io.stdout(p.ready ? "Agent is healthy.\n" : "Agent is alive (not ready yet).\n");
    return EXIT_OK;
  }
  io.stderr(`Agent is unhealthy: ${p.alive ? "not ready: " : ""}${p.detail}\n`);
  return EXIT_REFUSED;
}

/**
 * `signet-agent api …` (command "api") or `signet-agent healthcheck` (command "healthcheck");
 * `args` follow the command word. Returns the exit code; never throws.
 */
export async function apiMain(io: ApiIo, command: "api" | "healthcheck", args: readonly string[]): Promise<number> {
  try {
    if (command === "healthcheck") return await healthcheck(io, args);
    const [verb, kind, ...rest] = args;
    if (verb === undefined || verb === "-h" || verb === "--help" || verb === "help") {
      io.stdout(API_USAGE);
      return verb === undefined ? EXIT_USAGE : EXIT_OK;
    }
    if (verb === "fetch" && (kind === "x509" || kind === undefined || kind.startsWith("-"))) return await fetchX509(io, kind === "x509" ? rest : args.slice(1));
    if (verb === "fetch" && kind === "jwt") return await fetchJwt(io, rest);
    if (verb === "validate" && kind === "jwt") return await validateJwt(io, rest);
    throw new ApiUsageError(`unknown command "api ${[verb, kind].filter((w) => w !== undefined).join(" ")}" (signet-agent api --help)`);
  } catch (e) {
    if (e instanceof ApiFailure) {
      io.stderr(`signet-agent: ${oneLine(e.message, 1000)}\n`);
      return e.exitCode;
    }
    io.stderr(`signet-agent: internal error: ${oneLine(e instanceof Error ? e.message : String(e), 1000)}\n`);
    return EXIT_REFUSED;
  }
}
