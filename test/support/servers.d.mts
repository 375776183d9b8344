// Types of test/support/servers.mjs for test/e2e/servers.test.ts.
import type { X509Certificate } from "node:crypto";

export const FILES: { readonly cert: string; readonly key: string; readonly bundle: string };
export function missingServers(): string[];
export function ownedDir(path: string, uid: number): Promise<string>;
export function startHelper(o: {
  name: string;
  uid: number;
  socket: string;
  dir: string;
  example?: { file: string; replace: (readonly [string, string])[] };
}): Promise<{ output(): string }>;
export function pemCerts(path: string): X509Certificate[];
export function bundleFingerprints(path: string): string[];
export function issuerOf(certPath: string, bundlePath: string): string | undefined;
export function substitute(text: string, pairs: readonly (readonly [string, string])[]): string;
export function startNginx(o: { dir: string; uid: number; port: number; certDir: string }): Promise<{ pidFile: string; errorLog(): string; conf: string }>;
export interface Postgres {
  readonly data: string;
  readonly socketDir: string;
  readonly pidFile: string;
  configure(hba: string, ident: string): Promise<void>;
  sql(q: string): Promise<string>;
  log(): string;
}
export function startPostgres(o: { dir: string; uid: number; port: number; certDir: string }): Promise<Postgres>;
export function psqlConnect(o: { port: number; certDir: string; bundle: string; user?: string; host?: string }): Promise<{ ok: boolean; out: string }>;
export function cleanupServers(): Promise<void>;
export function cleanupServersSync(): void;

// Re-exported from scripts/demo-lib.mjs (only what the test uses).
export interface Instance {
  readonly url: string;
  output(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  cliOk(args: string[]): Promise<string>;
  shiftCa(o: { ms?: number; activateInMs?: number }): Promise<{ rows: number; shiftMs: number }>;
}
export function createInstance(o: { dir: string; vars?: Record<string, string>; log?: (l: string) => void }): Promise<Instance>;
export function startAgent(o: { url: string; socket: string; attestation: string; name?: string }): {
  waitFor(pred: (rec: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
};
export function bundleAuthorities(url: string): Promise<string[]>;
export function tempDir(prefix?: string): Promise<string>;
export function freePort(): Promise<number>;
export function ensureBuilt(): Promise<void>;
export function cleanup(): Promise<void>;
export function installExitHandlers(): void;
