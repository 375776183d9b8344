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

// signet-agent (src/agent/signet-agent.ts) into dist/agent/signet-agent.mjs, which bin/signet-agent.mjs
// loads. Its npm dependencies stay external (resolved from node_modules at run time): the Workload
// API's gRPC and proto files, and any native module, are not bundleable.
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["src/agent/signet-agent.ts"],
  outfile: "dist/agent/signet-agent.mjs",
  platform: "node",
  format: "esm",
  target: "node20",
  bundle: true,
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
