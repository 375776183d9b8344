/**
 * Global setup of the `e2e` vitest project: builds the CLI, then starts the server the way a
 * developer does (`node scripts/dev.mjs`, i.e. `npm run dev`, from the repository root, so the real
 * `.dev.vars` is created or reused) on a free port with fresh local persistence, waits for
 * `/healthz`, and hands the base URL to the tests as `inject("signetUrl")`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { REPO_ROOT, run } from "../support/e2e-process";

declare module "vitest" {
  export interface ProvidedContext {
    signetUrl: string;
  }
}

const STARTUP_TIMEOUT_MS = 60_000;
const OUTPUT_LIMIT = 64 * 1024;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const build = await run(process.execPath, ["scripts/build-cli.mjs"], { cwd: REPO_ROOT, timeoutMs: 60_000 });
  if (build.code !== 0) throw new Error(`building the CLI failed (exit ${build.code}):\n${build.stdout}${build.stderr}`);

  const temp = await mkdtemp(join(tmpdir(), "signet-e2e-"));
  const port = await freePort();
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;

  let output = "";
  const capture = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };

  const child = spawn(
    process.execPath,
    [
      "scripts/dev.mjs",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      join(temp, "state"),
      "--show-interactive-dev-session=false",
    ],
    {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        XDG_CONFIG_HOME: join(temp, "config"),
        NO_COLOR: "1",
        CI: "1",
      },
    },
  );
  child.stdout?.on("data", capture);
  child.stderr?.on("data", capture);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start scripts/dev.mjs");

  const teardown = async (): Promise<void> => {
    if (!exited(child)) {
      killGroup(pid, "SIGINT");
      if (!(await waitForExit(child, 5_000))) {
        killGroup(pid, "SIGKILL");
        await waitForExit(child, 2_000);
      }
    }
    // wrangler's workerd may outlive the dev.mjs process; make sure nothing of the group is left.
    killGroup(pid, "SIGKILL");
    await rm(temp, { recursive: true, force: true });
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastProblem: string;
  for (;;) {
    if (exited(child)) {
      await teardown();
      throw new Error(`scripts/dev.mjs exited (code ${child.exitCode}, signal ${child.signalCode}) before ${url}/healthz answered:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
      lastProblem = `HTTP ${res.status}`;
    } catch (e) {
      lastProblem = e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}` : String(e);
    }
    if (Date.now() > deadline) {
      await teardown();
      throw new Error(`${url}/healthz did not answer 200 within ${STARTUP_TIMEOUT_MS / 1000} s (last: ${lastProblem}); wrangler said:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  project.provide("signetUrl", url);
  return teardown;
}
