/** Fixture bytes inside the Workers pool (see TEST_FIXTURES in vitest.config.ts). */
import { env } from "cloudflare:workers";
import { fromBase64 } from "../../src/lib/encoding";

export function fixture(path: string): Uint8Array {
  const all = (env as unknown as { TEST_FIXTURES: Record<string, string> }).TEST_FIXTURES;
  const b64 = all[path];
  if (b64 === undefined) throw new Error(`fixture ${path} is not in WORKERS_FIXTURES (vitest.config.ts)`);
  return fromBase64(b64)!;
}

export function fixtureText(path: string): string {
  return new TextDecoder().decode(fixture(path));
}
