/**
 * `signet-agent helper`'s configuration: spiffe-helper's `helper.conf` (HCL 1), decoded and checked
 * as spiffe-helper decodes and checks it (cmd/spiffe-helper/config), so an existing file works
 * unchanged:
 *
 * - unknown top-level keys, and unknown keys inside a `jwt_svids` element, are errors (keys inside
 *   `health_checks` that it does not know are ignored, as there);
 * - a repeated key: the last one wins; `jwt_svids` elements accumulate (`jwt_svids = [{…}, {…}]`
 *   and `jwt_svids { … }` blocks alike);
 * - strings also take numbers (their text); integers take numbers or numeric strings, with HCL 1's
 *   base: `0644` is octal, `644` decimal (= 01204); booleans only `true`/`false`;
 * - modes: 0 or absent → cert 0644, key 0600, JWT bundle 0600, JWT-SVID 0600; negative is an error;
 * - the three X.509 file names all or none; at least one of X.509, `jwt_svids`, `jwt_bundle_file_name`;
 * - `pid_file_name` needs `renew_signal` and daemon mode.
 *
 * Pure apart from what the caller passes in (the environment for the socket default).
 */
import { formatHclError, hclInteger, parseHcl, type HclEntry, type HclValue } from "../lib/hcl";
import { err, ok, type Result } from "../lib/result";

export interface JwtSvidConfig {
  readonly audience: string;
  readonly extraAudiences: readonly string[];
  readonly fileName: string;
}

export interface HealthChecksConfig {
  readonly listenerEnabled: boolean;
  readonly bindPort: number;
  readonly livenessPath: string;
  readonly readinessPath: string;
}

export interface HelperConfig {
  /** As written; "" when absent (the caller picks the socket). */
  readonly agentAddress: string;
  readonly cmd: string;
  readonly cmdArgs: readonly string[];
  readonly pidFileName: string;
  readonly certDir: string;
  readonly daemonMode: boolean;
  readonly addIntermediatesToBundle: boolean;
  readonly includeFederatedDomains: boolean;
  readonly omitExpired: boolean;
  readonly renewSignal: string;
  readonly svidFileName: string;
  readonly svidKeyFileName: string;
  readonly svidBundleFileName: string;
  readonly jwtSvids: readonly JwtSvidConfig[];
  readonly jwtBundleFileName: string;
  readonly certFileMode: number;
  readonly keyFileMode: number;
  readonly jwtBundleFileMode: number;
  readonly jwtSvidFileMode: number;
  readonly hint: string;
  readonly healthChecks: HealthChecksConfig;
  /** Things worth a warning that spiffe-helper accepts (ignored cmd in one-shot mode, decimal modes). */
  readonly warnings: readonly string[];
}

export const X509_ENABLED = (c: HelperConfig): boolean => c.svidFileName !== "";

type Kind = "string" | "int" | "bool";

const SCALARS: Readonly<Record<string, Kind>> = {
  add_intermediates_to_bundle: "bool",
  agent_address: "string",
  cmd: "string",
  cmd_args: "string",
  pid_file_name: "string",
  cert_dir: "string",
  cert_file_mode: "int",
  key_file_mode: "int",
  jwt_bundle_file_mode: "int",
  jwt_svid_file_mode: "int",
  include_federated_domains: "bool",
  omit_expired: "bool",
  renew_signal: "string",
  daemon_mode: "bool",
  hint: "string",
  svid_file_name: "string",
  svid_key_file_name: "string",
  svid_bundle_file_name: "string",
  jwt_bundle_file_name: "string",
};
const JWT_KEYS: Readonly<Record<string, Kind | "strings">> = { jwt_audience: "string", jwt_extra_audiences: "strings", jwt_svid_file_name: "string" };
const HEALTH_KEYS: Readonly<Record<string, Kind>> = { listener_enabled: "bool", bind_port: "int", liveness_path: "string", readiness_path: "string" };

class ConfigFail extends Error {}

const at = (v: { readonly pos: { line: number; column: number } }): string => `${v.pos.line}:${v.pos.column}`;

function scalar(key: string, kind: Kind, v: HclValue): string | number | boolean {
  if (kind === "bool") {
    if (v.kind === "bool") return v.value;
    throw new ConfigFail(`${at(v)}: ${key} must be true or false`);
  }
  if (kind === "string") {
    if (v.kind === "string") return v.value;
    if (v.kind === "number") return v.text;
    throw new ConfigFail(`${at(v)}: ${key} must be a string`);
  }
  const text = v.kind === "number" && !v.float ? v.text : v.kind === "string" ? v.value : undefined;
  const n = text === undefined ? undefined : hclInteger(text);
  if (n === undefined) throw new ConfigFail(`${at(v)}: ${key} must be an integer`);
  return n;
}

