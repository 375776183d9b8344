/**
 * `signet-agent run`: attest the node, keep the agent SVID fresh, sync the authorized entries and
 * their SVIDs into memory, and serve them over the SPIFFE Workload API on a unix socket.
 *
 * Exit codes: 0 stopped by SIGINT/SIGTERM, 1 the server refused the agent (attestation refused, a
 * ban, an SVID that can no longer be renewed or re-attested), 2 usage or configuration error, 3 the
 * server unreachable at start or its answers unusable, or no evidence (no TEE, not root).
 * Errors are one line on stderr (`signet-agent: …`); logs are JSON lines on stderr.
 */
import { stat, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { systemClock, type Clock } from "../lib/clock";
import type { Attester } from "../lib/kbs/guest";
import { sampleAttester } from "../node/attesters/sample";
import { tsmAttester } from "../node/attesters/tsm";
import { AgentFatalError, AgentIdentity, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE } from "./agent-identity";
import { joinTokenAttestor, teeAttestor, x509PopAttestor, type NodeAttestor } from "./attestation";
import { bundleSetFromAuthorities } from "./bundles";
import { AgentCache } from "./cache";
import { FLAG_KEYS, fromEnv, fromFileText, resolveConfig, type AgentConfig, type RawConfig } from "./config";
import { createLogger, type Logger } from "./log";
import { AgentServerClient, oneLine, type Fetch } from "./server-client";
import { releaseFreedMemory } from "./memory";
import { SyncLoop, defaultSleep } from "./sync";
import { SocketPathError, socketPathFrom, startWorkloadApi, type WorkloadApiServer } from "./workload";
import { prepareSocketPath } from "./workload/socket";
import { loadX509PopCredential } from "./x509pop";

export const VERSION = "0.1.0";

const USAGE = `Usage: signet-agent run --server URL --socket unix:///path/agent.sock
                        --attestation sample|snp|tdx|join-token:TOKEN|x509pop:CERT,KEY
                        [--config FILE] [--data-dir DIR] [--log-level debug|info|warn|error] [--tsm-dir DIR]
       signet-agent api fetch x509|fetch jwt|validate jwt …   (signet-agent api --help)
       signet-agent healthcheck [--shallow] [--verbose]      (signet-agent healthcheck --help)
       signet-agent helper -config helper.conf [-daemon-mode=false]   (spiffe-helper; helper -help)

Attests this node to Signet, keeps its agent SVID fresh (renewed at half-life, re-attested when
allowed), syncs the registration entries it is authorized for, holds their X.509-SVIDs (keys in
memory only) and JWT-SVIDs, and serves them over the SPIFFE Workload API on the unix socket.

Options (also SIGNET_AGENT_<NAME> in the environment, or <name> in a JSON/TOML config file;
flags win over the environment, which wins over the file):
  --server URL          Signet's base URL (https; http only to localhost)
  --socket URI          the Workload API socket: unix:///absolute/path.sock
  --attestation METHOD  sample (development evidence), snp or tdx (configfs-tsm), join-token:TOKEN
                        (single use; prefer SIGNET_AGENT_ATTESTATION so it stays out of ps), or
                        x509pop:CERT,KEY (a bootstrap certificate chain PEM and its PKCS#8 key PEM)
  --config FILE         settings file (server, socket, attestation, data_dir, log_level, tsm_dir)
  --data-dir DIR        a directory for non-secret state; must exist (the agent keeps nothing on disk today)
  --log-level LEVEL     default info
  --tsm-dir DIR         configfs-tsm report directory (default /sys/kernel/config/tsm/report)
  -h, --help            show this help

Exit codes: 0 stopped by a signal, 1 refused by the server, 2 usage error, 3 server unreachable
or its answer unusable, or no evidence.
`;

export interface AgentIo {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly fetch?: Fetch;
  readonly clock?: Clock;
  /** Aborts the agent (main wires SIGINT and SIGTERM to it). */
  readonly signal: AbortSignal;
}

class UsageError extends Error {}

const MAX_FILE_BYTES = 1024 * 1024;

async function readSmallFile(path: string, what: string): Promise<string> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`${what} ${path} is not a regular file`);
    size = s.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if (size > MAX_FILE_BYTES) throw new UsageError(`${what} ${path} is larger than 1 MiB`);
  return readFile(path, "utf8");
}

async function loadConfig(io: AgentIo, args: readonly string[]): Promise<AgentConfig | "help"> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(Object.keys(FLAG_KEYS).map((f) => [f, { type: "string" as const }])),
      },
    });
  } catch (e) {
    throw new UsageError(oneLine(e instanceof Error ? e.message : String(e)));
  }
  if (parsed.values.help) return "help";
  const flags: RawConfig = {};
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const v = (parsed.values as Record<string, unknown>)[flag];
    if (typeof v === "string") flags[key] = v;
  }
  const env = fromEnv(io.env);
  const file = (parsed.values.config as string | undefined) ?? io.env.SIGNET_AGENT_CONFIG;
  let fromFile: RawConfig = {};
  if (file !== undefined) {
    const path = resolve(io.cwd, file);
    const parsedFile = fromFileText(await readSmallFile(path, "the config file"), path);
    if (!parsedFile.ok) throw new UsageError(parsedFile.error);
    fromFile = parsedFile.value;
  }
  const config = resolveConfig([flags, env, fromFile], io.cwd);
  if (!config.ok) throw new UsageError(config.error);
  if (config.value.dataDir !== undefined) {
    const s = await stat(config.value.dataDir).catch(() => undefined);
    if (!s?.isDirectory()) throw new UsageError(`--data-dir ${config.value.dataDir} is not a directory`);
  }
  return config.value;
}

