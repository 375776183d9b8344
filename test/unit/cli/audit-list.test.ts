import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, closedPortUrl, FakeSignetServer, json, problem, type Handler } from "./fake-server";
import { runCli, scratchDir } from "./run-cli";

const T0 = Date.parse("2026-05-01T00:00:00Z");
const record = (i: number) => ({ id: `01J${String(i).padStart(23, "0")}`, at: T0 - i, kind: "attestation", outcome: "accepted", tee: "snp", session_id: `s-${i}` });

/** The audit contract: `total` records in pages of `limit`, the cursor being the next offset. */
function auditHandler(total: number): Handler {
  return (req) => {
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) return problem(401, "unauthorized", "Missing or invalid credentials", "An admin bearer token is required.");
    const url = new URL(req.path, "http://fake");
    if (req.method !== "GET" || url.pathname !== "/admin/v1/audit") return problem(404, "not_found", "Not found", req.path);
    const limit = Number(url.searchParams.get("limit") ?? 100);
    const from = Number(url.searchParams.get("cursor") ?? 0);
    const records = Array.from({ length: Math.max(0, Math.min(limit, total - from)) }, (_, i) => record(from + i));
    return json(200, { records, next_cursor: from + limit < total ? String(from + limit) : null });
  };
}

let server: FakeSignetServer;
let cwd: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  server = await FakeSignetServer.start(auditHandler(0));
});
afterAll(() => server.close());
beforeEach(async () => {
  server.requests.length = 0;
  server.handler = auditHandler(3);
  cwd = await scratchDir();
});
afterEach(() => cwd.remove());

const run = (...args: string[]) => runCli(["audit", "list", "--server", server.url, ...args], { cwd: cwd.path, env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN } });
const lines = (stdout: string) => stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as unknown);
const query = (i: number) => Object.fromEntries(new URL(server.requests[i]!.path, "http://fake").searchParams);

describe("signet audit list", () => {
  it("prints one JSON object per record per line, newest first, as the server sent them", async () => {
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout.endsWith("\n")).toBe(true);
    expect(lines(r.stdout)).toEqual([record(0), record(1), record(2)]);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.method).toBe("GET");
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
    expect(query(0)).toEqual({ limit: "100" });
  });

  it("sends every filter, times as ms", async () => {
    const r = await run("--kind", "release", "--outcome=refused", "--tee", "tdx", "--session", "s 1", "--path", "repo/key/a", "--since", "2026-05-01T00:00:00Z", "--until", "2026-05-02T02:00:00+02:00", "--limit", "7");
    expect(r.code).toBe(0);
    expect(query(0)).toEqual({ kind: "release", outcome: "refused", tee: "tdx", session: "s 1", path: "repo/key/a", since: String(T0), until: String(T0 + 86_400_000), limit: "7" });
  });

  it("without --all prints one page and stops, even when more follow", async () => {
    server.handler = auditHandler(250);
    const r = await run("--limit", "100");
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toHaveLength(100);
    expect(server.requests).toHaveLength(1);
  });

  it("--all follows the cursor to the end (pages of 1000 unless --limit)", async () => {
    server.handler = auditHandler(250);
    const r = await run("--all", "--limit", "100");
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual(Array.from({ length: 250 }, (_, i) => record(i)));
    expect(server.requests.map((_, i) => query(i))).toEqual([{ limit: "100" }, { limit: "100", cursor: "100" }, { limit: "100", cursor: "200" }]);

    server.requests.length = 0;
    expect((await run("--all")).code).toBe(0);
    expect(query(0)).toEqual({ limit: "1000" });
  });

  it("--all refuses a cursor that does not advance (exit 3), after printing what it got", async () => {
    server.handler = () => json(200, { records: [record(0)], next_cursor: "same" });
    const r = await run("--all");
    expect(r.code).toBe(3);
    expect(lines(r.stdout)).toEqual([record(0), record(0)]);
    expect(r.stderr).toBe("signet: unexpected answer from admin/v1/audit: the cursor does not advance\n");
    expect(server.requests).toHaveLength(2);
  });

  it("escapes control and line-separator characters so a record cannot drive the terminal", async () => {
    server.handler = () => json(200, { records: [{ id: "x", client: "a\u009b31mb\u2028c\u001b" }], next_cursor: null });
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"id":"x","client":"a\\u009b31mb\\u2028c\\u001b"}\n');
    expect(lines(r.stdout)).toEqual([{ id: "x", client: "a\u009b31mb\u2028c\u001b" }]);
  });

  it.each([
    [["--kind", "login"], "--kind must be one of attestation, release; got 'login'"],
    [["--outcome", "maybe"], "--outcome must be one of accepted, denied, released, refused; got 'maybe'"],
    [["--since", "yesterday"], "--since must be an ISO 8601 date-time such as 2025-01-16T21:21:54Z, not 'yesterday'"],
    [["--until", "2026-02-30T00:00:00Z"], "--until must be an ISO 8601 date-time"],
    [["--since", "1777593600000"], "--since must be an ISO 8601 date-time"],
    [["--since", "2026-05-02T00:00:00Z", "--until", "2026-05-01T00:00:00Z"], "--since must be before --until"],
    [["--limit", "0"], "--limit must be a whole number from 1 to 1000, not '0'"],
    [["--limit", "1001"], "--limit must be a whole number from 1 to 1000"],
    [["--limit", "1e3"], "--limit must be a whole number from 1 to 1000"],
    [["--all=yes"], "flag --all does not take a value"],
  ])("%j is a usage error (exit 2, no request)", async (args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`signet: ${message}`);
    expect(r.stderr).toContain("(see 'signet audit list --help')");
    expect(server.requests).toHaveLength(0);
  });

  it("needs an admin token (exit 2)", async () => {
    const r = await runCli(["audit", "list", "--server", server.url], { cwd: cwd.path, env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no admin token");
    expect(server.requests).toHaveLength(0);
  });

  it("a refusal by the server is exit 1 with its problem detail", async () => {
    server.handler = () => problem(400, "invalid_request", "Invalid request", "cursor: cursor is not one this log handed out");
    const r = await run();
    expect(r).toEqual({ code: 1, stdout: "", stderr: "signet: Invalid request: cursor: cursor is not one this log handed out (code invalid_request, HTTP 400)\n" });
    const denied = await runCli(["audit", "list", "--server", server.url], { cwd: cwd.path, env: { SIGNET_ADMIN_TOKEN: "wrong" } });
    expect(denied.code).toBe(1);
  });

  it.each([
    ["not an object", []],
    ["no records list", { items: [] }],
    ["a record that is not an object", { records: ["x"], next_cursor: null }],
    ["a cursor that is not a string", { records: [], next_cursor: 5 }],
  ])("an answer with %s is exit 3", async (_name, body) => {
    server.handler = () => json(200, body);
    const r = await run();
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^signet: unexpected answer from admin\/v1\/audit: /);
  });

  it("an unreachable server is exit 3", async () => {
    const r = await runCli(["audit", "list", "--server", await closedPortUrl()], { cwd: cwd.path, env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^signet: cannot reach http:\/\/127\.0\.0\.1:\d+/);
  });

  it("--help says the output is JSON Lines, and the command is listed", async () => {
    const help = await run("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: signet audit list/);
    expect(help.stdout).toContain("JSON Lines");
    expect((await runCli(["--help"], { cwd: cwd.path })).stdout).toContain("audit list");
  });
});
