/**
 * Global setup of the `e2e` vitest project: builds the CLI, then starts the server the way a
 * developer does (`node scripts/dev.mjs`, i.e. `npm run dev`, from the repository root, so the real
 * `.dev.vars` is created or reused) on a free port with fresh local persistence, waits for
 * `/healthz`, and hands the base URL to the tests as `inject("signetUrl")`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startDevServer } from "../support/dev-server";
import { REPO_ROOT, run } from "../support/e2e-process";

declare module "vitest" {
  export interface ProvidedContext {
    signetUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const build = await run(process.execPath, ["scripts/build-cli.mjs"], { cwd: REPO_ROOT, timeoutMs: 60_000 });
  if (build.code !== 0) throw new Error(`building the CLI failed (exit ${build.code}):\n${build.stdout}${build.stderr}`);

  const temp = await mkdtemp(join(tmpdir(), "signet-e2e-"));
  let server;
  try {
    server = await startDevServer({ cwd: REPO_ROOT, persistTo: join(temp, "state"), configHome: join(temp, "config") });
  } catch (e) {
    await rm(temp, { recursive: true, force: true });
    throw e;
  }
  project.provide("signetUrl", server.url);
  return async () => {
    await server.stop();
    await rm(temp, { recursive: true, force: true });
  };
}
