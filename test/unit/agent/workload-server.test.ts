/**
 * The Workload API server with a grpc-js client (protobufjs from the .proto) in this process: socket
 * handling, PID reuse at the server, streams that lose their identity, subscriptions released on
 * cancel, and close().
 */
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketPathError, socketPathFrom, startWorkloadApi, UnixAttestor, type WorkloadApiServer } from "../../../src/agent/workload";
import { issueIdentity, MemoryAgentState, trustDomainMaterial } from "../../support/agent-state";
import { firstMessage, unaryCall, workloadClient, type WorkloadClient } from "../../support/workload-client";

const dir = mkdtempSync(join(tmpdir(), "signet-workload-srv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const uid = process.getuid!();

async function fixture() {
  const own = await trustDomainMaterial("example.org");
  const state = new MemoryAgentState(own);
  state.setIdentities([await issueIdentity(own, { spiffeId: "spiffe://example.org/me", selectors: [`unix:uid:${uid}`] })]);
  return { own, state };
}

describe("socketPathFrom", () => {
  it.each([
    ["unix:///run/signet/agent.sock", "/run/signet/agent.sock"],
    ["/run/signet/agent.sock", "/run/signet/agent.sock"],
    ["unix:///tmp/a%20b.sock", "/tmp/a b.sock"],
  ])("%s → %s", (input, path) => expect(socketPathFrom(input)).toBe(path));
  it.each(["unix://host/x.sock", "relative.sock", "unix:relative", "/tmp/dir/", "tcp://127.0.0.1:1", `/${"x".repeat(120)}`])("refuses %s", (input) => {
    expect(() => socketPathFrom(input)).toThrow(SocketPathError);
  });
});

describe("the socket path", () => {
  it("is created with mode 0777 in a created parent directory, and removed on close", async () => {
    const { state } = await fixture();
    const path = join(dir, "new", "sub", "api.sock");
    const server = await startWorkloadApi({ socket: path, state });
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o777);
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it("a stale socket (nobody listening) is replaced", async () => {
    const path = join(dir, "stale.sock");
    // A process that listens and is killed leaves the file behind, as a killed agent does.
    const child = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(path)}, () => console.log("up"))`]);
    await new Promise((r) => child.stdout.once("data", r));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(statSync(path).isSocket()).toBe(true);
    const { state } = await fixture();
    const server = await startWorkloadApi({ socket: path, state });
    const client = workloadClient(path);
    try {
      const m = await firstMessage<{ svids: unknown[] }>(client, "FetchX509SVID");
      expect(m.svids).toHaveLength(1);
    } finally {
      client.close();
      await server.close();
    }
  });

  it("a socket another agent serves on is refused, and stays served", async () => {
    const { state } = await fixture();
    const path = join(dir, "live.sock");
    const first = await startWorkloadApi({ socket: path, state });
    try {
      await expect(startWorkloadApi({ socket: path, state })).rejects.toThrow(/already serving/);
      const client = workloadClient(path);
      expect((await firstMessage<{ svids: unknown[] }>(client, "FetchX509SVID")).svids).toHaveLength(1);
      client.close();
    } finally {
      await first.close();
    }
  });

  it("a regular file is never replaced", async () => {
    const { state } = await fixture();
    const path = join(dir, "file.sock");
    writeFileSync(path, "not a socket");
    await expect(startWorkloadApi({ socket: path, state })).rejects.toThrow(/not a socket/);
    expect(statSync(path).isFile()).toBe(true);
  });
});

describe("calls", () => {
  let server: WorkloadApiServer;
  let client: WorkloadClient;
  let state: MemoryAgentState;
  let own: Awaited<ReturnType<typeof fixture>>["own"];
  const path = join(dir, "calls.sock");

  beforeAll(async () => {
    ({ state, own } = await fixture());
    server = await startWorkloadApi({ socket: path, state });
    client = workloadClient(path);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it("FetchX509SVID and FetchJWTSVID (served from the cache the second time)", async () => {
    const m = await firstMessage<{ svids: { spiffe_id: string }[] }>(client, "FetchX509SVID");
    expect(m.svids.map((s) => s.spiffe_id)).toEqual(["spiffe://example.org/me"]);
    const a = await unaryCall<{ svids: { svid: string }[] }>(client, "FetchJWTSVID", { audience: ["x"] });
    const minted = state.jwtMinted;
    const b = await unaryCall<{ svids: { svid: string }[] }>(client, "FetchJWTSVID", { audience: ["x"] });
    expect(b.svids[0]!.svid).toBe(a.svids[0]!.svid);
    expect(state.jwtMinted).toBe(minted);
  });

  it("a stream whose caller loses its last identity ends with PERMISSION_DENIED; its subscription is released", async () => {
    const identities = state.x509IdentitiesFor([`unix:uid:${uid}`]);
    const call = client.FetchX509SVID!({}, (await import("../../support/workload-client")).securityHeader()) as grpc.ClientReadableStream<unknown>;
    const messages: unknown[] = [];
    const ended = new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
    call.on("data", (m) => messages.push(m));
    while (messages.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(state.listenerCount).toBe(1);
    state.setIdentities([]);
    const e = await ended;
    expect([e.code, e.details]).toEqual([grpc.status.PERMISSION_DENIED, "no identity issued"]);
    expect(state.listenerCount).toBe(0);
    state.setIdentities(identities);
  });

  it("a cancelled stream releases its subscription", async () => {
    const { securityHeader } = await import("../../support/workload-client");
    const calls = Array.from({ length: 5 }, () => client.FetchJWTBundles!({}, securityHeader()) as grpc.ClientReadableStream<unknown>);
    await Promise.all(calls.map((c) => new Promise((r) => c.once("data", r))));
    expect(state.listenerCount).toBe(5);
    for (const c of calls) {
      c.on("error", () => undefined);
      c.cancel();
    }
    for (let i = 0; i < 100 && state.listenerCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(state.listenerCount).toBe(0);
  });

  it("the own trust domain's bundle rotating is sent to X.509 streams", async () => {
    const { securityHeader } = await import("../../support/workload-client");
    const call = client.FetchX509SVID!({}, securityHeader()) as grpc.ClientReadableStream<{ svids: { bundle: Buffer }[] }>;
    const got: Buffer[] = [];
    call.on("data", (m: { svids: { bundle: Buffer }[] }) => got.push(m.svids[0]!.bundle));
    call.on("error", () => undefined);
    while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
    const next = await trustDomainMaterial("example.org");
    state.setBundle({ ...own.bundle, x509Authorities: [...own.bundle.x509Authorities, ...next.bundle.x509Authorities] });
    while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(got[1]!.equals(Buffer.concat([Buffer.from(own.ca.rawData), Buffer.from(next.ca.rawData)]))).toBe(true);
    call.cancel();
  });
});

describe("PID reuse", () => {
  it("a caller whose pid names another process by the time the call is attested gets PERMISSION_DENIED", async () => {
    const { state } = await fixture();
    const real = new UnixAttestor();
    // The start time recorded at accept differs from the one /proc shows when the call is attested,
    // as when the connecting process exited and its pid was given to a new one.
    const attestor = { startTime: () => "1", attest: real.attest.bind(real) };
    const path = join(dir, "reuse.sock");
    const server = await startWorkloadApi({ socket: path, state, attestor });
    const client = workloadClient(path);
    try {
      await expect(firstMessage(client, "FetchX509SVID")).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await expect(unaryCall(client, "FetchJWTSVID", { audience: ["x"] })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    } finally {
      client.close();
      await server.close();
    }
  });

  it("attestation that cannot read /proc is UNAVAILABLE (the client retries)", async () => {
    const { state } = await fixture();
    const attestor = { startTime: () => "1", attest: async () => ({ ok: false as const, error: { reason: "proc_unreadable" as const, detail: "EACCES" } }) };
    const path = join(dir, "unreadable.sock");
    const server = await startWorkloadApi({ socket: path, state, attestor });
    const client = workloadClient(path);
    try {
      await expect(firstMessage(client, "FetchX509SVID")).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, details: "workload attestation failed" });
    } finally {
      client.close();
      await server.close();
    }
  });
});
