#!/usr/bin/env node
// The `signet-agent` command. The agent is TypeScript, bundled by scripts/build-cli.mjs (`prepare`).
import { existsSync } from "node:fs";

const bundle = new URL("../dist/agent/signet-agent.mjs", import.meta.url);

if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  process.stderr.write("signet-agent: the agent is not built; run `npm install` (or node scripts/build-cli.mjs)\n");
  process.exitCode = 2;
}
