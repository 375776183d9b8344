/**
 * `signet kbs get-resource` in-process against the fake key broker (test/unit/kbs-guest/fake-kbs.ts)
 * over real HTTP: the plaintext bytes on stdout or in a 0600 file, the resource URI forms, the exit
 * codes (1 refused with Trustee's type and detail, 2 usage, 3 unreachable, unusable or no evidence).
 */
import { stat, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeKbs, kbsError } from "../kbs-guest/fake-kbs";
import { closedPortUrl, FakeSignetServer } from "./fake-server";
import { runCli, runCliRaw, scratchDir } from "./run-cli";

const SECRET = new Uint8Array([0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0, 0xff, 0x0a]);

let kbs: FakeKbs;
let server: FakeSignetServer;
let cwd: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  server = await FakeSignetServer.start(() => ({ status: 500, body: "" }));
});
afterAll(() => server.close());
beforeEach(async () => {
  kbs = new FakeKbs();
  kbs.resources.set("default/key/1", SECRET);
  server.handler = kbs.httpHandler;
  server.requests.length = 0;
  cwd = await scratchDir();
});
afterEach(() => cwd.remove());

// No admin token anywhere: a guest has none.
const options = () => ({ cwd: cwd.path, env: { SIGNET_SERVER: server.url } });
const get = (...args: string[]) => runCli(["kbs", "get-resource", ...args], options());
const getRaw = (...args: string[]) => runCliRaw(["kbs", "get-resource", ...args], options());

// Usage errors never reach the network.
const noFetch = (() => {
  throw new Error("no request expected");
}) as unknown as typeof fetch;
const usage = (...args: string[]) => runCli(["kbs", "get-resource", ...args], { cwd: cwd.path, env: {}, fetch: noFetch });

