/**
 * Writing credentials to disk without leaving half-written files behind.
 *
 * Every file is first written in full to a temporary file in the target directory (same file
 * system, so the rename is atomic), flushed, and only when all of them are written are they renamed
 * into place. If any write fails, the temporaries are removed and the old files stay untouched.
 * The renames run back to back, synchronously: no other code of this process runs between them, and
 * another process has a window of a few microseconds in which it can read a new certificate beside
 * the old key (two files cannot change at one instant; a client that loads both per connection
 * retries on a key mismatch). A crash between two renames can leave such a pair; the next write
 * repairs it.
 */
import { randomBytes } from "node:crypto";
import { renameSync } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { err, ok, type Result } from "../lib/result";

export interface FileToWrite {
  readonly name: string;
  /** Text is written as UTF-8, bytes as they are. */
  readonly contents: string | Uint8Array;
  /** Permission bits; the private key uses 0o600. */
  readonly mode: number;
}

export interface WriteError {
  readonly path: string;
  readonly message: string;
}

/** Creates `dir` (and parents) if missing, then writes every file; returns their full paths. */
export async function writeFilesAtomically(dir: string, files: readonly FileToWrite[]): Promise<Result<string[], WriteError>> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    return err({ path: dir, message: describe(e) });
  }

  const suffix = `.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const staged: { readonly temp: string; readonly final: string }[] = [];
  const cleanUp = async (): Promise<void> => {
    await Promise.all(staged.map((s) => rm(s.temp, { force: true }).catch(() => undefined)));
  };

  for (const file of files) {
    const final = join(dir, file.name);
    // Beside the target (a name may hold a subdirectory), so the rename stays on one file system.
    const temp = join(dirname(final), `.${basename(final)}${suffix}`);
    staged.push({ temp, final });
    try {
      // "wx": never follow or reuse something already at the temporary name.
      const handle = await open(temp, "wx", file.mode);
      try {
        await handle.writeFile(file.contents, "utf8");
        await handle.chmod(file.mode); // exactly this mode, whatever the umask
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (e) {
      await cleanUp();
      return err({ path: final, message: describe(e) });
    }
  }

  // No await in this loop: see the header.
  for (const [i, s] of staged.entries()) {
    try {
      renameSync(s.temp, s.final);
    } catch (e) {
      await Promise.all(staged.slice(i).map((r) => rm(r.temp, { force: true }).catch(() => undefined)));
      return err({ path: s.final, message: describe(e) });
    }
  }
  return ok(staged.map((s) => s.final));
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOTDIR") return "a path component is not a directory";
  if (code === "EEXIST") return "already exists and is not a directory";
  if (code === "ENOSPC") return "no space left on device";
  if (code === "EISDIR") return "is a directory";
  return code ?? (e instanceof Error ? e.message : "write failed");
}
