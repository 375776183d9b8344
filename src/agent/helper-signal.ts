/**
 * How `signet-agent helper` wakes the server after new files are written, as spiffe-helper does
 * (pkg/sidecar): `cmd` is started the first time (stdin closed, stdout and stderr shared), then sent
 * `renew_signal` on each update while it runs, and started again on the next update once it has
 * exited (so a short reload command such as `nginx -s reload` runs after every update); the pid in
 * `pid_file_name` is read afresh each time and signalled, retried with back-off (100 ms doubling,
 * ten tries) while the file is missing, unparseable or the process cannot be signalled.
 * The command is not stopped when the helper stops, as in spiffe-helper.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { readRegularFile } from "../node/input-file";
import type { Logger } from "./log";
import { defaultSleep } from "./sync";

export interface SignalTargets {
  readonly cmd: string;
  readonly cmdArgs: readonly string[];
  readonly renewSignal: string;
  /** Absolute, or "" for none. */
  readonly pidFile: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Is `name` (SIGHUP, SIGUSR1, …) a signal this system knows? */
export function knownSignal(name: string): boolean {
  return Object.hasOwn(constants.signals, name);
}

export class ProcessSignaller {
  #child: ChildProcess | undefined;
  readonly #pidRetries: number;

  constructor(
    readonly targets: SignalTargets,
    readonly log: Logger,
    options: { readonly pidRetries?: number } = {},
  ) {
    this.#pidRetries = options.pidRetries ?? 10;
  }

  /** The command's pid while it runs. */
  get childPid(): number | undefined {
    return this.#child?.pid;
  }

  /** After every update written: start or signal `cmd`, signal the pid file's process. */
  async notify(signal: AbortSignal): Promise<void> {
    if (this.targets.cmd !== "") this.#signalCommand();
    if (this.targets.pidFile !== "") await this.#signalPidFile(signal);
  }

  #signalCommand(): void {
    const { cmd, cmdArgs, renewSignal } = this.targets;
    if (this.#child) {
      if (renewSignal === "") return;
      try {
        this.#child.kill(renewSignal as NodeJS.Signals);
        this.log.info("signalled cmd", { pid: this.#child.pid, signal: renewSignal });
      } catch (e) {
        this.log.error("cannot signal cmd", { pid: this.#child.pid, signal: renewSignal, detail: (e as Error).message });
      }
      return;
    }
    const env = Object.fromEntries(Object.entries(this.targets.env).filter((e): e is [string, string] => e[1] !== undefined));
    const child = spawn(cmd, [...cmdArgs], { cwd: this.targets.cwd, env, stdio: ["ignore", "inherit", "inherit"] });
    this.#child = child;
    child.once("error", (e) => {
      this.log.error("cannot run cmd", { cmd, detail: (e as NodeJS.ErrnoException).code ?? e.message });
      if (this.#child === child) this.#child = undefined;
    });
    child.once("spawn", () => this.log.info("started cmd", { cmd, pid: child.pid }));
    child.once("exit", (code, sig) => {
      this.log.info("cmd exited", { cmd, pid: child.pid, code: code ?? undefined, signal: sig ?? undefined });
      if (this.#child === child) this.#child = undefined;
    });
  }

  async #signalPidFile(signal: AbortSignal): Promise<void> {
    const { pidFile, renewSignal } = this.targets;
    let wait = 100;
    for (let attempt = 1; ; attempt++) {
      const r = await this.#signalPidOnce();
      if (r.ok) {
        this.log.info("signalled pid_file_name's process", { pid: r.pid, signal: renewSignal, pid_file_name: pidFile });
        return;
      }
      if (attempt >= this.#pidRetries || signal.aborted) {
        this.log.error("cannot signal pid_file_name's process", { pid_file_name: pidFile, detail: r.detail, attempts: attempt });
        return;
      }
      this.log.debug("cannot signal pid_file_name's process yet", { pid_file_name: pidFile, detail: r.detail, retry_in_ms: wait });
      await defaultSleep(wait, signal);
      wait *= 2;
    }
  }

  async #signalPidOnce(): Promise<{ ok: true; pid: number } | { ok: false; detail: string }> {
    const read = await readRegularFile(this.targets.pidFile, 64);
    if (!read.ok) return { ok: false, detail: read.error.reason === "unreadable" ? `cannot read it: ${read.error.code}` : read.error.reason };
    const text = Buffer.from(read.value).toString("utf8").trim();
    if (!/^[1-9][0-9]{0,9}$/.test(text)) return { ok: false, detail: "it does not hold a process id" };
    const pid = Number(text);
    try {
      process.kill(pid, this.targets.renewSignal as NodeJS.Signals);
      return { ok: true, pid };
    } catch (e) {
      return { ok: false, detail: `pid ${pid}: ${(e as NodeJS.ErrnoException).code ?? "cannot signal"}` };
    }
  }
}