function strings(key: string, v: HclValue): string[] {
  if (v.kind !== "list") return [scalar(key, "string", v) as string];
  return v.items.map((i) => scalar(key, "string", i) as string);
}

function elements(v: HclValue): HclValue[] {
  return v.kind === "list" ? [...v.items] : [v];
}

function objectEntries(key: string, v: HclValue): readonly HclEntry[] {
  if (v.kind !== "object") throw new ConfigFail(`${at(v)}: ${key} must be a block or an object ({ … })`);
  return v.entries;
}

/** The octal text of a mode given in decimal digits that look octal (`444`): spiffe-helper reads 444 as decimal too. */
function decimalModeWarning(key: string, v: HclValue): string | undefined {
  if (v.kind === "number" && /^[0-7]{3,4}$/.test(v.text) && !v.text.startsWith("0")) {
    const n = Number(v.text);
    return `${key} = ${v.text} is decimal (mode 0${n.toString(8)}), as in spiffe-helper; write 0${v.text} for octal`;
  }
  return undefined;
}

/**
 * cmd_args → argv as spiffe-helper splits it (Go's encoding/csv with a space separator): fields
 * separated by single spaces (two spaces make an empty argument), a field in double quotes may hold
 * spaces and `""` for a quote, a quote elsewhere is an error; only the first line counts.
 */
