import { execFileSync } from "node:child_process";
import { symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseDotenv, resolveServer } from "../../../src/cli/config";
import { ADMIN_TOKEN, contractHandler, createTestCa, FakeSignetServer, JWT } from "./fake-server";
import { runCli, scratchDir } from "./run-cli";

const ID = "spiffe://example.org/w";

let server: FakeSignetServer;
let cwd: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  server = await FakeSignetServer.start(contractHandler(await createTestCa()));
});
afterAll(() => server.close());
beforeEach(async () => {
  server.requests.length = 0;
  cwd = await scratchDir();
});
afterEach(() => cwd.remove());

const jwtMint = (env: Record<string, string | undefined>) =>
  runCli(["jwt", "mint", "--spiffe-id", ID, "--audience", "a"], { cwd: cwd.path, env: { SIGNET_SERVER: server.url, ...env } });

describe("admin token", () => {
  it("comes from SIGNET_ADMIN_TOKEN", async () => {
    const r = await jwtMint({ SIGNET_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(r).toEqual({ code: 0, stdout: `${JWT}\n`, stderr: "" });
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
  });

  it("comes from .dev.vars in the working directory when the env has none", async () => {
    await writeFile(
      join(cwd.path, ".dev.vars"),
      `# written by npm run dev\nSIGNET_KEK=abc\nSIGNET_ADMIN_TOKEN="${ADMIN_TOKEN}"\n`,
    );
    const r = await jwtMint({ SIGNET_ADMIN_TOKEN: "" });
    expect(r).toEqual({ code: 0, stdout: `${JWT}\n`, stderr: "" });
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
  });

  it("prefers the environment over .dev.vars", async () => {
    await writeFile(join(cwd.path, ".dev.vars"), "SIGNET_ADMIN_TOKEN=from-file-0123456789\n");
    const r = await jwtMint({ SIGNET_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(r.code).toBe(0);
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
  });

  it("missing everywhere is a usage error (exit 2), and nothing is sent", async () => {
    const r = await jwtMint({});
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("signet: no admin token: set SIGNET_ADMIN_TOKEN or run in a directory whose .dev.vars defines it\n");
    expect(server.requests).toHaveLength(0);
  });

  it("empty in .dev.vars is a usage error (exit 2)", async () => {
    await writeFile(join(cwd.path, ".dev.vars"), "SIGNET_ADMIN_TOKEN=\nSIGNET_KEK=\n");
    const r = await jwtMint({});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^signet: no admin token: SIGNET_ADMIN_TOKEN is not set in the environment or in .*\.dev\.vars\n$/);
  });

  it.runIf(process.platform !== "win32").each([
    ["a FIFO", (path: string) => execFileSync("mkfifo", [path]), "a FIFO"],
    ["/dev/zero", (path: string) => symlink("/dev/zero", path), "a character device"],
  ])(".dev.vars that is %s is a usage error (exit 2) at once, and nothing is sent", async (_name, make, kind) => {
    await make(join(cwd.path, ".dev.vars"));
    const r = await jwtMint({});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^signet: no admin token in SIGNET_ADMIN_TOKEN, and .*\\.dev\\.vars cannot be read \\(not a regular file: ${kind}\\)\n$`));
    expect(server.requests).toHaveLength(0);
  }, 3000);

  it(".dev.vars over 64 KiB is a usage error (exit 2)", async () => {
    await writeFile(join(cwd.path, ".dev.vars"), `SIGNET_ADMIN_TOKEN=${ADMIN_TOKEN}\n${"#".repeat(64 * 1024)}\n`);
    const r = await jwtMint({});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\.dev\.vars cannot be read \(larger than 65536 bytes\)\n$/);
    expect(server.requests).toHaveLength(0);
  });

  it("with spaces or control characters is refused without echoing it", async () => {
    const r = await jwtMint({ SIGNET_ADMIN_TOKEN: "secret value\n" });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("signet: the admin token from SIGNET_ADMIN_TOKEN contains spaces or non-printable characters\n");
    expect(r.stderr).not.toContain("secret");
  });

  it("is never printed, even when the server echoes it back", async () => {
    server.handler = (req) => ({
      status: 401,
      contentType: "application/problem+json",
      body: JSON.stringify({ title: "Unauthorized", detail: `bad token`, code: "unauthorized", echo: req.headers.authorization }),
    });
    const r = await jwtMint({ SIGNET_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain(ADMIN_TOKEN);
    server.handler = contractHandler(await createTestCa());
  });

  it("warns when it would travel over cleartext http to a remote host", async () => {
    const fakeFetch = (async () => new Response(JSON.stringify({ token: JWT }), { status: 200 })) as typeof fetch;
    const r = await runCli(["jwt", "mint", "--spiffe-id", ID, "--audience", "a", "--server", "http://signet.example.org"], {
      cwd: cwd.path,
      env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN },
      fetch: fakeFetch,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("signet: warning: sending the admin token unencrypted to signet.example.org (http://)\n");
  });
});

describe("server URL", () => {
  it("defaults to the local wrangler dev address", () => {
    const r = resolveServer(undefined, {});
    expect(r.ok && r.value.href).toBe("http://127.0.0.1:8787/");
  });

  it("takes SIGNET_SERVER, and --server over it", () => {
    const fromEnv = resolveServer(undefined, { SIGNET_SERVER: "https://signet.example.org/base" });
    expect(fromEnv.ok && fromEnv.value.href).toBe("https://signet.example.org/base/");
    const fromFlag = resolveServer("https://other.example.org", { SIGNET_SERVER: "https://signet.example.org" });
    expect(fromFlag.ok && fromFlag.value.href).toBe("https://other.example.org/");
  });

  it("given after the command wins over one given before it", async () => {
    const r = await runCli(["--server", "http://127.0.0.1:9", "bundle", "show", "--server", server.url], { cwd: cwd.path });
    expect(r.code).toBe(0);
  });
});

describe("parseDotenv", () => {
  it("reads KEY=VALUE lines with comments, export and quotes", () => {
    const vars = parseDotenv(
      [
        "# comment",
        "",
        "A=plain",
        "B = spaced # trailing comment",
        "export C=exported",
        "D='single # not a comment'",
        'E="double \\"quoted\\" \\n"',
        "F=",
        "not an assignment",
        "A=later wins",
        "G=with#hash\r",
      ].join("\n"),
    );
    expect(Object.fromEntries(vars)).toEqual({
      A: "later wins",
      B: "spaced",
      C: "exported",
      D: "single # not a comment",
      E: 'double "quoted" \n',
      F: "",
      G: "with#hash",
    });
  });
});
