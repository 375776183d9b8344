/**
 * A fake configfs-tsm report directory in a temp dir, standing in for the kernel through the
 * attester's `TsmFiles`. Every operation is done on the real files with the attester's own node
 * implementation (`nodeTsmFiles`: open write-only without creating, read to EOF), and the fake adds
 * what the kernel would do around it:
 *
 * - mkdir of an entry directly under the report directory fills it with the attributes the provider
 *   shows (sev_guest: provider, generation, inblob, outblob, auxblob, privlevel, privlevel_floor;
 *   tdx_guest: provider, generation, inblob, outblob), generation "0";
 * - a write to inblob or privlevel bumps generation (privlevel below privlevel_floor or above 3 is
 *   EINVAL, an inblob over 64 bytes EINVAL);
 * - a read of outblob or auxblob first asks the test's `report(inblob)` for the blobs;
 * - rmdir removes the attributes with the entry (a real rmdir would refuse a non-empty directory).
 *
 * Simplified, so not tested here: the kernel's buffering of a binary attribute until close (a write
 * is seen at once), the read and write generations being separate counters (EBUSY after 2^32 writes
 * without a read), report caching between reads, root permissions, and what several processes see.
 * The files here report their true size where configfs reports a page for every attribute; that the
 * size decides nothing is tested against a sysfs attribute instead (tsm-attester.test.ts).
 * `beforeRead` lets a test act as a racing writer between the attester's steps.
 */
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { nodeTsmFiles, type TsmFiles } from "../../../src/node/attesters/tsm";

export interface TsmBlobs {
  readonly outblob: Uint8Array;
  readonly auxblob?: Uint8Array;
}

const ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  sev_guest: ["provider", "generation", "inblob", "outblob", "auxblob", "privlevel", "privlevel_floor"],
  tdx_guest: ["provider", "generation", "inblob", "outblob"],
};

const errno = (code: string, path: string) => Object.assign(new Error(`${code}: ${path}`), { code, path });

export class FakeConfigfs implements TsmFiles {
  /** The report directory (`…/tsm/report`); it exists once `create` ran. */
  readonly root: string;
  provider = "sev_guest";
  privlevelFloor = 0;
  /** Makes the blobs from the 64 bytes written to inblob. */
  report: (inblob: Uint8Array) => TsmBlobs = () => ({ outblob: new Uint8Array(0) });
  /** Runs before each attribute read, with the attribute's name and its entry. */
  beforeRead: ((name: string, entry: string) => Promise<void> | void) | undefined;
  /** Thrown by the next mkdir (e.g. EACCES). */
  mkdirError: string | undefined;
  /** When set, an inblob write does not bump generation (a write the kernel dropped at close). */
  dropInblobWrites = false;
  /** When set, rmdir fails with this code (after removing nothing). */
  rmdirError: string | undefined;
  /** Every entry made, in order. */
  readonly made: string[] = [];
  /** Every write: `<attribute>=<bytes as hex>`. */
  readonly writes: string[] = [];

  constructor(base: string) {
    this.root = join(base, "tsm", "report");
  }

  async create(): Promise<this> {
    await mkdir(this.root, { recursive: true });
    return this;
  }

  async mkdir(path: string): Promise<void> {
    if (this.mkdirError) throw errno(this.mkdirError, path);
    await nodeTsmFiles.mkdir(path);
    if (dirname(path) !== this.root) return;
    this.made.push(path);
    for (const name of ATTRIBUTES[this.provider] ?? ["provider", "generation", "inblob", "outblob"]) await writeFile(join(path, name), "");
    await writeFile(join(path, "provider"), `${this.provider}\n`);
    await writeFile(join(path, "generation"), "0\n");
    if (this.provider === "sev_guest") await writeFile(join(path, "privlevel_floor"), `${this.privlevelFloor}\n`);
  }

  async rmdir(path: string): Promise<void> {
    if (this.rmdirError) throw errno(this.rmdirError, path);
    if (dirname(path) === this.root) for (const name of await readdir(path)) await rm(join(path, name));
    await rmdir(path);
  }

  async read(path: string, maxBytes: number): Promise<Uint8Array> {
    const name = basename(path);
    const entry = dirname(path);
    await this.beforeRead?.(name, entry);
    if (name === "outblob" || name === "auxblob") {
      const blobs = this.report(new Uint8Array(await readFile(join(entry, "inblob"))));
      await writeFile(join(entry, "outblob"), blobs.outblob);
      if (this.provider === "sev_guest") await writeFile(join(entry, "auxblob"), blobs.auxblob ?? new Uint8Array(0));
    }
    return nodeTsmFiles.read(path, maxBytes);
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    const name = basename(path);
    this.writes.push(`${name}=${Buffer.from(data).toString("hex")}`);
    if (name === "privlevel") {
      const level = Number(Buffer.from(data).toString("utf8").trim());
      if (!Number.isInteger(level) || level < this.privlevelFloor || level > 3) throw errno("EINVAL", path);
    }
    if (name === "inblob" && data.length > 64) throw errno("EINVAL", path);
    await nodeTsmFiles.write(path, data);
    if (name === "privlevel" || (name === "inblob" && !this.dropInblobWrites)) await this.#bump(dirname(path));
  }

  /** What another process writing to the entry does to it. */
  async racingWrite(entry: string, inblob: Uint8Array): Promise<void> {
    await writeFile(join(entry, "inblob"), inblob);
    await this.#bump(entry);
  }

  async entries(): Promise<string[]> {
    return readdir(this.root);
  }

  async #bump(entry: string): Promise<void> {
    const n = Number((await readFile(join(entry, "generation"), "utf8")).trim());
    await writeFile(join(entry, "generation"), `${n + 1}\n`);
  }
}
