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

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd: string;
  readonly fetch?: typeof fetch;
}

export async function runCli(argv: readonly string[], options: RunOptions): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main([...argv], {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    env: options.env ?? {},
    cwd: options.cwd,
    fetch: options.fetch ?? globalThis.fetch,
  });
  return { code, stdout, stderr };
}

export async function scratchDir(): Promise<{ readonly path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "signet-cli-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
