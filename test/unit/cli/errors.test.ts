import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, closedPortUrl, contractHandler, createTestCa, FakeSignetServer, problem, type TestCa } from "./fake-server";
import { runCli, scratchDir } from "./run-cli";

const ID = "spiffe://example.org/w";

let ca: TestCa;
let server: FakeSignetServer;
let cwd: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  ca = await createTestCa();
  server = await FakeSignetServer.start(contractHandler(ca));
});
afterAll(() => server.close());
beforeEach(async () => {
  server.handler = contractHandler(ca);
  cwd = await scratchDir();
});
afterEach(() => cwd.remove());

const jwtMint = (url = server.url) =>
  runCli(["jwt", "mint", "--spiffe-id", ID, "--audience", "a", "--server", url], { cwd: cwd.path, env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN } });

describe("server errors", () => {
  it("a problem+json 4xx exits 1 showing title, detail and code", async () => {
    server.handler = () => problem(400, "invalid_request", "Invalid request", "audience must not be empty");
    expect(await jwtMint()).toEqual({
      code: 1,
      stdout: "",
      stderr: "signet: Invalid request: audience must not be empty (code invalid_request, HTTP 400)\n",
    });
  });

  it("a wrong token (401) exits 1", async () => {
    const r = await runCli(["jwt", "mint", "--spiffe-id", ID, "--audience", "a", "--server", server.url], {
      cwd: cwd.path,
      env: { SIGNET_ADMIN_TOKEN: "wrong-token-0123456789" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("signet: Unauthorized: a valid admin bearer token is required (code unauthorized, HTTP 401)\n");
  });

  it("a 5xx without problem details exits 1 with the status", async () => {
    server.handler = () => ({ status: 502, contentType: "text/html", body: "<html>bad gateway</html>" });
    expect(await jwtMint()).toEqual({ code: 1, stdout: "", stderr: "signet: the server answered HTTP 502 Bad Gateway\n" });
  });

  it("control characters in problem details do not reach the terminal", async () => {
    server.handler = () => problem(409, "conflict", "Conflict\u001b[31m", "line one\nline two");
    const r = await jwtMint();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("signet: Conflict [31m: line one line two (code conflict, HTTP 409)\n");
  });

  it("a redirect is not followed (the token stays with the configured origin)", async () => {
    server.handler = () => ({ status: 307, body: "" });
    const r = await jwtMint();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^signet: the server redirected \(HTTP 307/);
  });
});

describe("network and response failures exit 3", () => {
  it("server unreachable", async () => {
    const url = await closedPortUrl();
    const r = await jwtMint(url);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`^signet: cannot reach ${url}: .*ECONNREFUSED.*\\n$`));
  });

  it("unreachable for bundle show too", async () => {
    const r = await runCli(["bundle", "show", "--server", await closedPortUrl()], { cwd: cwd.path });
    expect(r.code).toBe(3);
  });

  it("a 200 that is not JSON", async () => {
    server.handler = () => ({ status: 200, contentType: "text/html", body: "<html>captive portal</html>" });
    const r = await jwtMint();
    expect(r).toEqual({ code: 3, stdout: "", stderr: "signet: the server's answer to POST /admin/v1/svids/jwt is not JSON (text/html)\n" });
  });

  it("a non-JSON bundle", async () => {
    server.handler = () => ({ status: 200, body: "nope" });
    const r = await runCli(["bundle", "show", "--server", server.url], { cwd: cwd.path });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("is not JSON");
  });

  it("a fetch that throws something unexpected is still a network failure, with the token redacted", async () => {
    const leaky = (async () => {
      throw new TypeError(`bad header Bearer ${ADMIN_TOKEN}`);
    }) as typeof fetch;
    const r = await runCli(["jwt", "mint", "--spiffe-id", ID, "--audience", "a"], {
      cwd: cwd.path,
      env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN },
      fetch: leaky,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("signet: cannot reach http://127.0.0.1:8787: bad header Bearer [redacted]\n");
  });
});
