#!/usr/bin/env node
// The `signet` command. The CLI itself is TypeScript, bundled by scripts/build-cli.mjs (`prepare`).
import { existsSync } from "node:fs";

const bundle = new URL("../dist/cli/signet.mjs", import.meta.url);

if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  process.stderr.write("signet: the CLI is not built; run `npm install` (or node scripts/build-cli.mjs)\n");
  process.exitCode = 2;
}
