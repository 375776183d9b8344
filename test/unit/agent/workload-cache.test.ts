/**
 * What the Workload API keeps between calls, and what makes it let go: a connection's attestation
 * (unix-attestor.ts: reused only while the executable, the names files, the start time and the owner
 * of /proc/<pid> are unchanged), the cache's per-caller lookups and version (cache.ts), and the
 * server's encoded answers per selector set and state version (server.ts' AnswerCache), the last two
 * through the real server on a fake /proc naming this very process.
 */
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkloadApi, UnixAttestor, type WorkloadApiServer } from "../../../src/agent/workload";
import { AnswerCache } from "../../../src/agent/workload/server";
import type { AgentCache } from "../../../src/agent/cache";
import { trustDomainMaterial, type TrustDomainMaterial } from "../../support/agent-state";
import { agentCacheWith, putSvidFor, wireEntry } from "../../support/workload-bench";
import { firstMessage, securityHeader, unaryCall, workloadClient, type WorkloadClient } from "../../support/workload-client";

const root = mkdtempSync(join(tmpdir(), "signet-workload-cache-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const uid = process.getuid!();
const gid = process.getgid!();
const statLine = (pid: number, start: string) => `${pid} (w) S 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 ${start} 1000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0`;
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** A fake /proc/<pid> under `procRoot`: exe → `bin`, stat with `start`. */
function fakeProcess(procRoot: string, pid: number, bin: string, start: string): { retarget(bin: string): void; start(s: string): void; dir: string } {
  const dir = join(procRoot, String(pid));
  mkdirSync(dir, { recursive: true });
  symlinkSync(bin, join(dir, "exe"));
  writeFileSync(join(dir, "stat"), statLine(pid, start));
  return {
    dir,
    retarget(next) {
      unlinkSync(join(dir, "exe"));
      symlinkSync(next, join(dir, "exe"));
    },
    start(s) {
      writeFileSync(join(dir, "stat"), statLine(pid, s));
    },
  };
}

describe("UnixAttestor: a connection's attestation is reused only while nothing it rests on changed", () => {
  const procRoot = join(root, "proc-a");
  const binA = join(root, "bin-a");
  const binB = join(root, "bin-b");
  writeFileSync(binA, "program a");
  writeFileSync(binB, "program b");
  const passwd = join(root, "passwd");
  const group = join(root, "group");
  writeFileSync(passwd, `alice:x:${uid}:0::/:\n`);
  writeFileSync(group, `staff:x:${gid}:\n`);
  const proc = fakeProcess(procRoot, 4242, binA, "555");
  const attestor = new UnixAttestor({ procRoot, passwdPath: passwd, groupPath: group, namesRecheckMs: 0 });
  /** One object per connection, as the server keeps it. */
  const caller = { pid: 4242, uid, gid, startTime: "555" };
  const selectorsFor = (bin: string, contents: string, user = "alice") => [`unix:uid:${uid}`, `unix:gid:${gid}`, `unix:user:${user}`, "unix:group:staff", `unix:path:${bin}`, `unix:sha256:${sha(contents)}`];

  it("the second call of a connection is answered from the first attestation; another caller object is attested in full", async () => {
    const full = attestor.counts.full;
    const first = await attestor.attest(caller);
    expect(first).toEqual({ ok: true, value: selectorsFor(binA, "program a") });
    const cached = attestor.counts.cached;
    expect(await attestor.attest(caller)).toEqual(first);
    expect(await attestor.attest(caller)).toEqual(first);
    expect(attestor.counts.cached).toBe(cached + 2);
    expect(await attestor.attest({ ...caller })).toEqual(first);
    expect(attestor.counts.full).toBe(full + 2);
  });

  it("a changed start time (the pid names another process now) is PID reuse, not the kept selectors", async () => {
    await attestor.attest(caller);
    proc.start("556");
    expect(await attestor.attest(caller)).toEqual({ ok: false, error: expect.objectContaining({ reason: "pid_reused" }) });
    proc.start("555");
  });

  it("an exec of another file (the exe link names it now) is attested in full: its path and hash", async () => {
    await attestor.attest(caller);
    proc.retarget(binB);
    const full = attestor.counts.full;
    expect(await attestor.attest(caller)).toEqual({ ok: true, value: selectorsFor(binB, "program b") });
    expect(attestor.counts.full).toBe(full + 1);
    proc.retarget(binA);
  });

  it("the executable rewritten in place is hashed again", async () => {
    await attestor.attest(caller);
    writeFileSync(binA, "program a, patched");
    expect(await attestor.attest(caller)).toEqual({ ok: true, value: selectorsFor(binA, "program a, patched") });
    writeFileSync(binA, "program a");
  });

  it("a renamed user is seen by the next call", async () => {
    await attestor.attest(caller);
    writeFileSync(passwd, `bob:x:${uid}:0::/:\n`);
    expect(await attestor.attest(caller)).toEqual({ ok: true, value: selectorsFor(binA, "program a", "bob") });
    writeFileSync(passwd, `alice:x:${uid}:0::/:\n`);
  });

  it.skipIf(uid !== 0)("/proc/<pid> owned by another uid since (a setuid) is PID reuse", async () => {
    expect((await attestor.attest(caller)).ok).toBe(true);
    chownSync(proc.dir, 12345, gid);
    expect(await attestor.attest(caller)).toEqual({ ok: false, error: expect.objectContaining({ reason: "pid_reused" }) });
    chownSync(proc.dir, uid, gid);
  });

  it("a process gone since (its /proc/<pid> removed) gets nothing", async () => {
    expect((await attestor.attest(caller)).ok).toBe(true);
    rmSync(proc.dir, { recursive: true });
    expect(await attestor.attest(caller)).toEqual({ ok: false, error: expect.objectContaining({ reason: "process_gone" }) });
  });
});

describe("UnixAttestor on the real /proc: a connection's kept attestation ends with its process", () => {
  it("a child attested twice (the second from what was kept), then killed: nothing; release is harmless twice", async () => {
    const attestor = new UnixAttestor();
    const child = spawn("sleep", ["30"]);
    const pid = child.pid!;
    const caller = { pid, uid, gid, startTime: attestor.startTime(pid)! };
    expect((await attestor.attest(caller)).ok).toBe(true);
    const cached = attestor.counts.cached;
    expect((await attestor.attest(caller)).ok).toBe(true);
    expect(attestor.counts.cached).toBe(cached + 1);
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    const r = await attestor.attest(caller);
    expect(r.ok).toBe(false);
    expect(["process_gone", "pid_reused"]).toContain(r.ok ? "" : r.error.reason);
    attestor.release(caller);
    attestor.release(caller);
  });
});

describe("AgentCache: version and per-caller lookups", () => {
  let own: TrustDomainMaterial;
  let cache: AgentCache;
  beforeAll(async () => {
    own = await trustDomainMaterial("example.org");
    cache = await agentCacheWith(own, [{ selectors: ["unix:uid:1"] }]);
  });

  it("the version moves with every change of SVIDs or bundles, not with a bundle set that is the same", async () => {
    const v0 = cache.version();
    await putSvidFor(own, cache, "e0");
    const v1 = cache.version();
    expect(v1).toBeGreaterThan(v0);
    cache.setBundles(cache.bundleSet());
    expect(cache.version()).toBe(v1);
    cache.setBundles({ ...cache.bundleSet(), fingerprint: "other" });
    expect(cache.version()).toBeGreaterThan(v1);
    const v2 = cache.version();
    cache.applyEntries([{ ...wireEntry("e0", "spiffe://example.org/w/0", ["unix:uid:1"]), hint: "changed" }], []);
    expect(cache.version()).toBeGreaterThan(v2);
  });

  it("one caller's selector array sees identities and entries added and removed after its first lookup", async () => {
    const sel = Object.freeze(["unix:uid:1", "unix:gid:0"]);
    expect(cache.x509IdentitiesFor(sel).map((i) => i.spiffeId)).toEqual(["spiffe://example.org/w/0"]);
    expect(await cache.fetchJwtSvids(sel, ["aud"], "spiffe://example.org/late")).toEqual([]);
    cache.applyEntries([wireEntry("e9", "spiffe://example.org/late", ["unix:gid:0"])], []);
    expect(cache.x509IdentitiesFor(sel).map((i) => i.spiffeId)).toEqual(["spiffe://example.org/w/0"]);
    expect((await cache.fetchJwtSvids(sel, ["aud"], "spiffe://example.org/late")).map((j) => j.spiffeId)).toEqual(["spiffe://example.org/late"]);
    await putSvidFor(own, cache, "e9");
    expect(cache.x509IdentitiesFor(sel).map((i) => i.spiffeId)).toEqual(["spiffe://example.org/w/0", "spiffe://example.org/late"]);
    cache.dropSvid("e0");
    expect(cache.x509IdentitiesFor(sel).map((i) => i.spiffeId)).toEqual(["spiffe://example.org/late"]);
    cache.applyEntries([], ["e9"]);
    expect(cache.x509IdentitiesFor(sel)).toEqual([]);
    expect(await cache.fetchJwtSvids(sel, ["aud"], "spiffe://example.org/late")).toEqual([]);
  });
});

describe("AnswerCache", () => {
  it("one composition per (method, selector set) and state version; errors are not kept; a state without a version composes every time", async () => {
    let version = 1;
    let composed = 0;
    const state = { version: () => version } as unknown as ConstructorParameters<typeof AnswerCache>[0];
    const answers = new AnswerCache(state);
    const compose = (s: readonly string[]) => (composed++, Buffer.from(s.join(",")));
    const a = answers.get("X", ["unix:uid:1"], compose);
    expect(answers.get("X", ["unix:uid:1"], compose)).toBe(a);
    expect(answers.get("Y", ["unix:uid:1"], compose)).not.toBe(a);
    expect(answers.get("X", ["unix:uid:2"], compose).toString()).toBe("unix:uid:2");
    expect(composed).toBe(3);
    version = 2;
    expect(answers.get("X", ["unix:uid:1"], compose)).not.toBe(a);
    expect(composed).toBe(4);
    const failing = () => {
      composed++;
      throw new Error("no identity");
    };
    expect(() => answers.get("Z", ["unix:uid:1"], failing)).toThrow();
    expect(() => answers.get("Z", ["unix:uid:1"], failing)).toThrow();
    expect(composed).toBe(6);
    const plain = new AnswerCache({} as ConstructorParameters<typeof AnswerCache>[0]);
    plain.get("X", ["s"], compose);
    plain.get("X", ["s"], compose);
    expect(composed).toBe(8);
  });
});

describe("the server on a fake /proc naming this process", () => {
  const procRoot = join(root, "proc-srv");
  const binA = join(root, "srv-a");
  const binB = join(root, "srv-b");
  writeFileSync(binA, "server test a");
  writeFileSync(binB, "server test b");
  const proc = fakeProcess(procRoot, process.pid, binA, "777");
  let own: TrustDomainMaterial;
  let cache: AgentCache;
  let server: WorkloadApiServer;
  let client: WorkloadClient;
  const path = join(root, "srv.sock");

  beforeAll(async () => {
    own = await trustDomainMaterial("example.org");
    cache = await agentCacheWith(own, [
      { selectors: [`unix:path:${binA}`], spiffeId: "spiffe://example.org/a" },
      { selectors: [`unix:path:${binB}`], spiffeId: "spiffe://example.org/b" },
    ]);
    server = await startWorkloadApi({ socket: path, state: cache, attestor: new UnixAttestor({ procRoot }) });
    client = workloadClient(path);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  type X509Answer = { svids: { spiffe_id: string; x509_svid: Buffer }[] };

  it("the same connection's calls follow an exec, and a changed start time denies them", async () => {
    const jwtId = async () => (await unaryCall<{ svids: { spiffe_id: string }[] }>(client, "FetchJWTSVID", { audience: ["x"] })).svids.map((s) => s.spiffe_id);
    expect(await jwtId()).toEqual(["spiffe://example.org/a"]);
    expect(await jwtId()).toEqual(["spiffe://example.org/a"]);
    proc.retarget(binB);
    expect(await jwtId()).toEqual(["spiffe://example.org/b"]);
    expect((await firstMessage<X509Answer>(client, "FetchX509SVID")).svids.map((s) => s.spiffe_id)).toEqual(["spiffe://example.org/b"]);
    proc.start("778");
    await expect(jwtId()).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await expect(firstMessage(client, "FetchX509SVID")).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    proc.start("777");
    proc.retarget(binA);
  });

  it("what a connection kept (its /proc/<pid>/stat descriptor) is closed when the connection closes", async () => {
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    const clients = Array.from({ length: 5 }, () => workloadClient(path, { "grpc.use_local_subchannel_pool": 1 }));
    for (const c of clients) await unaryCall(c, "FetchJWTSVID", { audience: ["x"] });
    // Each connection: the client's socket, the server's socket, the kept descriptor.
    expect(fds()).toBeGreaterThanOrEqual(before + 15);
    for (const c of clients) c.close();
    let polls = 0;
    while (fds() > before && polls++ < 200) await new Promise((r) => setTimeout(r, 10));
    expect(fds()).toBeLessThanOrEqual(before);
  });

  it("X.509 answers are the same bytes until an SVID changes; a new SVID reaches new calls and open streams", async () => {
    const first = await firstMessage<X509Answer>(client, "FetchX509SVID");
    const again = await firstMessage<X509Answer>(client, "FetchX509SVID");
    expect(again.svids[0]!.x509_svid.equals(first.svids[0]!.x509_svid)).toBe(true);
    const call = client.FetchX509SVID!({}, securityHeader()) as grpc.ClientReadableStream<X509Answer>;
    const got: X509Answer[] = [];
    call.on("data", (m: X509Answer) => got.push(m));
    call.on("error", () => undefined);
    while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
    await putSvidFor(own, cache, "e0");
    cache.flush();
    while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(got[1]!.svids[0]!.x509_svid.equals(first.svids[0]!.x509_svid)).toBe(false);
    const fresh = await firstMessage<X509Answer>(client, "FetchX509SVID");
    expect(fresh.svids[0]!.x509_svid.equals(got[1]!.svids[0]!.x509_svid)).toBe(true);
    call.cancel();
  });
});
