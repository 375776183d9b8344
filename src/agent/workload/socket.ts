/**
 * The Workload API's unix socket on disk. A path that already exists is taken over only when it is a
 * socket nobody listens on (connect fails with ECONNREFUSED: a previous agent died without removing
 * it); a live socket means another agent serves there, and anything else (a regular file, a
 * directory, a symlink) is never removed. The socket is made mode 0777 after listen, as SPIRE's agent
 * does (pkg/agent/endpoints/endpoints_posix.go: os.Chmod(path, os.ModePerm)): workloads of every uid
 * must be able to connect, and who they are is decided by attestation, not by file permissions.
 * Operators who want fewer callers restrict the parent directory.
 */
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { connect, type Server } from "node:net";
import { dirname, isAbsolute } from "node:path";

export class SocketPathError extends Error {
  override readonly name = "SocketPathError";
}

/** `unix:///abs/path` (SPIFFE_ENDPOINT_SOCKET's form) or an absolute path → the absolute path. */
export function socketPathFrom(address: string): string {
  let path = address;
  if (address.startsWith("unix:")) {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw new SocketPathError(`${address} is not a unix:///path URI`);
    }
    if (url.host !== "" || url.search !== "" || url.hash !== "" || url.username !== "") throw new SocketPathError(`${address}: a unix socket URI has only a path (unix:///abs/path)`);
    path = decodeURIComponent(url.pathname);
  }
  if (!isAbsolute(path) || path.endsWith("/")) throw new SocketPathError(`the socket path ${path} must be an absolute file path`);
  if (Buffer.byteLength(path) > 107) throw new SocketPathError(`the socket path ${path} is longer than a unix socket address allows (107 bytes)`);
  return path;
}

function probe(path: string): Promise<"live" | "stale"> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve("live");
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      s.destroy();
      if (e.code === "ECONNREFUSED" || e.code === "ENOENT") resolve("stale");
      else reject(new SocketPathError(`cannot tell whether ${path} is in use: ${e.message}`));
    });
  });
}

/** Makes `path` free for listen(): creates the parent directory, removes a stale socket, refuses otherwise. */
export async function prepareSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (!st.isSocket()) throw new SocketPathError(`${path} exists and is not a socket; refusing to replace it`);
  if ((await probe(path)) === "live") throw new SocketPathError(`another process is already serving on ${path} (is another signet-agent running?)`);
  unlinkSync(path);
}

/** Listens on `path` (after prepareSocketPath), then opens it to every uid. Returns the socket's inode. */
export async function listenOnSocket(server: Server, path: string): Promise<number> {
  await prepareSocketPath(path);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen({ path, exclusive: true }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  chmodSync(path, 0o777);
  return statSync(path).ino;
}

/** Removes the socket file if it is still the one this server created. */
export function removeSocket(path: string, ino: number): void {
  try {
    const st = lstatSync(path);
    if (st.isSocket() && st.ino === ino) unlinkSync(path);
  } catch {
    // Already gone.
  }
}
