/**
 * `signet-agent helper -config helper.conf [-daemon-mode[=false]]`: spiffe-helper's command line
 * (Go flag spellings `-config FILE`, `-config=FILE`, `--config FILE`; `-daemon-mode=false` overrides
 * the file's `daemon_mode`; `-version`, `-help`) on helper.ts.
 *
 * Exit codes: 0 one-shot done, or the daemon stopped by SIGINT/SIGTERM; 1 refused by the agent
 * (PermissionDenied), a file not written; 2 usage or configuration error; 3 the agent unreachable,
 * not ready or its answer unusable (one-shot mode; the daemon retries instead).
 */
import { resolve } from "node:path";
import { readRegularFile } from "../node/input-file";
import { ApiFailure, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, resolveSocket, type ApiIo } from "./api-common";
import { parseHelperConfig } from "./helper-config";
import { knownSignal } from "./helper-signal";
import { Helper, HelperFailure } from "./helper";
import { createLogger, LOG_LEVELS, type LogLevel } from "./log";
import { oneLine } from "./server-client";

export const HELPER_USAGE = `Usage: signet-agent helper [-config FILE] [-daemon-mode[=true|false]]

spiffe-helper for Signet: reads spiffe-helper's helper.conf (HCL; default ./helper.conf), fetches the
X.509-SVID, key and bundle (and JWT-SVIDs and JWT bundles when configured) from the agent's Workload
API, writes them to cert_dir (each file staged then renamed; keys 0600 unless key_file_mode says),
and after every new SVID or bundle starts cmd or signals it (renew_signal), and signals the process
in pid_file_name. daemon_mode (default true) keeps running; false writes once and exits.

Options:
  -config FILE                 the configuration file (also --config)
  -daemon-mode[=true|false]    overrides daemon_mode
  -version                     print the version
  -h, -help                    show this help

The agent's socket: agent_address, else $SPIFFE_ENDPOINT_SOCKET, else $SIGNET_AGENT_SOCKET, else
/run/signet/agent.sock. Logs: JSON lines on stderr ($SIGNET_AGENT_LOG_LEVEL, default info).

Exit codes: 0 done (or stopped by SIGINT/SIGTERM), 1 refused by the agent or a file not written,
2 usage or configuration error, 3 the agent unreachable, not ready or its answer unusable.
`;

interface HelperArgs {
  readonly config: string;
  readonly daemonMode?: boolean;
  readonly help: boolean;
  readonly version: boolean;
}

class UsageError extends Error {}

/** Go's flag syntax: one or two dashes, `-name value` or `-name=value`; booleans only `=value`. */
export function parseHelperArgs(args: readonly string[]): HelperArgs {
  let config = "helper.conf";
  let daemonMode: boolean | undefined;
  let help = false;
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--?([a-zA-Z][a-zA-Z-]*)(?:=(.*))?$/s.exec(a);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(a)} (signet-agent helper -help)`);
    const [, name, value] = m;
    if (name === "config") {
      const v = value ?? args[++i];
      if (v === undefined || v === "") throw new UsageError("-config needs a file");
      config = v;
    } else if (name === "daemon-mode" || name === "daemonMode") {
      if (value === undefined || /^(1|t|true|TRUE|True)$/.test(value)) daemonMode = true;
      else if (/^(0|f|false|FALSE|False)$/.test(value)) daemonMode = false;
      else throw new UsageError(`-daemon-mode=${value}: expected true or false`);
    } else if (name === "h" || name === "help") help = true;
    else if (name === "version") version = true;
    else throw new UsageError(`unknown flag -${name} (signet-agent helper -help)`);
  }
  return { config, ...(daemonMode !== undefined ? { daemonMode } : {}), help, version };
}

export async function helperMain(io: ApiIo, args: readonly string[], version: string): Promise<number> {
  try {
    const a = parseHelperArgs(args);
    if (a.help) {
      io.stdout(HELPER_USAGE);
      return EXIT_OK;
    }
    if (a.version) {
      io.stdout(`signet-agent ${version}\n`);
      return EXIT_OK;
    }
    const levelEnv = io.env.SIGNET_AGENT_LOG_LEVEL;
    const level: LogLevel = levelEnv !== undefined && (LOG_LEVELS as readonly string[]).includes(levelEnv) ? (levelEnv as LogLevel) : "info";
    const log = createLogger({ level, write: io.stderr });
    const path = resolve(io.cwd, a.config);
    const read = await readRegularFile(path, 1 << 20);
    if (!read.ok) {
      const why = read.error.reason === "unreadable" ? read.error.code : read.error.reason === "too_large" ? "larger than 1 MiB" : `a ${read.error.kind}, not a file`;
      throw new UsageError(`cannot read the configuration ${path}: ${why}`);
    }
    const parsed = parseHelperConfig(Buffer.from(read.value).toString("utf8"), a.daemonMode !== undefined ? { daemonModeFlag: a.daemonMode } : {});
    if (!parsed.ok) throw new UsageError(`${path}: ${parsed.error}`);
    const config = parsed.value;
    if (config.renewSignal !== "" && !knownSignal(config.renewSignal)) throw new UsageError(`${path}: renew_signal ${config.renewSignal} is not a signal on this system`);
    const socketPath = resolveSocket(config.agentAddress === "" ? undefined : config.agentAddress, io);
    for (const w of config.warnings) log.warn(w);
    const helper = new Helper({ config, socketPath, cwd: io.cwd, env: io.env, log });
    log.info("starting helper", { config: path, socket: socketPath, daemon_mode: config.daemonMode, cert_dir: resolve(io.cwd, config.certDir) });
    if (!config.daemonMode) {
      await helper.runOnce(io.signal);
      log.info("files written; exiting (daemon_mode = false)");
      return EXIT_OK;
    }
    await helper.runDaemon(io.signal);
    log.info("stopped");
    return EXIT_OK;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`signet-agent: helper: ${oneLine(e.message, 1000)}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof HelperFailure || e instanceof ApiFailure) {
      io.stderr(`signet-agent: helper: ${oneLine(e.message, 1000)}\n`);
      return e.exitCode;
    }
    io.stderr(`signet-agent: helper: internal error: ${oneLine(e instanceof Error ? e.message : String(e), 1000)}\n`);
    return EXIT_REFUSED;
  }
}
