/**
 * The kernel's credentials of the process at the other end of an accepted unix socket: SO_PEERCRED
 * (socket(7)) returns the pid, uid and gid the kernel recorded when the peer called connect(2). Node
 * has no API for it, so this calls libc's getsockopt through koffi (prebuilt FFI, no build step).
 * Nothing the caller sends is involved; the caller cannot choose these values.
 */
import type { Socket } from "node:net";
import koffi from "koffi";

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

interface Libc {
  readonly getsockopt: (fd: number, level: number, name: number, out: Record<string, number>, len: number[]) => number;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  if (process.platform !== "linux") throw new Error("SO_PEERCRED workload attestation needs Linux");
  const lib = koffi.load("libc.so.6");
  const ucred = koffi.struct("signet_ucred", { pid: "int32", uid: "uint32", gid: "uint32" });
  const getsockopt = lib.func("getsockopt", "int", ["int", "int", "int", koffi.out(koffi.pointer(ucred)), koffi.inout(koffi.pointer("uint32"))]);
  libc = { getsockopt: (fd, level, name, out, len) => getsockopt(fd, level, name, out, len) as number };
  return libc;
}

/** The file descriptor of an accepted unix socket (libuv's pipe handle), or undefined. */
export function socketFd(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === "number" && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** SO_PEERCRED of a connected unix socket fd; throws when the kernel gives none. */
export function peerCredentials(fd: number): PeerCredentials {
  const out: Record<string, number> = {};
  const len = [12];
  const rc = loadLibc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, len);
  if (rc !== 0) throw new Error(`getsockopt(SO_PEERCRED) failed: errno ${koffi.errno()}`);
  const { pid, uid, gid } = out;
  if (len[0] !== 12 || typeof pid !== "number" || typeof uid !== "number" || typeof gid !== "number") throw new Error("getsockopt(SO_PEERCRED) returned no credentials");
  // pid 0: the peer is in a pid namespace that cannot be mapped into ours; it cannot be attested.
  if (pid <= 0) throw new Error("the peer's pid is not visible from this pid namespace");
  return { pid, uid, gid };
}
