/**
 * The set-up the admin CLI tests share (entries, agents, federation): one fake Signet server for the
 * file; before each test a fresh store (seeded), the server's handler over it, no recorded requests
 * and a scratch working directory; `run` runs the CLI against the server with the admin token.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { ADMIN_TOKEN, FakeSignetServer, json, type Handler } from "./fake-server";
import { runCli, scratchDir, type CliRun } from "./run-cli";

export interface AdminCliHarness<W> {
  readonly server: FakeSignetServer;
  readonly store: Map<string, W>;
  /** The test's scratch working directory. */
  readonly cwd: string;
  run(...args: string[]): Promise<CliRun>;
}

export function adminCliHarness<W>(handlerFor: (store: Map<string, W>) => Handler, seed: () => Map<string, W> = () => new Map()): AdminCliHarness<W> {
  let server: FakeSignetServer;
  let store: Map<string, W>;
  let cwd: Awaited<ReturnType<typeof scratchDir>>;
  beforeAll(async () => {
    server = await FakeSignetServer.start(() => json(500, {}));
  });
  afterAll(() => server.close());
  beforeEach(async () => {
    server.requests.length = 0;
    store = seed();
    server.handler = handlerFor(store);
    cwd = await scratchDir();
  });
  afterEach(() => cwd.remove());
  return {
    get server() {
      return server;
    },
    get store() {
      return store;
    },
    get cwd() {
      return cwd.path;
    },
    run: (...args) => runCli([...args, "--server", server.url], { cwd: cwd.path, env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN } }),
  };
}
