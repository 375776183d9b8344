import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { b64, bundleDocument, contractHandler, createTestCa, FakeSignetServer, json, type TestCa } from "./fake-server";
import { runCli, scratchDir } from "./run-cli";

let ca: TestCa;
let server: FakeSignetServer;
let cwd: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  ca = await createTestCa();
  server = await FakeSignetServer.start(contractHandler(ca));
});
afterAll(() => server.close());
beforeEach(async () => {
  server.requests.length = 0;
  server.handler = contractHandler(ca);
  cwd = await scratchDir();
});
afterEach(() => cwd.remove());

// No token anywhere: /bundle is public.
const run = (...args: string[]) => runCli(["bundle", "show", ...args], { cwd: cwd.path, env: { SIGNET_SERVER: server.url } });

function pem(der: ArrayBuffer): string {
  const lines = b64(der).match(/.{1,64}/g)!;
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

describe("signet bundle show", () => {
  it("prints the X.509 authorities as PEM by default, without a token", async () => {
    const r = await run();
    expect(r).toEqual({ code: 0, stdout: pem(ca.root.rawData), stderr: "" });
    expect(server.requests[0]!.method).toBe("GET");
    expect(server.requests[0]!.path).toBe("/bundle");
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
    expect((await run("--format", "pem")).stdout).toBe(pem(ca.root.rawData));
  });

  it("prints the SPIFFE bundle document pretty-printed with --format spiffe", async () => {
    const r = await run("--format=spiffe");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify(bundleDocument(ca), null, 2)}\n`);
  });

  it("rejects --format bogus (exit 2)", async () => {
    const r = await run("--format", "bogus");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("signet: --format must be one of pem, spiffe; got 'bogus' (see 'signet bundle show --help')\n");
    expect(server.requests).toHaveLength(0);
  });

  it("says so on stderr when the bundle has no X.509 authorities", async () => {
    server.handler = () => json(200, { keys: [{ kty: "EC", use: "jwt-svid", kid: "k1" }], spiffe_sequence: 1 });
    const r = await run();
    expect(r).toEqual({ code: 0, stdout: "", stderr: "signet: the bundle has no X.509 authorities\n" });
  });

  it("treats a document without keys as a bad response (exit 3)", async () => {
    server.handler = () => json(200, { hello: "world" });
    const r = await run();
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("not a SPIFFE bundle");
  });

  it("honours a path prefix in the server URL", async () => {
    server.handler = (req) => (req.path === "/signet/bundle" ? json(200, bundleDocument(ca)) : json(404, {}));
    const r = await runCli(["--server", `${server.url}/signet`, "bundle", "show"], { cwd: cwd.path });
    expect(r.code).toBe(0);
    expect(server.requests[0]!.path).toBe("/signet/bundle");
  });
});
