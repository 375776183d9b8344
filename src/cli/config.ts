/**
 * Where the CLI talks to, and with which admin token.
 *
 * Server: `--server`, else `SIGNET_SERVER`, else the local `wrangler dev` address.
 * Token: `SIGNET_ADMIN_TOKEN`, else the same key in `.dev.vars` in the working directory (the file
 * `npm run dev` writes), so local use needs no setup. The token is never printed.
 */
import { join } from "node:path";
import { err, ok, type Result } from "../lib/result";
import { usageError, oneLine, type CliFailure } from "./failure";
import { readRegularFile } from "../node/input-file";

export const DEFAULT_SERVER = "http://127.0.0.1:8787";
export const SERVER_ENV = "SIGNET_SERVER";
export const TOKEN_ENV = "SIGNET_ADMIN_TOKEN";
export const DEV_VARS_FILE = ".dev.vars";
/** A .dev.vars holds a few short lines; anything larger is not one. */
const DEV_VARS_MAX_BYTES = 64 * 1024;

export type Env = Readonly<Record<string, string | undefined>>;

/** The server's base URL, always ending in `/` so that relative paths keep any path prefix. */
export function resolveServer(flag: string | undefined, env: Env): Result<URL, CliFailure> {
  const fromEnv = env[SERVER_ENV];
  const raw = flag ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_SERVER);
  const source = flag !== undefined ? "--server" : raw === DEFAULT_SERVER ? "the default server" : SERVER_ENV;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return err(usageError(`${source} is not a URL: '${oneLine(raw, 200)}'`));
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return err(usageError(`${source} must be an http:// or https:// URL, got '${url.protocol}'`));
  }
  if (url.username !== "" || url.password !== "") {
    return err(usageError(`${source} must not contain credentials; the admin token comes from ${TOKEN_ENV}`));
  }
  if (url.search !== "" || url.hash !== "") {
    return err(usageError(`${source} must not have a query or fragment`));
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return ok(url);
}

/** True when the token would cross the network unencrypted (http:// to a non-loopback host). */
export function isCleartextRemote(server: URL): boolean {
  if (server.protocol !== "http:") return false;
  const host = server.hostname;
  return !(host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/** Visible ASCII only: anything else would be refused by fetch, whose message would echo it. */
const TOKEN_SYNTAX = /^[\x21-\x7e]+$/;

export async function resolveAdminToken(env: Env, cwd: string): Promise<Result<string, CliFailure>> {
  let token = env[TOKEN_ENV];
  let source = TOKEN_ENV;
  if (token === undefined || token === "") {
    const path = join(cwd, DEV_VARS_FILE);
    const read = await readRegularFile(path, DEV_VARS_MAX_BYTES);
    if (!read.ok) {
      const e = read.error;
      if (e.reason === "unreadable" && (e.code === "ENOENT" || e.code === "ENOTDIR")) {
        return err(usageError(`no admin token: set ${TOKEN_ENV} or run in a directory whose ${DEV_VARS_FILE} defines it`));
      }
      const why = e.reason === "not_regular_file" ? `not a regular file: a ${e.kind}` : e.reason === "too_large" ? `larger than ${e.maxBytes} bytes` : e.code;
      return err(usageError(`no admin token in ${TOKEN_ENV}, and ${path} cannot be read (${why})`));
    }
    token = parseDotenv(new TextDecoder().decode(read.value)).get(TOKEN_ENV);
    source = path;
    if (token === undefined || token === "") {
      return err(usageError(`no admin token: ${TOKEN_ENV} is not set in the environment or in ${path}`));
    }
  }
  if (!TOKEN_SYNTAX.test(token)) {
    return err(usageError(`the admin token from ${source} contains spaces or non-printable characters`));
  }
  return ok(token);
}

/**
 * Parses dotenv-style text: `KEY=VALUE` lines, optional `export `, `#` comment lines, values in
 * single quotes (literal), double quotes (`\n`, `\"`, `\\` escapes) or bare (a ` #` starts a comment).
 * Lines that are not assignments are ignored. A later assignment wins.
 */
export function parseDotenv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!;
    const rest = m[2]!;
    const quote = rest[0];
    let value: string;
    if ((quote === '"' || quote === "'") && rest.indexOf(quote, 1) !== -1) {
      const end = quote === '"' ? closingDoubleQuote(rest) : rest.indexOf(quote, 1);
      const inner = rest.slice(1, end);
      value = quote === '"' ? inner.replace(/\\([n"\\])/g, (_, c: string) => (c === "n" ? "\n" : c)) : inner;
    } else {
      const hash = rest.search(/\s#/);
      value = (hash === -1 ? rest : rest.slice(0, hash)).trim();
    }
    out.set(key, value);
  }
  return out;
}

function closingDoubleQuote(s: string): number {
  for (let i = 1; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === '"') return i;
  }
  return s.length;
}
