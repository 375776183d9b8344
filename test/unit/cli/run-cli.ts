/** Runs `main()` in-process with captured output, a scratch working directory and a chosen env. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main";

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A run whose stdout is kept as the bytes written (text and raw bytes in order). */
export interface CliRawRun {
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd: string;
  readonly fetch?: typeof fetch;
}

export async function runCli(argv: readonly string[], options: RunOptions): Promise<CliRun> {
  const r = await runCliRaw(argv, options);
  return { code: r.code, stdout: new TextDecoder().decode(r.stdout), stderr: r.stderr };
}

export async function runCliRaw(argv: readonly string[], options: RunOptions): Promise<CliRawRun> {
  const out: Uint8Array[] = [];
  let stderr = "";
  const code = await main([...argv], {
    stdout: (s) => void out.push(new TextEncoder().encode(s)),
    stdoutBytes: (bytes) => void out.push(bytes.slice()),
    stderr: (s) => void (stderr += s),
    env: options.env ?? {},
    cwd: options.cwd,
    fetch: options.fetch ?? globalThis.fetch,
  });
  return { code, stdout: new Uint8Array(Buffer.concat(out)), stderr };
}

export async function scratchDir(): Promise<{ readonly path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "signet-cli-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
