import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, contractHandler, createTestCa, FakeSignetServer, json, JWT, type TestCa } from "./fake-server";
import { runCli, scratchDir } from "./run-cli";

const ID = "spiffe://example.org/ns/prod/sa/api";

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

const run = (...args: string[]) =>
  runCli(["jwt", "mint", "--server", server.url, ...args], { cwd: cwd.path, env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN } });

describe("signet jwt mint", () => {
  it("prints the token alone, newline-terminated", async () => {
    const r = await run("--spiffe-id", ID, "--audience", "https://api.example.org", "--audience=vault", "--ttl=5m", "--alg", "RS256");
    expect(r).toEqual({ code: 0, stdout: `${JWT}\n`, stderr: "" });
    const req = server.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/admin/v1/svids/jwt");
    expect(req.headers.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req.body)).toEqual({ spiffe_id: ID, audience: ["https://api.example.org", "vault"], ttl: 300, alg: "RS256" });
  });

  it("leaves ttl and alg to the server when not given", async () => {
    const r = await run("--spiffe-id", ID, "--audience", "vault");
    expect(r.code).toBe(0);
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ spiffe_id: ID, audience: ["vault"] });
  });

  it("requires at least one --audience (exit 2)", async () => {
    const r = await run("--spiffe-id", ID);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("signet: missing required flag --audience (see 'signet jwt mint --help')\n");
    expect(server.requests).toHaveLength(0);
  });

  it("rejects an unknown --alg (exit 2)", async () => {
    const r = await run("--spiffe-id", ID, "--audience", "a", "--alg", "HS256");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--alg must be one of ES256, RS256; got 'HS256'");
  });

  it("treats an answer without a JWT as a bad response (exit 3)", async () => {
    server.handler = () => json(200, { spiffe_id: ID, token: "not a jwt", expires_at: 1 });
    const r = await run("--spiffe-id", ID, "--audience", "a");
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("signet: unexpected answer from admin/v1/svids/jwt: token is missing or not a compact JWT\n");
  });
});
