/**
 * signet-agent's configuration: flags, then `SIGNET_AGENT_*` environment variables, then a config
 * file (`--config FILE` or `SIGNET_AGENT_CONFIG`; JSON, or TOML unless it ends in .json), then
 * defaults. Parsed once into one typed value; a bad value is a one-line usage error.
 *
 *   server       https URL of Signet (http only to a loopback address)   SIGNET_AGENT_SERVER
 *   socket       unix:///abs/path.sock (the Workload API)                 SIGNET_AGENT_SOCKET
 *   attestation  sample | snp | tdx | join-token:TOKEN | x509pop:CERT,KEY SIGNET_AGENT_ATTESTATION
 *   data_dir     a directory for non-secret state (none is kept today)   SIGNET_AGENT_DATA_DIR
 *   log_level    debug | info | warn | error (default info)              SIGNET_AGENT_LOG_LEVEL
 *   tsm_dir      the configfs-tsm report directory (snp, tdx)            SIGNET_AGENT_TSM_DIR
 */
import { isAbsolute, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { err, ok, type Result } from "../lib/result";
import { LOG_LEVELS, type LogLevel } from "./log";

export type AttestationConfig =
  | { readonly kind: "tee"; readonly tee: "sample" | "snp" | "tdx" }
  | { readonly kind: "join_token"; readonly token: string }
  | { readonly kind: "x509pop"; readonly certPath: string; readonly keyPath: string };

export interface AgentConfig {
  readonly server: URL;
  /** Absolute path of the Workload API socket. */
  readonly socketPath: string;
  readonly attestation: AttestationConfig;
  readonly dataDir: string | undefined;
  readonly logLevel: LogLevel;
  readonly tsmDir: string | undefined;
}

const KEYS = ["server", "socket", "attestation", "data_dir", "log_level", "tsm_dir"] as const;
type Key = (typeof KEYS)[number];
export type RawConfig = Partial<Record<Key, string>>;

export const ENV_PREFIX = "SIGNET_AGENT_";

/** `run`'s flags (kebab-case) → keys; `config` is handled by the caller. */
export const FLAG_KEYS: Readonly<Record<string, Key>> = {
  server: "server",
  socket: "socket",
  attestation: "attestation",
  "data-dir": "data_dir",
  "log-level": "log_level",
  "tsm-dir": "tsm_dir",
};

export function fromEnv(env: Readonly<Record<string, string | undefined>>): RawConfig {
  const out: RawConfig = {};
  for (const k of KEYS) {
    const v = env[`${ENV_PREFIX}${k.toUpperCase()}`];
    if (v !== undefined && v !== "") out[k] = v;
  }
  return out;
}

/** A config file's text: a flat object of the keys above (also accepted with dashes). */
export function fromFileText(text: string, path: string): Result<RawConfig, string> {
  let data: unknown;
  try {
    data = path.endsWith(".json") || /^\s*\{/.test(text) ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    return err(`${path} is not valid ${path.endsWith(".json") ? "JSON" : "TOML or JSON"}: ${e instanceof Error ? e.message.split("\n")[0] : "parse error"}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return err(`${path} must hold a table of settings`);
  const out: RawConfig = {};
  for (const [name, value] of Object.entries(data)) {
    const key = name.replace(/-/g, "_") as Key;
    if (!(KEYS as readonly string[]).includes(key)) return err(`${path}: unknown setting ${JSON.stringify(name)} (known: ${KEYS.join(", ")})`);
    if (typeof value !== "string") return err(`${path}: ${name} must be a string`);
    out[key] = value;
  }
  return ok(out);
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

function parseServer(s: string): Result<URL, string> {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return err(`--server: ${JSON.stringify(s)} is not a URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) return err("--server must be an https URL (http only to localhost)");
  if (url.username || url.password || url.search || url.hash) return err("--server must not carry credentials, a query or a fragment");
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return ok(url);
}

/** `unix:///abs/path` (the SPIFFE endpoint form) or an absolute path. */
export function parseSocket(s: string, cwd: string): Result<string, string> {
  if (s.startsWith("unix:")) {
    // go-spiffe's forms: unix:///abs/path or unix:/abs/path; no authority, query or fragment.
    const path = /^unix:\/\/(\/[^?#]+)$/.exec(s)?.[1] ?? /^unix:(\/[^/?#][^?#]*)$/.exec(s)?.[1];
    return path ? ok(path) : err("--socket must be unix:///absolute/path.sock");
  }
  if (s.includes("://")) return err("--socket must be unix:///absolute/path.sock (tcp is not served)");
  return ok(isAbsolute(s) ? s : resolve(cwd, s));
}

export function parseAttestation(s: string, cwd: string): Result<AttestationConfig, string> {
  if (s === "sample" || s === "snp" || s === "tdx") return ok({ kind: "tee", tee: s });
  if (s.startsWith("join-token:")) {
    const token = s.slice("join-token:".length);
    if (!/^[A-Za-z0-9._~-]{1,128}$/.test(token)) return err("--attestation join-token:TOKEN needs the token `signet token generate` printed");
    return ok({ kind: "join_token", token });
  }
  if (s.startsWith("x509pop:")) {
    const parts = s.slice("x509pop:".length).split(",");
    if (parts.length !== 2 || !parts[0] || !parts[1]) return err("--attestation x509pop:CERT,KEY needs the certificate and key files, comma-separated");
    return ok({ kind: "x509pop", certPath: resolve(cwd, parts[0]), keyPath: resolve(cwd, parts[1]) });
  }
  return err("--attestation must be sample, snp, tdx, join-token:TOKEN or x509pop:CERT,KEY");
}

/** Merges the layers (earlier wins) and checks every value. */
export function resolveConfig(layers: readonly RawConfig[], cwd: string): Result<AgentConfig, string> {
  const raw: RawConfig = {};
  for (const layer of [...layers].reverse()) Object.assign(raw, layer);
  if (raw.server === undefined) return err("--server is required (or SIGNET_AGENT_SERVER, or server in the config file)");
  if (raw.socket === undefined) return err("--socket is required (unix:///path/agent.sock)");
  if (raw.attestation === undefined) return err("--attestation is required (sample, snp, tdx, join-token:TOKEN or x509pop:CERT,KEY)");
  const server = parseServer(raw.server);
  if (!server.ok) return server;
  const socketPath = parseSocket(raw.socket, cwd);
  if (!socketPath.ok) return socketPath;
  const attestation = parseAttestation(raw.attestation, cwd);
  if (!attestation.ok) return attestation;
  const logLevel = raw.log_level ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) return err(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  if (raw.tsm_dir !== undefined && (attestation.value.kind !== "tee" || attestation.value.tee === "sample")) return err("--tsm-dir applies to --attestation snp or tdx");
  return ok({
    server: server.value,
    socketPath: socketPath.value,
    attestation: attestation.value,
    dataDir: raw.data_dir === undefined ? undefined : resolve(cwd, raw.data_dir),
    logLevel: logLevel as LogLevel,
    tsmDir: raw.tsm_dir === undefined ? undefined : resolve(cwd, raw.tsm_dir),
  });
}
