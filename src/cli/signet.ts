/** Process entry of the `signet` CLI (bundled to dist/cli/signet.mjs; bin/signet.mjs loads it). */
import { main } from "./main";

process.exitCode = await main(process.argv.slice(2), {
  stdout: (s) => void process.stdout.write(s),
  stdoutBytes: (bytes) => void process.stdout.write(bytes),
  stderr: (s) => void process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
  fetch: globalThis.fetch,
});
