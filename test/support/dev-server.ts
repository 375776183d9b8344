/**
 * Starts `node scripts/dev.mjs` (what `npm run dev` runs) the way a developer does, on a free port with
 * its own persistence, and stops it with its whole process group (wrangler's workerd outlives dev.mjs).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

const STARTUP_TIMEOUT_MS = 60_000;
const OUTPUT_LIMIT = 64 * 1024;

export interface DevServer {
  readonly url: string;
  /** What dev.mjs and wrangler printed (the last 64 KiB). */
  output(): string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** The project directory whose scripts/dev.mjs runs (its .dev.vars and wrangler.toml are used). */
  readonly cwd: string;
  readonly persistTo: string;
  /** Private HOME-like directory for wrangler's own config. */
  readonly configHome: string;
  /** Which /healthz answer means "started" (default: 200). */
  readonly ready?: (status: number) => boolean;
}

export function freePort(): Promise<number> {
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

/** The environment dev.mjs runs with: no metrics, no Cloudflare fetches, wrangler's config kept apart. */
export function devEnv(configHome: string): NodeJS.ProcessEnv {
  return { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", XDG_CONFIG_HOME: configHome, NO_COLOR: "1", CI: "1" };
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const ready = options.ready ?? ((status) => status === 200);

  let output = "";
  const capture = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  const args = ["scripts/dev.mjs", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", options.persistTo, "--show-interactive-dev-session=false"];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: devEnv(join(options.configHome)),
  });
  child.stdout?.on("data", capture);
  child.stderr?.on("data", capture);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start scripts/dev.mjs");

  const stop = async (): Promise<void> => {
    if (!exited(child)) {
      killGroup(pid, "SIGINT");
      if (!(await waitForExit(child, 5_000))) {
        killGroup(pid, "SIGKILL");
        await waitForExit(child, 2_000);
      }
    }
    killGroup(pid, "SIGKILL");
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastProblem: string;
  for (;;) {
    if (exited(child)) {
      await stop();
      throw new Error(`scripts/dev.mjs exited (code ${child.exitCode}, signal ${child.signalCode}) before ${url}/healthz answered:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (ready(res.status)) break;
      lastProblem = `HTTP ${res.status}`;
    } catch (e) {
      lastProblem = e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}` : String(e);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${url}/healthz did not answer as expected within ${STARTUP_TIMEOUT_MS / 1000} s (last: ${lastProblem}); wrangler said:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, output: () => output, stop };
}
