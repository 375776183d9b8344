/**
 * `signet-agent run` loads no gRPC library (its Workload API server is our own gRPC on node:http2;
 * grpc-js would cost the agent ~12 MB RSS). Two checks, each failing if a static import of a module
 * that reaches @grpc/* comes back: the source graph from src/agent/signet-agent.ts without the edges
 * of dynamic import(), and the real bundle (scripts/agent-bundle.mjs's options, as build-cli.mjs
 * builds it) run as `run --help` in a process of its own, whose module cache must hold no @grpc/*
 * file, while `api --help` in the same bundle does load grpc-js (so the check can see it at all).
 */
import { build, type BuildOptions, type Metafile } from "esbuild";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");
const ENTRY = "src/agent/signet-agent.ts";
const outdir = join("dist", `test-run-graph-${process.pid}`);
afterAll(() => rmSync(join(root, outdir), { recursive: true, force: true }));

/** The packages reachable from the entry, following dynamic imports too or not. */
function externalsReached(metafile: Metafile, withDynamic: boolean): Set<string> {
  const seen = new Set<string>();
  const externals = new Set<string>();
  const stack = [ENTRY];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of metafile.inputs[file]?.imports ?? []) {
      if (!withDynamic && i.kind === "dynamic-import") continue;
      if (i.external) externals.add(i.path);
      else stack.push(i.path);
    }
  }
  return externals;
}

describe("signet-agent run's module graph", () => {
  it("the static import graph from signet-agent.ts reaches no @grpc/* package (the client commands reach grpc-js only through import())", async () => {
    const r = await build({ absWorkingDir: root, entryPoints: [ENTRY], bundle: true, write: false, metafile: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "silent" });
    const staticOnly = [...externalsReached(r.metafile, false)];
    expect(staticOnly.filter((p) => p.startsWith("@grpc/"))).toEqual([]);
    expect(staticOnly).toContain("koffi");
    expect([...externalsReached(r.metafile, true)]).toContain("@grpc/grpc-js");
  });

  it("the built bundle run as `run --help` loads no @grpc/* file; `api --help` loads grpc-js", async () => {
    const { agentBuildOptions } = (await import(pathToFileURL(join(root, "scripts", "agent-bundle.mjs")).href)) as { agentBuildOptions: (outdir: string) => BuildOptions };
    await build({ absWorkingDir: root, ...agentBuildOptions(outdir), sourcemap: false, logLevel: "silent" });
    const bundle = join(root, outdir, "signet-agent.mjs");
    const loaded = (args: string[]): string[] => {
      const script = `
        import { createRequire } from "node:module";
        process.argv = [process.argv[0], "signet-agent", ...${JSON.stringify(args)}];
        await import(${JSON.stringify(pathToFileURL(bundle).href)});
        const files = Object.keys(createRequire(${JSON.stringify(bundle)}).cache).filter((f) => f.includes("/@grpc/"));
        process.stdout.write("\\nLOADED " + JSON.stringify(files) + "\\n");
        process.exit(0);`;
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 30_000 });
      const line = out.split("\n").find((l) => l.startsWith("LOADED "));
      if (line === undefined) throw new Error(`no LOADED line in: ${out}`);
      return JSON.parse(line.slice("LOADED ".length)) as string[];
    };
    expect(loaded(["run", "--help"])).toEqual([]);
    expect(loaded(["api", "--help"]).some((f) => f.includes("/@grpc/grpc-js/"))).toBe(true);
  });
});
