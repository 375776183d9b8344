/**
 * Reading a file named on the command line without trusting what it is.
 *
 * - Only a regular file is read. A FIFO (whose open would wait for a writer), a device such as
 *   /dev/zero (an endless stream), a directory or a socket is refused before a byte is read.
 * - A file larger than the limit by its size is refused without reading it.
 * - At most limit + 1 bytes are ever read, whatever the size said: a file that grows while it is
 *   read, or whose size understates it (procfs reports 0), is refused once it passes the limit.
 *
 * The path is checked with stat, then opened non-blocking and checked again on the open handle, so
 * a FIFO swapped in between cannot block the open and is still refused.
 */
import { constants, type Stats } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { err, ok, type Result } from "../lib/result";

export type InputFileError =
  | { readonly reason: "not_regular_file"; readonly kind: string }
  | { readonly reason: "too_large"; readonly maxBytes: number }
  | { readonly reason: "unreadable"; readonly code: string };

/** Reads at most the first chunk this large before growing the buffer (most inputs are a few KiB). */
const FIRST_CHUNK = 64 * 1024;

export interface ReadFileOptions {
  /**
   * The file system's size means nothing (sysfs and configfs report a page for every attribute):
   * it is not compared with the limit, only the bytes read are.
   */
  readonly sizeUnknown?: boolean;
}

export async function readRegularFile(path: string, maxBytes: number, options: ReadFileOptions = {}): Promise<Result<Uint8Array, InputFileError>> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TypeError(`readRegularFile: maxBytes must be a positive integer, got ${maxBytes}`);
  const limit = options.sizeUnknown ? Number.MAX_SAFE_INTEGER : maxBytes;
  let handle: FileHandle | undefined;
  try {
    const before = check(await stat(path), limit);
    if (before) return err(before);
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const st = await handle.stat();
    const after = check(st, limit);
    if (after) return err(after);
    return await readAtMost(handle, maxBytes, st.size);
  } catch (e) {
    return err({ reason: "unreadable", code: (e as NodeJS.ErrnoException | undefined)?.code ?? "error" });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function check(st: Stats, maxBytes: number): InputFileError | undefined {
  if (!st.isFile()) return { reason: "not_regular_file", kind: kindOf(st) };
  if (st.size > maxBytes) return { reason: "too_large", maxBytes };
  return undefined;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "directory";
  if (st.isFIFO()) return "FIFO";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  if (st.isSocket()) return "socket";
  return "special file";
}

async function readAtMost(handle: FileHandle, maxBytes: number, sizeHint: number): Promise<Result<Uint8Array, InputFileError>> {
  const cap = maxBytes + 1; // one byte past the limit tells "exactly the limit" from "more"
  let buf = new Uint8Array(Math.min(cap, Math.max(sizeHint + 1, FIRST_CHUNK)));
  let length = 0;
  for (;;) {
    if (length === buf.length) {
      if (buf.length === cap) break;
      const grown = new Uint8Array(Math.min(cap, buf.length * 2));
      grown.set(buf);
      buf = grown;
    }
    const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  if (length > maxBytes) return err({ reason: "too_large", maxBytes });
  return ok(buf.slice(0, length));
}
