import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../../../src/cli/args";
import { VERSION } from "../../../src/cli/version";
import { runCli } from "./run-cli";

// Usage errors never reach the network: a fetch that fails the test if called.
const noFetch = (() => {
  throw new Error("no request expected");
}) as unknown as typeof fetch;
const env = { SIGNET_ADMIN_TOKEN: "t0123456789" };
const run = (...argv: string[]) => runCli(argv, { cwd: "/nonexistent", env, fetch: noFetch });

const ID = "spiffe://example.org/w";

describe("help and version", () => {
  it("--help lists the commands on stdout", async () => {
    const r = await run("--help");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    for (const c of ["x509 mint", "jwt mint", "bundle show", "--server", "--version", "SIGNET_ADMIN_TOKEN"]) expect(r.stdout).toContain(c);
  });

  it.each([
    [["x509", "mint", "--help"], "Usage: signet x509 mint"],
    [["jwt", "mint", "-h"], "Usage: signet jwt mint"],
    [["bundle", "show", "--help"], "Usage: signet bundle show"],
    [["--help", "jwt", "mint"], "Usage: signet jwt mint"],
    [["x509", "mint", "--bogus", "--help"], "Usage: signet x509 mint"],
    [["x509", "--help"], "Usage: signet x509 <command>"],
  ])("%j prints the command's usage", async (argv, head) => {
    const r = await run(...argv);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(head)).toBe(true);
  });

  it("--version prints the package version", async () => {
    expect(await run("--version")).toEqual({ code: 0, stdout: "signet 0.1.0\n", stderr: "" });
    const pkg = JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  it("with no arguments prints usage on stderr and exits 2", async () => {
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Usage: signet <command>");
  });
});

describe("usage errors exit 2 with one clear line", () => {
  it.each([
    [["frobnicate"], "signet: unknown command 'frobnicate' (see 'signet --help')\n"],
    [["x509", "renew"], "signet: unknown command 'x509 renew' (see 'signet --help')\n"],
    [["jwt"], "signet: 'jwt' needs a subcommand: 'jwt mint' (see 'signet --help')\n"],
    [["--bogus"], "signet: unknown flag --bogus (see 'signet --help')\n"],
    [["bundle", "show", "--bogus=1"], "signet: unknown flag --bogus (see 'signet bundle show --help')\n"],
    [["x509", "mint", "--write", "d"], "signet: missing required flag --spiffe-id (see 'signet x509 mint --help')\n"],
    [["jwt", "mint", "--audience", "a"], "signet: missing required flag --spiffe-id (see 'signet jwt mint --help')\n"],
    [["jwt", "mint", "--spiffe-id"], "signet: flag --spiffe-id needs a value (see 'signet jwt mint --help')\n"],
    [["jwt", "mint", "--spiffe-id", "--audience", "a"], "signet: flag --spiffe-id needs a value (see 'signet jwt mint --help')\n"],
    [["jwt", "mint", "--spiffe-id", ID, "--spiffe-id", ID], "signet: flag --spiffe-id given more than once (see 'signet jwt mint --help')\n"],
    [["jwt", "mint", "extra"], "signet: unexpected argument 'extra' (see 'signet jwt mint --help')\n"],
    [["bundle", "show", "--help=yes"], "signet: flag --help does not take a value (see 'signet bundle show --help')\n"],
    [["bundle", "show", "--format", "bogus"], "signet: --format must be one of pem, spiffe; got 'bogus' (see 'signet bundle show --help')\n"],
  ])("%j", async (argv, stderr) => {
    const r = await run(...argv);
    expect(r).toEqual({ code: 2, stdout: "", stderr });
  });

  it.each([["90 s"], ["5x"], ["1.5h"], ["-5m"], ["0s"], ["30m1h"]])("bad --ttl %s", async (ttl) => {
    const r = await run("jwt", "mint", "--spiffe-id", ID, "--audience", "a", "--ttl", ttl);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^signet: --ttl '.*' is not a valid duration: .+ \(see 'signet jwt mint --help'\)\n$/);
  });

  it.each([
    ["example.org/w", "must start with the lowercase scheme prefix"],
    ["spiffe://Example.org/w", "must be lowercase"],
    ["spiffe://example.org/a//b", "empty path segment"],
    ["https://example.org/w", "scheme"],
  ])("bad --spiffe-id %s", async (id, why) => {
    const r = await run("x509", "mint", "--spiffe-id", id, "--write", "out");
    expect(r.code).toBe(2);
    expect(r.stderr.startsWith(`signet: --spiffe-id '${id}' is not a valid SPIFFE ID: `)).toBe(true);
    expect(r.stderr).toContain(why);
  });

  it.each([
    ["ftp://example.org", "must be an http:// or https:// URL"],
    ["not a url", "is not a URL"],
    ["https://user:pw@example.org", "must not contain credentials"],
  ])("bad --server %s", async (server, why) => {
    const r = await run("bundle", "show", "--server", server);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(why);
  });
});

describe("parseArgs", () => {
  const specs = { name: { kind: "string" }, tag: { kind: "list" }, help: { kind: "boolean", short: "h" } } as const;

  it("accepts both --flag value and --flag=value, values with '=' and single dashes", () => {
    const r = parseArgs(["--name", "a=b", "--tag=-x", "--tag", "y", "-h"], specs);
    expect(r).toEqual({ ok: true, value: { flags: { name: "a=b", tag: ["-x", "y"], help: true }, rest: [] } });
  });

  it("stops at the first positional when asked", () => {
    expect(parseArgs(["-h", "x509", "mint", "--name", "n"], specs, { stopAtPositional: true })).toEqual({
      ok: true,
      value: { flags: { help: true }, rest: ["x509", "mint", "--name", "n"] },
    });
  });

  it.each([
    [["--name="], "flag --name needs a non-empty value"],
    [["-x"], "unknown flag -x"],
    [["--"], "unknown flag --"],
    [["--constructor", "x"], "unknown flag --constructor"],
    [["--__proto__=x"], "unknown flag --__proto__"],
  ])("%j is an error", (argv, message) => {
    expect(parseArgs(argv, specs)).toEqual({ ok: false, error: message });
  });
});
