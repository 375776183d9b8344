// Bundles the `signet` CLI (src/cli/signet.ts) into dist/cli/signet.mjs, which bin/signet.mjs loads.
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
