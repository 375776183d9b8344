// Bundles the `signet` CLI (src/cli/signet.ts) into dist/cli/signet.mjs, which bin/signet.mjs loads,
// and signet-agent (below).
// Runs as the `prepare` script, so `npm install` leaves a working `signet`.
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  // An install without devDependencies: nothing to build with, and the Worker does not need the CLI.
  console.warn("build-cli: esbuild is not installed; skipping the CLI build");
  process.exit(0);
}

await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["src/cli/signet.ts"],
  outfile: "dist/cli/signet.mjs",
  platform: "node",
  format: "esm",
  target: "node20",
  bundle: true,
  sourcemap: true,
  logLevel: "warning",
});

// signet-agent: dist/agent/signet-agent.mjs and its chunks (scripts/agent-bundle.mjs says why chunks);
// chunks of earlier builds that this one did not write are removed.
const { agentBuildOptions } = await import("./agent-bundle.mjs");
const agent = await esbuild.build({ absWorkingDir: root, ...agentBuildOptions(), metafile: true });
const { existsSync, readdirSync, rmSync } = await import("node:fs");
const { join, relative } = await import("node:path");
const written = new Set(Object.keys(agent.metafile.outputs).map((o) => relative("dist/agent/chunks", o)));
const chunks = join(root, "dist/agent/chunks");
if (existsSync(chunks)) for (const f of readdirSync(chunks, { withFileTypes: true })) if (f.isFile() && !written.has(f.name)) rmSync(join(chunks, f.name), { force: true });
