/**
 * The `signet-agent` program (bundled by scripts/build-cli.mjs into dist/agent/signet-agent.mjs,
 * which bin/signet-agent.mjs loads): process glue around main.ts.
 */
// First, before any other module is evaluated: the young generation's size (see heap.ts).
import "./heap";
import { main } from "./main";

const controller = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => controller.abort());

const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  signal: controller.signal,
});
process.exitCode = code;
// Nothing else may keep the agent alive once main has returned (sockets, timers); stdout and stderr
// get a moment to drain first.
setTimeout(() => process.exit(code), 500).unref();
