/**
 * Workload attestation of a local caller (SPIRE's `unix` workload attestor, on our terms): from the
 * kernel's peer credentials of the connection (pid, uid, gid) and /proc, the selectors
 * `unix:uid:N`, `unix:gid:N`, `unix:user:NAME`, `unix:group:NAME` (from the passwd and group files),
 * `unix:path:/abs` (the /proc/<pid>/exe link) and `unix:sha256:<hex>` (of the executable, read
 * through /proc/<pid>/exe, so a file replaced after exec is not what is hashed).
 *
 * PID reuse: the process start time (/proc/<pid>/stat field 22) recorded when the connection was
 * accepted must still be the start time, and /proc/<pid> must still belong to the peer's uid and gid,
 * after everything else was read (as SPIRE's peertracker checks). Otherwise the pid now names another
 * process and the caller gets no selectors at all.
 *
 * A connection's calls: the peer credentials of a connection cannot change, so the selectors found
 * for it are kept (per CallerProcess object, which the server holds per connection) and a later call
 * reads again only what could have changed, in the same order as a full attestation: the executable
 * through /proc/<pid>/exe (one stat: device, inode, size, mtime and ctime, so an exec of another file,
 * or the file rewritten, renamed or linked anew, is seen), whether the passwd/group files changed, the
 * start time (one read of /proc/<pid>/stat through a descriptor kept open for the connection: the pid
 * still names the process that connected) and the owner of /proc/<pid> (a setuid since is seen).
 * Anything different, or any error, and the call is attested in full, with what that finds (other
 * selectors after an exec, or no selectors at all). `release` closes what a connection kept.
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, read, readFileSync, readlinkSync, readSync, statSync } from "node:fs";
import { BoundedCache } from "../../lib/bounded-cache";
import { err, ok, type Result } from "../../lib/result";
import type { PeerCredentials } from "./peer-credentials";

/** The peer as recorded at accept time. */
export interface CallerProcess extends PeerCredentials {
  /** /proc/<pid>/stat field 22 (clock ticks since boot), as read at accept time. */
  readonly startTime: string;
}

export type AttestationFailureReason = "process_gone" | "pid_reused" | "proc_unreadable";

export interface AttestationFailure {
  readonly reason: AttestationFailureReason;
  readonly detail: string;
}

export interface UnixAttestorOptions {
  /** Default `/proc`. */
  readonly procRoot?: string;
  /** Default `/etc/passwd`. */
  readonly passwdPath?: string;
  /** Default `/etc/group`. */
  readonly groupPath?: string;
  /** How often the passwd and group files are checked for changes, ms (default 1000). */
  readonly namesRecheckMs?: number;
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  // After ") " come fields 3, 4, …; field 22 is the 20th of them.
  const rest = stat.slice(close + 2).split(" ");
  const start = rest[19];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

/** `name:…:id:…` lines (passwd: id in column 3; group: id in column 3) → id → first name. */
export function parseIdNames(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const cols = line.split(":");
    const name = cols[0];
    const id = cols[2];
    if (!name || id === undefined || !/^\d+$/.test(id)) continue;
    const n = Number(id);
    if (!out.has(n)) out.set(n, name);
  }
  return out;
}

/** A file of id → name, re-read when its size or mtime changes. */
class IdNameFile {
  #key = "";
  #names = new Map<number, string>();
  /** Changes whenever the names are read anew. */
  #version = 0;

  constructor(
    readonly path: string,
    readonly recheckMs: number,
  ) {}

  #checkedAt = -Infinity;

  /** Looks at the file at most once per `recheckMs`: a renamed user is seen that soon. */
  name(id: number): string | undefined {
    this.version();
    return this.#names.get(id);
  }

