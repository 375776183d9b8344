#!/usr/bin/env node
// `npm run demo`: issue 10's whole chain on this machine, step by step (scripts/demo-scenario.mjs):
// a Signet of its own (nothing of `npm run dev`'s state or .dev.vars is touched), entries, the agent
// with the sample TEE, two workloads as two uids doing mutual TLS with their SVIDs, a JWT-SVID checked
// through OIDC discovery, an x509pop agent seeded by the key broker, and a CA rotation without a
// failed handshake. Needs openssl and python3; run as root (sudo) so the workloads get uids of their
// own. Everything it starts is stopped and its temp dir removed on exit, Ctrl-C included.
//   npm run demo [-- --verbose] [-- --keep-going]
import { isDeepStrictEqual } from "node:util";
import { cleanup, installExitHandlers } from "./demo-lib.mjs";
import { createContext, steps } from "./demo-scenario.mjs";

const verbose = process.argv.includes("--verbose");
let interrupted = false;
const out = (line) => interrupted || process.stdout.write(`${line}\n`);
installExitHandlers({
  signals: true,
  onSignal: (s) => {
    out(`\n${s}: stopping everything and removing the temp dir`);
    interrupted = true;
  },
});

let failed = 0;
function check(label, actual, expected) {
  if (isDeepStrictEqual(actual, expected)) {
    out(`  ok   ${label}`);
    return;
  }
  failed++;
  throw new Error(`${label}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

const ctx = createContext({ log: out, verbose });
const started = Date.now();
let status = 0;
try {
  for (const [i, step] of steps.entries()) {
    const t0 = Date.now();
    out(`\n[${i + 1}/${steps.length}] ${step.title}`);
    await step.run(ctx, check);
    out(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  out(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s: every check passed.`);
} catch (e) {
  status = 1;
  out(`\nFAILED${failed ? "" : " (error)"}: ${e instanceof Error ? e.message : String(e)}`);
  if (ctx.signet && verbose) out(`wrangler said:\n${ctx.signet.output()}`);
} finally {
  out("Cleaning up: stopping the workloads, the agents and Signet, removing the temp dir.");
  await cleanup();
}
process.exit(status);