describe("signet kbs get-resource", () => {
  it.each(["kbs:///default/key/1", "kbs://kbs.example:8080/default/key/1", "kbs+resource:///default/key/1", "default/key/1"])("%s --tee sample prints the plaintext bytes as they are", async (uri) => {
    const r = await getRaw(uri, "--tee", "sample");
    expect(r).toEqual({ code: 0, stdout: SECRET, stderr: "" });
    expect(server.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["POST /kbs/v0/auth", "POST /kbs/v0/attest", "GET /kbs/v0/resource/default/key/1"]);
    expect(server.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    server.requests.length = 0;
  });

  it("takes flags before or after the URI, and --server over SIGNET_SERVER", async () => {
    const r = await runCliRaw(["kbs", "get-resource", "--tee=sample", "--server", server.url, "kbs:///default/key/1"], { cwd: cwd.path, env: { SIGNET_SERVER: "http://127.0.0.1:1" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toEqual(SECRET);
  });

  it.each([
    ["ECDH-ES+A256KW-P521", "P-521"],
    ["RSA-OAEP-256", undefined],
  ])("--key-algorithm %s", async (alg, crv) => {
    expect((await getRaw("kbs:///default/key/1", "--tee", "sample", "--key-algorithm", alg)).stdout).toEqual(SECRET);
    const key = kbs.attestations[0]!.runtimeData.teePubKey;
    expect(key.kty === "EC" ? key.crv : undefined).toBe(crv);
  });

  it("--output writes the plaintext to a 0600 file and nothing to stdout", async () => {
    const r = await get("kbs:///default/key/1", "--tee", "sample", "--output", "out/secret.bin");
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    const path = join(cwd.path, "out", "secret.bin");
    expect(new Uint8Array(await readFile(path))).toEqual(SECRET);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("a missing resource: exit 1 after 3 handshakes, with the key broker's error type and detail", async () => {
    expect(await get("kbs:///default/key/2", "--tee", "sample")).toEqual({
      code: 1,
      stdout: "",
      stderr: "signet: the key broker refused the resource: PluginInternalError: Plugin internal error: resource not found (HTTP 401, after 3 attempts)\n",
    });
    expect(server.requests.filter((q) => q.path === "/kbs/v0/auth")).toHaveLength(3);
  });

  it("a refused handshake: exit 1 naming the call", async () => {
    kbs.script = (req) => (req.path === "/kbs/v0/attest" ? kbsError(401, "AttestationError", "Attestation error: RCAR handshake Attest failed") : undefined);
    expect((await get("kbs:///default/key/1", "--tee", "sample")).stderr).toBe(
      "signet: the key broker refused the attestation (/kbs/v0/attest): AttestationError: Attestation error: RCAR handshake Attest failed (HTTP 401)\n",
    );
  });

  it("control characters in the key broker's detail do not reach the terminal", async () => {
    kbs.script = () => kbsError(401, "PolicyDeny\u001b[31m", "line one\nline two");
    expect((await get("default/key/1", "--tee", "sample")).stderr).toBe("signet: the key broker refused the handshake (/kbs/v0/auth): https://github.com/confidential-containers/kbs/errors/PolicyDeny [31m: line one line two (HTTP 401)\n",);
  });

  it("an unreachable key broker exits 3", async () => {
    const r = await get("kbs:///default/key/1", "--tee", "sample", "--server", await closedPortUrl());
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^signet: cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it("an answer the guest cannot use exits 3", async () => {
    kbs.script = () => ({ status: 200, body: "<html>captive portal</html>" });
    expect(await get("kbs:///default/key/1", "--tee", "sample")).toEqual({ code: 3, stdout: "", stderr: "signet: the answer to POST /kbs/v0/auth is not JSON\n" });
  });

  it("--tee snp without configfs-tsm exits 3 with what is missing (after /auth, where the evidence is asked for)", async () => {
    const r = await get("kbs:///default/key/1", "--tee", "snp", "--tsm-dir", "no-such/report");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`signet: no configfs-tsm report directory ${join(cwd.path, "no-such/report")}: this is not an SNP or TDX guest`);
    expect(server.requests.map((q) => q.path)).toEqual(["/kbs/v0/auth"]);
  });

  it("without --tee, and no configfs-tsm, points to --tee sample (exit 3, no request)", async () => {
    const r = await get("kbs:///default/key/1", "--tsm-dir", "no-such/report");
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^signet: no TEE found: no configfs-tsm report directory .*; pass --tee sample for development evidence \(accepted only by a permissive key broker\)\n$/);
    expect(server.requests).toHaveLength(0);
  });
});

describe("usage errors exit 2 without a request", () => {
  it.each([
    [[], "signet: missing argument URI (see 'signet kbs get-resource --help')\n"],
    [["a/b/c", "d/e/f"], "signet: unexpected argument 'd/e/f' (see 'signet kbs get-resource --help')\n"],
    [["kbs:///a/b"], "signet: 'kbs:///a/b' is not a resource URI: the resource plugin takes exactly three segments, each of [A-Za-z0-9_-][A-Za-z0-9_.-]* (at most 128 characters) (see 'signet kbs get-resource --help')\n"],
    [["kbs+policy:///a/b/c"], "signet: 'kbs+policy:///a/b/c' is not a resource URI: plugin 'policy' is not the resource plugin (see 'signet kbs get-resource --help')\n"],
    [["a/b/c", "--tee", "sgx"], "signet: --tee must be one of sample, snp, tdx; got 'sgx' (see 'signet kbs get-resource --help')\n"],
    [["a/b/c", "--key-algorithm", "RSA1_5"], "signet: --key-algorithm must be one of ECDH-ES+A256KW-P256, ECDH-ES+A256KW-P521, RSA-OAEP-256; got 'RSA1_5' (see 'signet kbs get-resource --help')\n"],
    [["a/b/c", "--tee", "sample", "--tsm-dir", "/x"], "signet: --tsm-dir applies to --tee snp or tdx, not sample (see 'signet kbs get-resource --help')\n"],
    [["a/b/c", "--bogus"], "signet: unknown flag --bogus (see 'signet kbs get-resource --help')\n"],
  ])("%j", async (args, stderr) => {
    expect(await usage(...args)).toEqual({ code: 2, stdout: "", stderr });
  });

  it("--help prints the usage, and the command is listed", async () => {
    const help = await usage("--help");
    expect(help.code).toBe(0);
    expect(help.stdout.startsWith("Usage: signet kbs get-resource <kbs:///repo/type/tag | repo/type/tag>")).toBe(true);
    for (const s of ["--tee", "--key-algorithm", "--tsm-dir", "--output", "--server", "Exit codes"]) expect(help.stdout).toContain(s);
    const top = await runCli(["--help"], { cwd: cwd.path, env: {}, fetch: noFetch });
    expect(top.stdout).toMatch(/kbs get-resource +fetch a secret from the key broker as a guest/);
    const group = await runCli(["kbs", "--help"], { cwd: cwd.path, env: {}, fetch: noFetch });
    expect(group.stdout).toContain("  kbs get-resource ");
  });
});
