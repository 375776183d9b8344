/**
 * src/node/files.ts: writeFilesAtomically. Every file appears whole (write then rename), modes are
 * exact, a failed write leaves the old set and no temporaries; and the renames of one set happen
 * back to back, with no turn of the event loop between them, so nothing else in the process (the
 * agent serving while `api fetch -write` or the helper rotates) ever sees a new certificate next to
 * the old key. (Another process can still read the two files on either side of the two renames:
 * see the README, "Clients that read the files".)
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeFilesAtomically } from "../../../src/node/files";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "signet-files-"));
  dirs.push(d);
  return d;
}

describe("writeFilesAtomically", () => {
  it("writes every file with exactly its mode, whatever the umask, and leaves no temporary", async () => {
    const dir = await tempDir();
    const old = process.umask(0o077);
    try {
      const r = await writeFilesAtomically(join(dir, "certs"), [
        { name: "svid.pem", contents: "cert\n", mode: 0o644 },
        { name: "svid_key.pem", contents: new Uint8Array([1, 2, 3]), mode: 0o600 },
      ]);
      expect(r.ok).toBe(true);
    } finally {
      process.umask(old);
    }
    expect(await readFile(join(dir, "certs", "svid.pem"), "utf8")).toBe("cert\n");
    expect([...(await readFile(join(dir, "certs", "svid_key.pem")))]).toEqual([1, 2, 3]);
    expect((await stat(join(dir, "certs", "svid.pem"))).mode & 0o777).toBe(0o644);
    expect((await stat(join(dir, "certs", "svid_key.pem"))).mode & 0o777).toBe(0o600);
    expect((await readdir(join(dir, "certs"))).sort()).toEqual(["svid.pem", "svid_key.pem"]);
  });

  it("a write that fails leaves the old files as they were and removes its temporaries", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "a.pem"), "old a");
    await writeFile(join(dir, "file"), "a file, not a directory");
    const r = await writeFilesAtomically(dir, [
      { name: "a.pem", contents: "new a", mode: 0o644 },
      { name: "file/b.pem", contents: "new b", mode: 0o644 }, // its temporary cannot be created, even by root
    ]);
    expect(r).toEqual({ ok: false, error: { path: join(dir, "file", "b.pem"), message: "a path component is not a directory" } });
    expect(await readFile(join(dir, "a.pem"), "utf8")).toBe("old a");
    expect((await readdir(dir)).sort()).toEqual(["a.pem", "file"]);
  });

  it("nothing in the process sees a new certificate beside an old key: the renames are back to back", async () => {
    const dir = await tempDir();
    const gen = (n: number) => [
      { name: "svid.pem", contents: `cert ${n}`, mode: 0o644 },
      { name: "svid_key.pem", contents: `key ${n}`, mode: 0o600 },
      { name: "bundle.pem", contents: `bundle ${n}`, mode: 0o644 },
    ];
    expect((await writeFilesAtomically(dir, gen(0))).ok).toBe(true);
    let torn = 0;
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const cert = readFileSync(join(dir, "svid.pem"), "utf8").split(" ")[1];
        const key = readFileSync(join(dir, "svid_key.pem"), "utf8").split(" ")[1];
        const bundle = readFileSync(join(dir, "bundle.pem"), "utf8").split(" ")[1];
        reads++;
        if (cert !== key || key !== bundle) torn++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let n = 1; n <= 150; n++) expect((await writeFilesAtomically(dir, gen(n))).ok).toBe(true);
    writing = false;
    await reader;
    expect(reads, "reads interleaved with the writes").toBeGreaterThan(150);
    expect(torn, "reads that saw files of two generations").toBe(0);
  });
});