  /** The names' version after looking at the file (at most once per `recheckMs`). */
  version(): number {
    const now = performance.now();
    if (now - this.#checkedAt < this.recheckMs) return this.#version;
    this.#checkedAt = now;
    try {
      const st = statSync(this.path);
      const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
      if (key !== this.#key) {
        this.#names = parseIdNames(readFileSync(this.path, "utf8"));
        this.#key = key;
        this.#version++;
      }
    } catch {
      if (this.#key !== "" || this.#names.size > 0) this.#version++;
      this.#names = new Map();
      this.#key = "";
    }
    return this.#version;
  }
}

/** What a connection's full attestation found, and what a later call compares. */
interface Attested {
  readonly selectors: readonly string[];
  /** The executable's (dev, inode, size, mtime, ctime) when it was hashed. */
  readonly exeKey: string;
  readonly users: number;
  readonly groups: number;
  /**
   * /proc/<pid>/stat, kept open for the connection: a read costs one syscall, and once the process
   * has exited the kernel answers ESRCH on it even when the pid has been given to another process.
   */
  readonly statFd: number;
}

const exeKeyOf = (st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

/** One buffer for /proc/<pid>/stat reads (synchronous, so never shared by two at once). */
const statBuffer = Buffer.allocUnsafe(4096);

export class UnixAttestor {
  readonly #proc: string;
  readonly #users: IdNameFile;
  readonly #groups: IdNameFile;
  /** sha256 by the executable's (dev, inode, size, mtime, ctime): a changed file is hashed again. */
  readonly #hashes = new BoundedCache<string>(1024);
  /** Hashes being computed, so concurrent first callers of one executable share one read. */
  readonly #hashing = new Map<string, Promise<string>>();
  /** Per connection (its CallerProcess object): what its last full attestation found. */
  readonly #attested = new WeakMap<CallerProcess, Attested>();
  /** Closes a kept descriptor whose caller was dropped without `release` (unregistered by `release`). */
  readonly #finalizer = new FinalizationRegistry<number>((fd) => closeQuietly(fd));
  /** Calls answered from `#attested` and full attestations, for tests. */
  readonly counts = { cached: 0, full: 0 };

  constructor(options: UnixAttestorOptions = {}) {
    this.#proc = options.procRoot ?? "/proc";
    const recheck = options.namesRecheckMs ?? 1000;
    this.#users = new IdNameFile(options.passwdPath ?? "/etc/passwd", recheck);
    this.#groups = new IdNameFile(options.groupPath ?? "/etc/group", recheck);
  }

  /** The start time of `pid` now, or undefined when there is no such process. */
  startTime(pid: number): string | undefined {
    let fd: number;
    try {
      fd = openSync(`${this.#proc}/${pid}/stat`, "r");
    } catch {
      return undefined;
    }
    try {
      return startTimeAt(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Forgets a connection's attestation and closes what it kept (the server calls it when the connection closes). */
  release(caller: CallerProcess): void {
    const kept = this.#attested.get(caller);
    if (!kept) return;
    this.#attested.delete(caller);
    this.#finalizer.unregister(caller);
    closeQuietly(kept.statFd);
  }

  /**
   * The caller's selectors. A caller (connection) attested before is answered from what was found
   * then when the executable, the names files, the start time and the owner are all unchanged.
   */
  async attest(caller: CallerProcess): Promise<Result<string[], AttestationFailure>> {
    const before = this.#attested.get(caller);
    if (before && this.#unchanged(caller, before)) {
      this.counts.cached++;
      return ok(before.selectors as string[]);
    }
    this.counts.full++;
    this.release(caller);
    const r = await this.#attestFully(caller);
    if (!r.ok) return r;
    this.#keep(caller, r.value);
    return ok([...r.value.selectors]);
  }

  /** Keeps a full attestation for the caller's next calls, with /proc/<pid>/stat open, if that still names it. */
  #keep(caller: CallerProcess, found: Omit<Attested, "statFd">): void {
    if (this.#attested.has(caller)) return; // attested twice at once: the first one kept its own
    let fd: number;
    try {
      fd = openSync(`${this.#proc}/${caller.pid}/stat`, "r");
    } catch {
      return;
    }
    if (startTimeAt(fd) !== caller.startTime) {
      closeQuietly(fd);
      return;
    }
    this.#attested.set(caller, { ...found, statFd: fd });
    this.#finalizer.register(caller, fd, caller);
  }

  #unchanged(caller: CallerProcess, before: Attested): boolean {
    try {
      const base = `${this.#proc}/${caller.pid}`;
      const exe = statSync(`${base}/exe`, { bigint: true, throwIfNoEntry: false });
      if (!exe || exeKeyOf(exe) !== before.exeKey) return false;
      if (this.#users.version() !== before.users || this.#groups.version() !== before.groups) return false;
      if (startTimeAt(before.statFd) !== caller.startTime) return false;
      const st = statSync(base, { throwIfNoEntry: false });
      return st !== undefined && st.uid === caller.uid && st.gid === caller.gid;
    } catch {
      return false;
    }
  }

  async #attestFully(caller: CallerProcess): Promise<Result<Omit<Attested, "statFd">, AttestationFailure>> {
    const base = `${this.#proc}/${caller.pid}`;
    let path: string;
    let sha256: string;
    let exeKey: string;
    try {
      // procfs answers these from memory: synchronous calls cost microseconds, a thread-pool hop more.
      path = readlinkSync(`${base}/exe`);
      ({ sha256, exeKey } = await this.#hashExecutable(`${base}/exe`));
    } catch (e) {
      const alive = this.startTime(caller.pid);
      if (alive === undefined) return err({ reason: "process_gone", detail: `process ${caller.pid} has exited` });
      if (alive !== caller.startTime) return err({ reason: "pid_reused", detail: `pid ${caller.pid} now names another process` });
      return err({ reason: "proc_unreadable", detail: `cannot read the executable of process ${caller.pid}: ${(e as Error).message}` });
    }
    const now = this.startTime(caller.pid);
    if (now === undefined) return err({ reason: "process_gone", detail: `process ${caller.pid} has exited` });
    if (now !== caller.startTime) return err({ reason: "pid_reused", detail: `pid ${caller.pid} now names another process (start time ${now}, was ${caller.startTime})` });
    try {
      const st = statSync(base);
      if (st.uid !== caller.uid || st.gid !== caller.gid) return err({ reason: "pid_reused", detail: `process ${caller.pid} no longer runs as the peer's uid/gid` });
    } catch {
      return err({ reason: "process_gone", detail: `process ${caller.pid} has exited` });
    }

    const users = this.#users.version();
    const groups = this.#groups.version();
    const selectors = [`unix:uid:${caller.uid}`, `unix:gid:${caller.gid}`];
    const user = this.#users.name(caller.uid);
    if (user !== undefined) selectors.push(`unix:user:${user}`);
    const group = this.#groups.name(caller.gid);
    if (group !== undefined) selectors.push(`unix:group:${group}`);
    selectors.push(`unix:path:${path}`, `unix:sha256:${sha256}`);
    return ok({ selectors: Object.freeze(selectors), exeKey, users, groups });
  }

  async #hashExecutable(exe: string): Promise<{ sha256: string; exeKey: string }> {
    // The common case, a binary hashed before: one stat through the link, no open.
    const seen = exeKeyOf(statSync(exe, { bigint: true }));
    const hit = this.#hashes.get(seen);
    if (hit !== undefined) return { sha256: hit, exeKey: seen };
    const fd = openSync(exe, "r");
    let handedOver = false;
    try {
      const key = exeKeyOf(fstatSync(fd, { bigint: true }));
      const cached = this.#hashes.get(key);
      if (cached !== undefined) return { sha256: cached, exeKey: key };
      let pending = this.#hashing.get(key);
      if (!pending) {
        handedOver = true;
        pending = hashFd(fd).finally(() => closeSync(fd));
        this.#hashing.set(key, pending);
      }
      try {
        const hex = await pending;
        this.#hashes.set(key, hex);
        return { sha256: hex, exeKey: key };
      } finally {
        this.#hashing.delete(key);
      }
    } finally {
      if (!handedOver) closeSync(fd);
    }
  }
}

/** Field 22 of the /proc/<pid>/stat open as `fd`, read from its start; undefined on any error (ESRCH once the process is gone). */
function startTimeAt(fd: number): string | undefined {
  try {
    // One read: procfs renders the whole line at once, far below 4 KiB.
    const n = readSync(fd, statBuffer, 0, statBuffer.length, 0);
    return n < statBuffer.length ? parseStartTime(statBuffer.toString("latin1", 0, n)) : undefined;
  } catch {
    return undefined;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** sha256 of a file read through `fd` (which stays open), in 1 MiB reads off the main thread. */
async function hashFd(fd: number): Promise<string> {
  const hash = createHash("sha256");
  const chunk = Buffer.allocUnsafe(1 << 20);
  let position = 0;
  for (;;) {
    const bytesRead = await new Promise<number>((resolve, reject) => read(fd, chunk, 0, chunk.length, position, (e, n) => (e ? reject(e) : resolve(n))));
    if (bytesRead === 0) break;
    hash.update(chunk.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest("hex");
}
