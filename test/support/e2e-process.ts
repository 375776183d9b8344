/**
 * Helpers for the end-to-end tests (test/e2e): run the real `signet` CLI and `openssl` as child
 * processes against the `npm run dev` server that test/e2e/global-setup.ts started.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the CLI runs here so that it reads the `.dev.vars` that `npm run dev` wrote. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion; never rejects on a non-zero exit (the caller asserts on `code`). */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          // Not a plain non-zero exit: spawn failure, timeout or signal.
          reject(new Error(`${file} ${args.join(" ")}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The real CLI, `node bin/signet.mjs …`, from the repository root, talking to `server`. */
export function signet(server: string, args: readonly string[]): Promise<ProcessResult> {
  // The admin token must come from .dev.vars, as for a developer: drop any token in our own env.
  const env: NodeJS.ProcessEnv = { ...process.env, SIGNET_SERVER: server };
  delete env.SIGNET_ADMIN_TOKEN;
  return run(process.execPath, ["bin/signet.mjs", ...args], { cwd: REPO_ROOT, env });
}

/** Like `signet`, but fails the test (with the CLI's stderr) unless it exits 0. */
export async function signetOk(server: string, args: readonly string[]): Promise<string> {
  const r = await signet(server, args);
  if (r.code !== 0) throw new Error(`signet ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

export function openssl(args: readonly string[], input?: string): Promise<ProcessResult> {
  return run("openssl", args, input === undefined ? {} : { input });
}

/** Like `openssl`, but fails with openssl's exact output unless it exits 0. */
export async function opensslOk(args: readonly string[], input?: string): Promise<string> {
  const r = await openssl(args, input);
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

export async function tempDir(prefix: string): Promise<{ readonly path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** The PEM blocks of one type in a text, each normalised to `-----BEGIN…-----\n<base64 lines>\n-----END…-----`. */
export function pemBlocks(text: string, label = "CERTIFICATE"): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => {
    const body = m[1]!.replace(/\s+/g, "");
    return `-----BEGIN ${label}-----\n${body.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
  });
}

/**
 * A Python 3 that can `import jwt` (PyJWT, with cryptography for ES256/RS256): the one on PATH, else
 * the system's (Debian's python3-jwt lives there, while PATH may lead to a pyenv Python without it).
 */
export function findPyJwt(): string | undefined {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(python, ["-c", "import jwt, cryptography"], { stdio: "ignore", timeout: 10_000 });
      return python;
    } catch {
      // Not there, or without PyJWT: try the next.
    }
  }
  return undefined;
}
