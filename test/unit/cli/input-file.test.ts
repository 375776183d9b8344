/**
 * readRegularFile: a file named on the command line is read only when it is a regular file, never
 * past its limit (limit + 1 bytes at most, whatever its size says), and a FIFO, a device or a
 * directory is refused at once, before a byte is read.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { readRegularFile } from "../../../src/node/input-file";
import { scratchDir } from "./run-cli";

const posix = process.platform !== "win32";

let dir: Awaited<ReturnType<typeof scratchDir>>;
beforeAll(async () => {
  dir = await scratchDir();
  await writeFile(join(dir.path, "ten.bin"), new Uint8Array(10).fill(7));
  await writeFile(join(dir.path, "empty.bin"), new Uint8Array(0));
  await mkdir(join(dir.path, "sub"));
  if (posix) {
    execFileSync("mkfifo", [join(dir.path, "fifo")]);
    await symlink("/dev/zero", join(dir.path, "zero-link"));
  }
});
afterAll(() => dir.remove());
afterEach(() => void vi.restoreAllMocks());

const at = (name: string) => join(dir.path, name);

describe("readRegularFile", () => {
  it("reads a regular file whole, up to and including the limit", async () => {
    expect(await readRegularFile(at("ten.bin"), 10)).toEqual({ ok: true, value: new Uint8Array(10).fill(7) });
    expect(await readRegularFile(at("empty.bin"), 10)).toEqual({ ok: true, value: new Uint8Array(0) });
  });

  it("refuses a file over the limit by its size, without reading it", async () => {
    const big = at("sparse.bin");
    await writeFile(big, "");
    await truncate(big, 4 * 1024 * 1024 * 1024); // 4 GiB, sparse: reading it would take a while
    const read = spyOnReads();
    expect(await readRegularFile(big, 16 * 1024 * 1024)).toEqual({ ok: false, error: { reason: "too_large", maxBytes: 16 * 1024 * 1024 } });
    expect(await readRegularFile(at("ten.bin"), 9)).toEqual({ ok: false, error: { reason: "too_large", maxBytes: 9 } });
    expect(read.bytes).toBe(0);
  });

  it.runIf(posix).each([
    ["/dev/zero", () => "/dev/zero", "character device"],
    ["a symbolic link to /dev/zero", () => at("zero-link"), "character device"],
    ["a FIFO with no writer", () => at("fifo"), "FIFO"],
    ["a directory", () => at("sub"), "directory"],
  ])("refuses %s at once, as not a regular file", async (_name, path, kind) => {
    const read = spyOnReads();
    const started = Date.now();
    expect(await readRegularFile(path(), 1024)).toEqual({ ok: false, error: { reason: "not_regular_file", kind } });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(read.bytes).toBe(0);
  }, 3000);

  it("a missing file is unreadable, with the OS's code", async () => {
    expect(await readRegularFile(at("nope.bin"), 10)).toEqual({ ok: false, error: { reason: "unreadable", code: "ENOENT" } });
    expect(await readRegularFile(join(at("ten.bin"), "x"), 10)).toEqual({ ok: false, error: { reason: "unreadable", code: "ENOTDIR" } });
  });

  // procfs files are regular files whose size says 0: the size cannot be trusted to bound the read.
  it.runIf(existsSync("/proc/self/status"))("reads at most limit + 1 bytes of a file whose size understates it (/proc)", async () => {
    const whole = await readRegularFile("/proc/self/status", 1024 * 1024);
    expect(whole.ok && whole.value.length).toBeGreaterThan(100);
    const read = spyOnReads();
    expect(await readRegularFile("/proc/self/status", 16)).toEqual({ ok: false, error: { reason: "too_large", maxBytes: 16 } });
    expect(read.calls).toBeGreaterThan(0);
    expect(read.bytes).toBeLessThanOrEqual(17);
  });

  it("misuse (a limit that is not a positive integer) is a TypeError", async () => {
    await expect(readRegularFile(at("ten.bin"), 0)).rejects.toThrow(TypeError);
    await expect(readRegularFile(at("ten.bin"), 1.5)).rejects.toThrow(TypeError);
  });
});

/** Counts the calls to FileHandle#read and the bytes they returned. */
function spyOnReads(): { calls: number; bytes: number } {
  const counts = { calls: 0, bytes: 0 };
  const proto = fileHandlePrototype;
  const original = proto.read;
  vi.spyOn(proto, "read").mockImplementation(async function (this: unknown, ...args: unknown[]) {
    const r = (await (original as (...a: unknown[]) => Promise<{ bytesRead: number }>).apply(this, args)) as { bytesRead: number };
    counts.calls++;
    counts.bytes += r.bytesRead;
    return r as never;
  });
  return counts;
}

const fileHandlePrototype: { read: (...args: never[]) => unknown } = await (async () => {
  const h = await open(new URL(import.meta.url), "r");
  await h.close();
  return Object.getPrototypeOf(h) as { read: (...args: never[]) => unknown };
})();