async function attestorFor(config: AgentConfig, io: AgentIo, log: Logger): Promise<NodeAttestor> {
  const a = config.attestation;
  if (a.kind === "join_token") return joinTokenAttestor(a.token);
  if (a.kind === "x509pop") {
    const credential = await loadX509PopCredential(await readSmallFile(a.certPath, "the x509pop certificate"), await readSmallFile(a.keyPath, "the x509pop key"));
    if (!credential.ok) throw new UsageError(`x509pop: ${credential.error}`);
    return x509PopAttestor(credential.value);
  }
  const attester: Attester =
    a.tee === "sample" ? sampleAttester : tsmAttester({ tee: a.tee, ...(config.tsmDir ? { root: config.tsmDir } : {}), warn: (m) => log.warn("configfs-tsm", { detail: m }) });
  return teeAttestor({ attester, server: config.server, ...(io.fetch ? { fetch: io.fetch } : {}) });
}

/** The first attestation: retried while the server cannot be reached (1, 2, 4, 8 s), then exit 3. */
async function firstAttestation(identity: AgentIdentity, log: Logger, signal: AbortSignal): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await identity.attest();
    if (r.ok) return;
    const code = r.error.reason === "evidence" || attempt >= 5 ? EXIT_UNREACHABLE : undefined;
    if (code !== undefined || signal.aborted) throw new AgentFatalError(`node attestation failed: ${r.error.detail}`, EXIT_UNREACHABLE);
    const wait = 1000 * 2 ** (attempt - 1);
    log.warn("node attestation failed; retrying", { detail: r.error.detail, attempt, retry_in_ms: wait });
    await defaultSleep(wait, signal);
  }
}

async function run(io: AgentIo, config: AgentConfig): Promise<number> {
  const localClock = io.clock ?? systemClock;
  const log = createLogger({ level: config.logLevel, write: io.stderr, now: () => localClock.now() });
  const attestor = await attestorFor(config, io, log);
  // A socket path that cannot be served fails now, before a join token is spent on attestation.
  try {
    await prepareSocketPath(socketPathFrom(config.socketPath));
  } catch (e) {
    if (e instanceof SocketPathError) throw new UsageError(`--socket: ${e.message}`);
    throw e;
  }
  const client = new AgentServerClient({
    server: config.server,
    clock: localClock,
    ...(io.fetch ? { fetch: io.fetch } : {}),
    onSkew: (offsetMs) => log.warn("clock skew with the server: proofs and SVID lifetimes use the server's time", { offset_seconds: Math.round(offsetMs / 1000) }),
  });
  // Everything that compares with server-issued times (SVID lifetimes, proofs) uses the server's clock.
  const clock: Clock = { now: () => client.serverNow() };
  const random = Math.random;
  const identity = new AgentIdentity({ client, attestor, clock, random, log });
  log.info("starting", { version: VERSION, server: config.server.origin, method: attestor.method, socket: config.socketPath });
  await firstAttestation(identity, log, io.signal);
  const trustDomain = identity.current.spiffeId.slice("spiffe://".length).split("/")[0]!;
  const cache = new AgentCache({ trustDomain, clock, mintJwtSvid: (entryId, audience) => client.signJwtSvid(entryId, audience) });
  cache.setBundles(bundleSetFromAuthorities(trustDomain, identity.current.bundle));

  let api: WorkloadApiServer;
  try {
    // It answers Unavailable until the first sync round has completed (cache.ready()).
    api = await startWorkloadApi({ socket: config.socketPath, state: cache, logger: log, now: () => clock.now() });
  } catch (e) {
    if (e instanceof SocketPathError) throw new UsageError(`--socket: ${e.message}`);
    throw e;
  }
  log.info("workload api listening", { socket: api.socketPath });
  const loop = new SyncLoop({ client, cache, identity, clock, random, log, afterSigning: releaseFreedMemory });
  try {
    await loop.run(io.signal);
  } finally {
    await api.close();
  }
  log.info("stopped", { rounds: loop.rounds });
  return 0;
}

export async function main(io: AgentIo): Promise<number> {
  const [command, ...rest] = io.argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    io.stdout(USAGE);
    return command === undefined ? EXIT_USAGE : 0;
  }
  if (command === "--version" || command === "version") {
    io.stdout(`signet-agent ${VERSION}\n`);
    return 0;
  }
  // The client commands load grpc-js (workload-client.ts); `run` never does, so they are loaded only here.
  if (command === "api" || command === "healthcheck") return (await import("./api-cli")).apiMain(io, command, rest);
  if (command === "helper") return (await import("./helper-cli")).helperMain(io, rest, VERSION);
  try {
    if (command !== "run") throw new UsageError(`unknown command ${JSON.stringify(command)} (signet-agent run --help, api --help, healthcheck --help, helper -help)`);
    const config = await loadConfig(io, rest);
    if (config === "help") {
      io.stdout(USAGE);
      return 0;
    }
    return await run(io, config);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`signet-agent: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof AgentFatalError) {
      io.stderr(`signet-agent: ${oneLine(e.message, 1000)}\n`);
      return e.exitCode;
    }
    io.stderr(`signet-agent: internal error: ${oneLine(e instanceof Error ? e.message : String(e), 1000)}\n`);
    return EXIT_REFUSED;
  }
}
