/**
 * A killed agent restarting (issue 10, faults): `signet-agent run` is killed with SIGKILL while a
 * workload is connected; its socket file stays behind. The restarted agent replaces the stale socket,
 * attests again (the sample TEE gives the same agent ID), and the workload's own gRPC channel
 * reconnects and gets its SVID again: nothing on the workload's side is restarted.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT, tempDir } from "../support/e2e-process";
import { firstMessage, workloadClient, type WorkloadClient } from "../support/workload-client";

const url = inject("signetUrl");
const run = Math.floor(Math.random() * 1e9);
let token: string;
let dir: { path: string; remove(): Promise<void> };
const children: ChildProcess[] = [];
const appId = `spiffe://example.org/restart/${run}`;

async function createEntry(spiffeId: string, parentId: string, selector: [string, string]): Promise<void> {
  const res = await fetch(`${url}/admin/v1/entries`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ entries: [{ spiffe_id: spiffeId, parent_id: parentId, selectors: [{ type: selector[0], value: selector[1] }] }] }),
  });
  expect(res.status).toBe(200);
}

interface Agent {
  readonly child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function startAgent(socket: string): Agent {
  const child = spawn(process.execPath, ["bin/signet-agent.mjs", "run", "--server", url, "--socket", `unix://${socket}`, "--attestation", "sample"], { cwd: REPO_ROOT });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return { child, log: () => stderr, exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))) };
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface X509Response {
  readonly svids: { readonly spiffe_id: string }[];
}

/** The workload's SPIFFE IDs, retrying while the agent is away (the channel reconnects by itself). */
async function fetchIds(client: WorkloadClient, ms = 30_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return (await firstMessage<X509Response>(client, "FetchX509SVID")).svids.map((s) => s.spiffe_id);
    } catch (e) {
      const code = (e as grpc.ServiceError).code;
      if (code !== grpc.status.UNAVAILABLE || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function agentIdOf(log: string): string | undefined {
  for (const line of log.trim().split("\n")) {
    try {
      const l = JSON.parse(line) as { msg?: string; spiffe_id?: string };
      if (l.msg === "attested") return l.spiffe_id;
    } catch {
      // not a log line
    }
  }
  return undefined;
}

beforeAll(async () => {
  token = /^SIGNET_ADMIN_TOKEN=(\S+)$/m.exec(await readFile(join(REPO_ROOT, ".dev.vars"), "utf8"))![1]!;
  dir = await tempDir("signet-agent-restart-");
  const node = `spiffe://example.org/nodes/restart-${run}`;
  await createEntry(node, "spiffe://example.org/signet/server", ["tee", "type:sample"]);
  // This test process is the workload: root, as the suite runs here.
  await createEntry(appId, node, ["unix", `uid:${process.getuid!()}`]);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await dir?.remove();
});

describe("a killed agent restarting", () => {
  it("replaces its stale socket, attests again to the same agent ID, and the connected workload gets its SVID again", async () => {
    const socket = join(dir.path, "agent.sock");
    const first = startAgent(socket);
    await until("the first agent's SVIDs", () => /"msg":"X\.509-SVIDs signed"/.test(first.log()) || first.child.exitCode !== null);
    const client = workloadClient(socket);
    try {
      expect(await fetchIds(client)).toContain(appId);

      first.child.kill("SIGKILL");
      await first.exited;
      expect(existsSync(socket)).toBe(true); // nothing cleaned up after SIGKILL

      const second = startAgent(socket);
      await until("the second agent's SVIDs", () => /"msg":"X\.509-SVIDs signed"/.test(second.log()) || second.child.exitCode !== null);
      expect(second.child.exitCode, second.log()).toBeNull();
      expect(agentIdOf(second.log())).toBe(agentIdOf(first.log()));
      expect(await fetchIds(client)).toContain(appId);

      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
      expect(existsSync(socket)).toBe(false);
    } finally {
      client.close();
    }
  });
});
