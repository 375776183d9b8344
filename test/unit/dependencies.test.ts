/**
 * package.json `dependencies` is exactly what src/ imports: a package only tests use belongs in
 * devDependencies, and a package src/ needs must not come in through a devDependency by luck.
 * Import specifiers are read with TypeScript's own pre-processor (static, side-effect, re-export and
 * dynamic imports); relative paths and the `node:` and `cloudflare:` built-ins are not packages.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
const dependencies = pkg.dependencies ?? {};

/** The package a bare specifier names: `@scope/name` or `name`, without a subpath. */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

function isPackage(specifier: string): boolean {
  return !(specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:") || specifier.startsWith("cloudflare:"));
}

/** Package → the src/ files that import it. */
function importedBySrc(): Map<string, string[]> {
  const files = (readdirSync("src", { recursive: true }) as string[]).filter((f) => /\.(ts|mts|tsx)$/.test(f)).map((f) => join("src", f));
  const out = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName } of importedFiles) {
      if (!isPackage(fileName)) continue;
      const name = packageOf(fileName);
      out.set(name, [...(out.get(name) ?? []), file]);
    }
  }
  return out;
}

describe("package.json dependencies", () => {
  const imported = importedBySrc();

  it("the scan sees src/'s imports (drizzle-orm in src/durable, hono in src/workers, zod)", () => {
    expect(imported.get("drizzle-orm")?.some((f) => f.startsWith(join("src", "durable")))).toBe(true);
    expect(imported.get("hono")?.some((f) => f.startsWith(join("src", "workers")))).toBe(true);
    expect(imported.has("zod")).toBe(true);
  });

  it("lists every package src/ imports", () => {
    const missing = [...imported].filter(([name]) => !(name in dependencies)).map(([name, files]) => `${name} (${files.join(", ")})`);
    expect(missing).toEqual([]);
  });

  it("lists only packages src/ imports (test-only ones are devDependencies)", () => {
    expect(Object.keys(dependencies).filter((name) => !imported.has(name))).toEqual([]);
  });

  it("pins exact versions, and no package is in both lists", () => {
    const all = { ...dependencies, ...pkg.devDependencies };
    expect(Object.entries(all).filter(([, v]) => !/^\d+\.\d+\.\d+$/.test(v))).toEqual([]);
    expect(Object.keys(dependencies).filter((name) => name in (pkg.devDependencies ?? {}))).toEqual([]);
  });
});