export function splitCmdArgs(args: string): Result<string[], string> {
  if (args === "") return ok([]);
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (args[i] === '"') {
      i++;
      for (;;) {
        if (i >= args.length) return err('cmd_args: a quoted argument has no closing "');
        const c = args[i]!;
        if (c === '"') {
          if (args[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += c;
        i++;
      }
      if (i < args.length && args[i] !== " " && args[i] !== "\n" && !(args[i] === "\r" && args[i + 1] === "\n")) return err(`cmd_args: unexpected ${JSON.stringify(args[i])} after a closing quote (column ${i + 1})`);
    } else {
      while (i < args.length && args[i] !== " " && args[i] !== "\n") {
        if (args[i] === '"') return err(`cmd_args: a bare " in an unquoted argument (column ${i + 1}); quote the whole argument and double the quote`);
        field += args[i];
        i++;
      }
      if (args[i] === "\n" && field.endsWith("\r")) field = field.slice(0, -1);
    }
    out.push(field);
    if (i >= args.length || args[i] === "\n" || args[i] === "\r") return ok(out);
    i++; // the space
  }
}

export interface ConfigContext {
  /** `--daemon-mode[=bool]` when given: it wins over the file. */
  readonly daemonModeFlag?: boolean;
}

/** Parses and checks `helper.conf`'s text; one-line errors with line:column where there is one. */
export function parseHelperConfig(text: string, context: ConfigContext = {}): Result<HelperConfig, string> {
  const parsed = parseHcl(text);
  if (!parsed.ok) return err(formatHclError(parsed.error));
  try {
    return ok(decode(parsed.value, context));
  } catch (e) {
    if (e instanceof ConfigFail) return err(e.message);
    throw e;
  }
}

function decode(entries: readonly HclEntry[], context: ConfigContext): HelperConfig {
  const values: Record<string, string | number | boolean> = {};
  const warnings: string[] = [];
  const unknown = new Set<string>();
  const jwtSvids: JwtSvidConfig[] = [];
  const health: Record<string, string | number | boolean> = {};
  for (const e of entries) {
    const kind = SCALARS[e.key];
    if (kind) {
      values[e.key] = scalar(e.key, kind, e.value);
      if (kind === "int") {
        const w = decimalModeWarning(e.key, e.value);
        if (w) warnings.push(w);
      }
    } else if (e.key === "jwt_svids") {
      for (const el of elements(e.value)) {
        const index = jwtSvids.length;
        const got: Record<string, string | string[]> = {};
        const bad = new Set<string>();
        for (const j of objectEntries(`jwt_svids[${index}]`, el)) {
          const k = JWT_KEYS[j.key];
          if (k === undefined) bad.add(j.key);
          else got[j.key] = k === "strings" ? strings(j.key, j.value) : (scalar(j.key, k, j.value) as string);
        }
        if (bad.size > 0) throw new ConfigFail(`unknown key(s) in jwt_svids[${index}]: ${[...bad].sort().join(",")}`);
        jwtSvids.push({ audience: (got.jwt_audience as string | undefined) ?? "", extraAudiences: (got.jwt_extra_audiences as string[] | undefined) ?? [], fileName: (got.jwt_svid_file_name as string | undefined) ?? "" });
      }
    } else if (e.key === "health_checks") {
      for (const el of elements(e.value))
        for (const h of objectEntries("health_checks", el)) {
          const k = HEALTH_KEYS[h.key];
          if (k === undefined) warnings.push(`health_checks.${h.key} is not a known key; ignored`);
          else health[h.key] = scalar(`health_checks.${h.key}`, k, h.value);
        }
    } else unknown.add(e.key);
  }
  if (unknown.size > 0) throw new ConfigFail(`unknown top level key(s): ${[...unknown].sort().join(",")}`);

  const str = (k: string): string => (values[k] as string | undefined) ?? "";
  const bool = (k: string): boolean => (values[k] as boolean | undefined) ?? false;
  const mode = (k: string, fallback: number, what: string): number => {
    const n = (values[k] as number | undefined) ?? 0;
    if (n < 0) throw new ConfigFail(`${what} file mode must be positive`);
    if (n > 0o7777) throw new ConfigFail(`${k} ${n} is not a file mode (at most 07777)`);
    return n === 0 ? fallback : n;
  };

  for (const j of jwtSvids) {
    if (j.fileName === "") throw new ConfigFail("'jwt_svid_file_name' is required in 'jwt_svids'");
    if (j.audience === "") throw new ConfigFail("'jwt_audience' is required in 'jwt_svids'");
  }
  const daemonMode = context.daemonModeFlag ?? ((values.daemon_mode as boolean | undefined) ?? true);
  if (!daemonMode) {
    if (str("cmd") !== "") warnings.push("cmd is set but daemon_mode is false: cmd will be ignored");
    if (str("renew_signal") !== "") warnings.push("renew_signal is set but daemon_mode is false: renew_signal will be ignored");
    if (str("pid_file_name") !== "") throw new ConfigFail("pid_file_name is set but daemon_mode is false. pid_file_name is only supported in daemon_mode");
  }
  if (str("pid_file_name") !== "" && str("renew_signal") === "") throw new ConfigFail("must specify renew_signal when using pid_file_name");
  const renewSignal = str("renew_signal");
  if (renewSignal !== "" && !/^SIG[A-Z0-9]+$/.test(renewSignal)) throw new ConfigFail(`renew_signal ${JSON.stringify(renewSignal)} is not a signal name (e.g. "SIGHUP", "SIGUSR1")`);

  const x509Names = [str("svid_file_name"), str("svid_key_file_name"), str("svid_bundle_file_name")];
  const empty = x509Names.filter((n) => n === "").length;
  if (empty !== 0 && empty !== 3) throw new ConfigFail("all or none of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must be specified");
  if (empty === 3 && str("jwt_bundle_file_name") === "" && jwtSvids.length === 0)
    throw new ConfigFail("at least one of the sets ('svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'), 'jwt_svids', or 'jwt_bundle_file_name' must be fully specified");

  const cmdArgs = splitCmdArgs(str("cmd_args"));
  if (!cmdArgs.ok) throw new ConfigFail(cmdArgs.error);

  const listenerEnabled = (health.listener_enabled as boolean | undefined) ?? false;
  const bindPort = (health.bind_port as number | undefined) ?? 0;
  if (listenerEnabled && (bindPort < 0 || bindPort > 65535)) throw new ConfigFail(bindPort < 0 ? "bind port must be positive" : `health_checks.bind_port ${bindPort} is not a port`);

  return {
    agentAddress: str("agent_address"),
    cmd: str("cmd"),
    cmdArgs: cmdArgs.value,
    pidFileName: str("pid_file_name"),
    certDir: str("cert_dir"),
    daemonMode,
    addIntermediatesToBundle: bool("add_intermediates_to_bundle"),
    includeFederatedDomains: bool("include_federated_domains"),
    omitExpired: bool("omit_expired"),
    renewSignal,
    svidFileName: x509Names[0]!,
    svidKeyFileName: x509Names[1]!,
    svidBundleFileName: x509Names[2]!,
    jwtSvids,
    jwtBundleFileName: str("jwt_bundle_file_name"),
    certFileMode: mode("cert_file_mode", 0o644, "cert"),
    keyFileMode: mode("key_file_mode", 0o600, "key"),
    jwtBundleFileMode: mode("jwt_bundle_file_mode", 0o600, "jwt bundle"),
    jwtSvidFileMode: mode("jwt_svid_file_mode", 0o600, "jwt svid"),
    hint: str("hint"),
    healthChecks: {
      listenerEnabled,
      bindPort: bindPort === 0 ? 8081 : bindPort,
      livenessPath: (health.liveness_path as string | undefined) || "/live",
      readinessPath: (health.readiness_path as string | undefined) || "/ready",
    },
    warnings,
  };
}
