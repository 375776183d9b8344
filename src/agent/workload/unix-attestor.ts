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
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, read, readFileSync, readlinkSync, statSync } from "node:fs";
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

  constructor(
    readonly path: string,
    readonly recheckMs: number,
  ) {}

  #checkedAt = -Infinity;

  /** Looks at the file at most once per `recheckMs`: a renamed user is seen that soon. */
  name(id: number): string | undefined {
    const now = performance.now();
    if (now - this.#checkedAt < this.recheckMs) return this.#names.get(id);
    this.#checkedAt = now;
    try {
      const st = statSync(this.path);
      const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
      if (key !== this.#key) {
        this.#names = parseIdNames(readFileSync(this.path, "utf8"));
        this.#key = key;
      }
    } catch {
      this.#names = new Map();
      this.#key = "";
    }
    return this.#names.get(id);
  }
}

export class UnixAttestor {
  readonly #proc: string;
  readonly #users: IdNameFile;
  readonly #groups: IdNameFile;
  /** sha256 by the executable's (dev, inode, size, mtime, ctime): a changed file is hashed again. */
  readonly #hashes = new BoundedCache<string>(1024);
  /** Hashes being computed, so concurrent first callers of one executable share one read. */
  readonly #hashing = new Map<string, Promise<string>>();

  constructor(options: UnixAttestorOptions = {}) {
    this.#proc = options.procRoot ?? "/proc";
    const recheck = options.namesRecheckMs ?? 1000;
    this.#users = new IdNameFile(options.passwdPath ?? "/etc/passwd", recheck);
    this.#groups = new IdNameFile(options.groupPath ?? "/etc/group", recheck);
  }

  /** The start time of `pid` now, or undefined when there is no such process. */
  startTime(pid: number): string | undefined {
    try {
      return parseStartTime(readFileSync(`${this.#proc}/${pid}/stat`, "latin1"));
    } catch {
      return undefined;
    }
  }

  async attest(caller: CallerProcess): Promise<Result<string[], AttestationFailure>> {
    const base = `${this.#proc}/${caller.pid}`;
    let path: string;
    let sha256: string;
    try {
      // procfs answers these from memory: synchronous calls cost microseconds, a thread-pool hop more.
      path = readlinkSync(`${base}/exe`);
      sha256 = await this.#hashExecutable(`${base}/exe`);
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

    const selectors = [`unix:uid:${caller.uid}`, `unix:gid:${caller.gid}`];
    const user = this.#users.name(caller.uid);
    if (user !== undefined) selectors.push(`unix:user:${user}`);
    const group = this.#groups.name(caller.gid);
    if (group !== undefined) selectors.push(`unix:group:${group}`);
    selectors.push(`unix:path:${path}`, `unix:sha256:${sha256}`);
    return ok(selectors);
  }

  async #hashExecutable(exe: string): Promise<string> {
    // The common case, a binary hashed before: one stat through the link, no open.
    const seen = statSync(exe, { bigint: true });
    const hit = this.#hashes.get(`${seen.dev}:${seen.ino}:${seen.size}:${seen.mtimeNs}:${seen.ctimeNs}`);
    if (hit !== undefined) return hit;
    const fd = openSync(exe, "r");
    let handedOver = false;
    try {
      const st = fstatSync(fd, { bigint: true });
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      const cached = this.#hashes.get(key);
      if (cached !== undefined) return cached;
      let pending = this.#hashing.get(key);
      if (!pending) {
        handedOver = true;
        pending = hashFd(fd).finally(() => closeSync(fd));
        this.#hashing.set(key, pending);
      }
      try {
        const hex = await pending;
        this.#hashes.set(key, hex);
        return hex;
      } finally {
        this.#hashing.delete(key);
      }
    } finally {
      if (!handedOver) closeSync(fd);
    }
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
