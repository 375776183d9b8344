/** Unix workload attestation (src/agent/workload/unix-attestor.ts) on this machine's real /proc and on a fake one. */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseIdNames, parseStartTime, UnixAttestor } from "../../../src/agent/workload/unix-attestor";

const statLine = (comm: string, start: string) => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 ${start} 1000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0`;

describe("parseStartTime", () => {
  it.each([
    ["node", "123456"],
    ["a b) (c", "99"],
    [") ) )", "7"],
  ])("field 22 with command name %j", (comm, start) => {
    expect(parseStartTime(statLine(comm, start))).toBe(start);
  });
  it("undefined for lines that are not /proc/<pid>/stat", () => {
    expect(parseStartTime("garbage")).toBeUndefined();
    expect(parseStartTime("1 (x) S 1")).toBeUndefined();
  });
});

describe("parseIdNames", () => {
  it("reads passwd and group lines, first name per id wins, comments and malformed lines skipped", () => {
    const m = parseIdNames("root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nnobody:x:65534:65534::/:/usr/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nodd:x:notanumber:0::/:\n");
    expect([...m]).toEqual([[0, "root"], [65534, "nobody"]]);
  });
});

describe("UnixAttestor", () => {
  const attestor = new UnixAttestor();
  const exe = realpathSync(process.execPath);
  const own = () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), startTime: attestor.startTime(process.pid)! });

  it("this process: uid, gid, names, the executable's path and sha256", async () => {
    const r = await attestor.attest(own());
    expect(r.ok).toBe(true);
    const selectors = r.ok ? r.value : [];
    const sha = createHash("sha256").update(readFileSync(exe)).digest("hex");
    expect(selectors).toContain(`unix:uid:${process.getuid!()}`);
    expect(selectors).toContain(`unix:gid:${process.getgid!()}`);
    expect(selectors).toContain(`unix:path:${exe}`);
    expect(selectors).toContain(`unix:sha256:${sha}`);
    if (process.getuid!() === 0) expect(selectors).toContain("unix:user:root");
  }, 30_000);

  it("a start time other than the recorded one is PID reuse: no selectors", async () => {
    const r = await attestor.attest({ ...own(), startTime: "1" });
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ reason: "pid_reused" }) });
  });

  it("a uid other than the peer's on /proc/<pid> is PID reuse too", async () => {
    const r = await attestor.attest({ ...own(), uid: own().uid + 1 });
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ reason: "pid_reused" }) });
  });

  it("a process that has exited gets nothing", async () => {
    const child = spawn(process.execPath, ["-e", "0"]);
    const pid = child.pid!;
    const startTime = attestor.startTime(pid) ?? "0";
    await new Promise((r) => child.on("exit", r));
    await new Promise((r) => setTimeout(r, 50));
    const r = await attestor.attest({ pid, uid: 0, gid: 0, startTime });
    expect(r.ok).toBe(false);
    expect(["process_gone", "pid_reused"]).toContain(r.ok ? "" : r.error.reason);
  });

  describe("on a fake /proc", () => {
    const root = mkdtempSync(join(tmpdir(), "signet-fakeproc-"));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const bin = join(root, "workload-bin");
    writeFileSync(bin, "first contents");
    mkdirSync(join(root, "4242"));
    symlinkSync(bin, join(root, "4242", "exe"));
    const passwd = join(root, "passwd");
    const group = join(root, "group");
    writeFileSync(passwd, `alice:x:${process.getuid!()}:0::/:\n`);
    writeFileSync(group, `staff:x:${process.getgid!()}:\n`);
    const fake = new UnixAttestor({ procRoot: root, passwdPath: passwd, groupPath: group, namesRecheckMs: 0 });
    const caller = { pid: 4242, uid: process.getuid!(), gid: process.getgid!(), startTime: "555" };

    it("names from the given passwd/group files; the hash follows the file's contents", async () => {
      writeFileSync(join(root, "4242", "stat"), statLine("w", "555"));
      const r = await fake.attest(caller);
      expect(r.ok && r.value).toEqual([
        `unix:uid:${caller.uid}`,
        `unix:gid:${caller.gid}`,
        "unix:user:alice",
        "unix:group:staff",
        `unix:path:${bin}`,
        `unix:sha256:${createHash("sha256").update("first contents").digest("hex")}`,
      ]);
      writeFileSync(bin, "changed contents, longer");
      const again = await fake.attest(caller);
      expect(again.ok && again.value.at(-1)).toBe(`unix:sha256:${createHash("sha256").update("changed contents, longer").digest("hex")}`);
      writeFileSync(passwd, `bob:x:${process.getuid!()}:0::/:\n`);
      const renamed = await fake.attest(caller);
      expect(renamed.ok && renamed.value).toContain("unix:user:bob");
    });

    it("the start time changed since the connection was accepted: pid_reused", async () => {
      writeFileSync(join(root, "4242", "stat"), statLine("w", "556"));
      expect(await fake.attest(caller)).toEqual({ ok: false, error: expect.objectContaining({ reason: "pid_reused" }) });
    });

    it("no such process: process_gone", async () => {
      expect(await fake.attest({ ...caller, pid: 4343 })).toEqual({ ok: false, error: expect.objectContaining({ reason: "process_gone" }) });
    });
  });
});
