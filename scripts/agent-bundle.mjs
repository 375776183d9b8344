// esbuild's options for signet-agent (src/agent/signet-agent.ts → <outdir>/signet-agent.mjs, which
// bin/signet-agent.mjs loads), shared by scripts/build-cli.mjs and the test that `run` loads no gRPC
// library (test/unit/agent/run-module-graph.test.ts). Its npm dependencies stay external (resolved
// from node_modules at run time; native modules such as koffi are not bundleable). Code splitting
// keeps what only some commands need (the grpc-js client of `api`, `healthcheck` and `helper`, which
// main.ts imports dynamically) in chunks of their own: in one ESM file esbuild would hoist every
// external import to the top, and `run` would load grpc-js after all.
/** @returns {import("esbuild").BuildOptions} */
export function agentBuildOptions(outdir = "dist/agent") {
  return {
    entryPoints: ["src/agent/signet-agent.ts"],
    outdir,
    entryNames: "[name]",
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    outExtension: { ".js": ".mjs" },
    platform: "node",
    format: "esm",
    target: "node20",
    bundle: true,
    packages: "external",
    sourcemap: true,
    logLevel: "warning",
  };
}
