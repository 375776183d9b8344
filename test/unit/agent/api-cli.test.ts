/**
 * `signet-agent api …` and `healthcheck` against a real Workload API server in this process (the
 * server attests this very process: unix:uid:<our uid>), through main()'s dispatch: output, the
 * --write directory (modes, PEM that openssl and @peculiar/x509 read, the key matching the SVID),
 * JSON against the independent protobufjs client, every error path and its exit code, and once the
 * built binary (node bin/signet-agent.mjs) as a child process.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeStruct } from "../../../src/agent/api-messages";
import { normalizeFlags, parseTimeout } from "../../../src/agent/api-common";
import { main } from "../../../src/agent/main";
import { encodeStruct } from "../../../src/agent/workload/messages";
import { startWorkloadApi, type WorkloadApiServer } from "../../../src/agent/workload";
import { issueIdentity, MemoryAgentState, mintJwt, trustDomainMaterial, type TrustDomainMaterial } from "../../support/agent-state";
import { firstMessage, workloadClient } from "../../support/workload-client";
import { x509 } from "../../support/x509";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "signet-api-cli-"));
const uid = process.getuid!();
const ME = "spiffe://example.org/me";

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function cli(argv: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  let out = "";
  let err = "";
  const code = await main({ argv, env, cwd: dir, stdout: (s) => void (out += s), stderr: (s) => void (err += s), signal: new AbortController().signal });
  return { code, out, err };
}

let own: TrustDomainMaterial;
let peer: TrustDomainMaterial;
let state: MemoryAgentState;
let server: WorkloadApiServer;
let deniedServer: WorkloadApiServer;
let notReady: MemoryAgentState;
let notReadyServer: WorkloadApiServer;
let silent: Server;
const held: Socket[] = [];
const sock = join(dir, "agent.sock");
const deniedSock = join(dir, "denied.sock");
const notReadySock = join(dir, "not-ready.sock");
const silentSock = join(dir, "silent.sock");

beforeAll(async () => {
  own = await trustDomainMaterial("example.org");
  peer = await trustDomainMaterial("peer.org");
  state = new MemoryAgentState(own);
  state.setBundle(peer.bundle);
  state.setIdentities([await issueIdentity(own, { spiffeId: ME, selectors: [`unix:uid:${uid}`], hint: "web", federatesWith: ["peer.org"] })]);
  server = await startWorkloadApi({ socket: sock, state });
  // An agent with entries for another uid only: this process gets PermissionDenied.
  const other = new MemoryAgentState(own);
  other.setIdentities([await issueIdentity(own, { spiffeId: "spiffe://example.org/other", selectors: [`unix:uid:${uid + 12345}`] })]);
  deniedServer = await startWorkloadApi({ socket: deniedSock, state: other });
  notReady = new MemoryAgentState(own);
  notReady.setReady(false);
  notReadyServer = await startWorkloadApi({ socket: notReadySock, state: notReady });
  // Accepts connections and never says a word: no gRPC answer ever comes.
  silent = createServer((s) => void held.push(s));
  await new Promise<void>((r) => silent.listen(silentSock, r));
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => silent.close(r));
  await Promise.all([server.close(), deniedServer.close(), notReadyServer.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("api fetch x509", () => {
  it("prints each SVID's SPIFFE ID, hint, validity and the CAs (own and federated)", async () => {
    const r = await cli(["api", "fetch", "x509", "--socket", sock]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Received 1 svid after \d+(\.\d)?ms\n\nSPIFFE ID:\t\tspiffe:\/\/example\.org\/me\nHint:\t\t\tweb\nSVID Valid After:\t\d{4}-\d\d-\d\dT/);
    expect(r.out).toMatch(/\nSVID Valid Until:\t\d{4}-/);
    expect(r.out).toMatch(/\nCA #1 Valid After:\t\d{4}-/);
    expect(r.out).toMatch(/\n\[spiffe:\/\/peer\.org\] CA #1 Valid Until:\t\d{4}-/);
    expect(r.out).not.toMatch(/CA #2/);
  });

  it("--write DIR: svid.0.pem, svid.0.key (0600, PKCS#8), bundle.0.pem, federated_bundle.0.0.pem that openssl reads", async () => {
    const out = join(dir, "written");
    // spire-agent's spelling of the flags.
    const r = await cli(["api", "fetch", "x509", "-socketPath", sock, "-write", out, "-silent"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/Received/);
    expect(r.out).toContain(`Wrote key #0 to file ${join(out, "svid.0.key")}.`);
    expect(readdirSync(out).sort()).toEqual(["bundle.0.pem", "federated_bundle.0.0.pem", "svid.0.key", "svid.0.pem"]);
    expect(statSync(join(out, "svid.0.key")).mode & 0o777).toBe(0o600);
    for (const f of ["svid.0.pem", "bundle.0.pem", "federated_bundle.0.0.pem"]) expect(statSync(join(out, f)).mode & 0o777).toBe(0o644);
    const leaf = new x509.X509Certificate(readFileSync(join(out, "svid.0.pem"), "utf8"));
    expect(leaf.getExtension(x509.SubjectAlternativeNameExtension)!.names.items.map((n) => n.value)).toEqual([ME]);
    expect(new x509.X509Certificate(readFileSync(join(out, "bundle.0.pem"), "utf8")).subject).toBe(own.ca.subject);
    expect(new x509.X509Certificate(readFileSync(join(out, "federated_bundle.0.0.pem"), "utf8")).subject).toBe(peer.ca.subject);
    const verify = spawnSync("openssl", ["verify", "-CAfile", join(out, "bundle.0.pem"), join(out, "svid.0.pem")], { encoding: "utf8" });
    expect(verify.stdout).toContain(": OK");
    const keyText = readFileSync(join(out, "svid.0.key"), "utf8");
    expect(keyText).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const keyPub = execFileSync("openssl", ["pkey", "-in", join(out, "svid.0.key"), "-pubout"], { encoding: "utf8" });
    const certPub = createPublicKey(new X509Certificate(readFileSync(join(out, "svid.0.pem"))).publicKey.export({ type: "spki", format: "pem" })).export({ type: "spki", format: "pem" });
    expect(keyPub).toBe(certPub);
    // A second write replaces the files in place and leaves no temporaries.
    expect((await cli(["api", "fetch", "x509", "--socket", sock, "--write", out, "--silent"])).code).toBe(0);
    expect(readdirSync(out)).toHaveLength(4);
  });

  it("--write into a path that cannot be a directory: exit 1, nothing half-written", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const r = await cli(["api", "fetch", "x509", "--socket", sock, "--write", join(file, "sub")]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^signet-agent: fetch x509: cannot write .*a-file\/sub: /);
  });

  it("--output json is the response in protojson proto names, equal to what protobufjs decodes", async () => {
    const r = await cli(["api", "fetch", "x509", "--socket", sock, "--output", "json"]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { svids: { spiffe_id: string; x509_svid: string; x509_svid_key: string; bundle: string; hint: string }[]; federated_bundles: Record<string, string> };
    const client = workloadClient(sock);
    try {
      const m = await firstMessage<{ svids: { spiffe_id: string; x509_svid: Buffer; x509_svid_key: Buffer; bundle: Buffer; hint: string }[]; federated_bundles: Record<string, Buffer> }>(client, "FetchX509SVID");
      expect(json.svids).toEqual(m.svids.map((s) => ({ spiffe_id: s.spiffe_id, x509_svid: s.x509_svid.toString("base64"), x509_svid_key: s.x509_svid_key.toString("base64"), bundle: s.bundle.toString("base64"), hint: s.hint })));
      expect(json.federated_bundles).toEqual({ "spiffe://peer.org": m.federated_bundles["spiffe://peer.org"]!.toString("base64") });
    } finally {
      client.close();
    }
  });

  it("SPIFFE_ENDPOINT_SOCKET (unix:///…) when --socket is not given; `api fetch` is fetch x509", async () => {
    const r = await cli(["api", "fetch", "--silent"], { SPIFFE_ENDPOINT_SOCKET: `unix://${sock}` });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect((await cli(["api", "fetch", "x509"], { SIGNET_AGENT_SOCKET: sock })).code).toBe(0);
  });
});

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

describe("api fetch jwt", () => {
  it("prints the token for the audiences and the JWT bundles", async () => {
    const r = await cli(["api", "fetch", "jwt", "--socket", sock, "-audience", "a,b", "--audience", "c"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const m = /^token\(spiffe:\/\/example\.org\/me\):\n\t(\S+)\nbundle\(spiffe:\/\/example\.org\):\n\t(\{.*\})\nbundle\(spiffe:\/\/peer\.org\):\n\t\{.*\}\n$/.exec(r.out);
    expect(m).not.toBeNull();
    expect(claimsOf(m![1]!)).toMatchObject({ sub: ME, aud: ["a", "b", "c"] });
    expect((JSON.parse(m![2]!) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual([own.kid]);
  });

  it("--output json: [JWTSVIDResponse, JWTBundlesResponse] with bundles base64", async () => {
    const r = await cli(["api", "fetch", "jwt", "--socket", sock, "--audience", "x", "--spiffe-id", ME, "--output", "json"]);
    expect(r.code).toBe(0);
    const [svids, bundles] = JSON.parse(r.out) as [{ svids: { spiffe_id: string; svid: string; hint: string }[] }, { bundles: Record<string, string> }];
    expect(svids.svids).toEqual([{ spiffe_id: ME, svid: expect.any(String), hint: "web" }]);
    expect(Object.keys(bundles.bundles).sort()).toEqual(["spiffe://example.org", "spiffe://peer.org"]);
    const jwks = JSON.parse(Buffer.from(bundles.bundles["spiffe://example.org"]!, "base64").toString("utf8")) as { keys: Record<string, unknown>[] };
    const { use: _use, ...key } = own.bundle.jwks.keys[0]!;
    expect(jwks.keys).toEqual([expect.objectContaining(key)]);
  });

  it("an identity the caller does not have (-spiffeID): PermissionDenied, exit 1", async () => {
    const r = await cli(["api", "fetch", "jwt", "--socket", sock, "--audience", "x", "-spiffeID", "spiffe://example.org/not-me"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("signet-agent: fetch jwt: permission denied by the agent: no identity issued\n");
  });

  it("the agent cannot get a JWT-SVID: Unavailable, exit 3", async () => {
    state.jwtUnavailable = true;
    try {
      const r = await cli(["api", "fetch", "jwt", "--socket", sock, "--audience", "never-cached"]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/^signet-agent: fetch jwt: the agent is not available: could not fetch a JWT-SVID\n$/);
    } finally {
      state.jwtUnavailable = false;
    }
  });
});

describe("api validate jwt", () => {
  it("prints the SPIFFE ID and claims; the token as --svid or positional; json", async () => {
    const token = await mintJwt(own, ME, ["aud1"]);
    const r = await cli(["api", "validate", "jwt", "--socket", sock, "-audience", "aud1", "-svid", token]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const m = /^SVID is valid\.\nSPIFFE ID : spiffe:\/\/example\.org\/me\nClaims {4}: (\{.*\})\n$/.exec(r.out);
    expect(JSON.parse(m![1]!)).toEqual(claimsOf(token));
    const positional = await cli(["api", "validate", "jwt", "--socket", sock, "--audience", "aud1", "--output", "json", token]);
    expect(positional.code).toBe(0);
    const json = JSON.parse(positional.out) as { spiffe_id: string; claims: Record<string, unknown> };
    expect(json.spiffe_id).toBe(ME);
    expect(json.claims).toEqual(claimsOf(token));
    expect(typeof json.claims.exp).toBe("number");
  });

  it.each([
    ["a token that is not a JWT", async () => "garbage"],
    ["the wrong audience", async () => mintJwt(own, ME, ["someone-else"])],
    ["an unknown signer", async () => mintJwt(await trustDomainMaterial("example.org"), ME, ["aud1"])],
    ["an expired token", async () => mintJwt(own, ME, ["aud1"], 60, Date.now() - 3_600_000)],
  ])("%s: SVID is not valid, exit 1", async (_what, make) => {
    const r = await cli(["api", "validate", "jwt", "--socket", sock, "--audience", "aud1", "--svid", await make()]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^signet-agent: SVID is not valid: the JWT-SVID does not validate: .+\n$/);
  });
});

describe("errors and exit codes", () => {
  it.each([
    ["no socket at the path", () => join(dir, "nothing-here.sock"), /^signet-agent: no agent socket at .*nothing-here\.sock \(is signet-agent running\?/],
    ["a regular file", () => join(dir, "a-regular-file"), /^signet-agent: .*a-regular-file is not a socket/],
    ["a socket nobody listens on", () => join(dir, "stale.sock"), /^signet-agent: fetch x509: cannot connect to the agent at .*stale\.sock: /],
  ])("%s: exit 3", async (_what, path, message) => {
    writeFileSync(join(dir, "a-regular-file"), "");
    if (!existsSync(join(dir, "stale.sock"))) {
      // A listener killed without unlinking its socket, as a killed agent leaves it.
      const child = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(join(dir, "stale.sock"))}, () => console.log("up"))`]);
      await new Promise((r) => child.stdout.once("data", r));
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    const r = await cli(["api", "fetch", "x509", "--socket", path()]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(message);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
  });

  it("PermissionDenied (no entry for this caller): exit 1 for x509 and jwt", async () => {
    const x = await cli(["api", "fetch", "x509", "--socket", deniedSock]);
    expect(x).toMatchObject({ code: 1, err: "signet-agent: fetch x509: permission denied by the agent: no identity issued\n", out: "" });
    expect((await cli(["api", "fetch", "jwt", "--socket", deniedSock, "--audience", "a"])).code).toBe(1);
  });

  it("Unavailable (not synchronised yet): exit 3", async () => {
    const r = await cli(["api", "fetch", "x509", "--socket", notReadySock]);
    expect(r.code).toBe(3);
    expect(r.err).toBe("signet-agent: fetch x509: the agent is not available: the agent has not synchronised with the server yet\n");
  });

  it("no answer within --timeout: exit 3", async () => {
    const started = Date.now();
    const r = await cli(["api", "fetch", "x509", "--socket", silentSock, "--timeout", "300ms"]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^signet-agent: fetch x509: no answer from the agent at .*silent\.sock within 300 ms\n$/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it.each([
    [["api"], /Usage: signet-agent api fetch x509/],
    [["api", "bogus"], /unknown command "api bogus"/],
    [["api", "fetch", "x509", "--nope"], /Unknown option '--nope'/],
    [["api", "fetch", "x509", "extra"], /unexpected argument "extra"/],
    [["api", "fetch", "jwt"], /--audience must be specified/],
    [["api", "fetch", "jwt", "--audience", " , "], /--audience must be specified/],
    [["api", "validate", "jwt", "--audience", "a"], /--svid must be specified/],
    [["api", "validate", "jwt", "--svid", "t"], /--audience must be specified/],
    [["api", "validate", "jwt", "--audience", "a", "--svid", "t", "t"], /give the token once/],
    [["api", "fetch", "x509", "--timeout", "soon"], /--timeout "soon" is not a duration/],
    [["api", "fetch", "x509", "--output", "yaml"], /--output must be pretty or json/],
    [["api", "fetch", "x509", "--socket", "tcp://127.0.0.1:8081"], /not a unix socket/],
    [["api", "fetch", "x509", "--socket", "unix://host/x.sock"], /a unix socket URI has only a path/],
    [["healthcheck", "--bogus"], /Unknown option '--bogus'/],
  ])("usage error %j: exit 2", async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err + r.out).toMatch(message);
  });

  it("--help prints the usage and exits 0", async () => {
    for (const argv of [["api", "--help"], ["api", "fetch", "x509", "-h"], ["healthcheck", "--help"]]) {
      const r = await cli(argv);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: signet-agent /);
    }
    expect((await cli(["--help"])).out).toMatch(/signet-agent api fetch x509\|fetch jwt\|validate jwt/);
  });
});

describe("healthcheck", () => {
  it("healthy when the agent serves SVIDs, or refuses this caller (PermissionDenied)", async () => {
    expect(await cli(["healthcheck", "--socket", sock])).toEqual({ code: 0, out: "Agent is healthy.\n", err: "" });
    const denied = await cli(["healthcheck", "-socketPath", deniedSock, "-verbose"]);
    expect(denied.code).toBe(0);
    expect(denied.out).toMatch(/^Checking agent health on .*denied\.sock\.\.\.\nthe agent answered: .*permission denied.*\nAgent is healthy\.\n$/);
  });

  it("Unavailable: unhealthy (exit 1) unless --shallow", async () => {
    const deep = await cli(["healthcheck", "--socket", notReadySock]);
    expect(deep).toMatchObject({ code: 1, out: "" });
    expect(deep.err).toMatch(/^Agent is unhealthy: not ready: .*not synchronised/);
    expect(await cli(["healthcheck", "--socket", notReadySock, "--shallow"])).toMatchObject({ code: 0, out: "Agent is alive (not ready yet).\n" });
  });

  it.each([
    ["no socket", () => join(dir, "absent.sock"), /no agent socket/],
    ["no answer", () => silentSock, /no answer from the agent/],
  ])("%s: unhealthy, exit 1, even --shallow", async (_what, path, message) => {
    const r = await cli(["healthcheck", "--socket", path(), "--shallow", "--timeout", "300ms"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^Agent is unhealthy: /);
    expect(r.err).toMatch(message);
  });
});

describe("pieces", () => {
  it("flags in Go's form become parseArgs' form", () => {
    expect(normalizeFlags(["-socketPath", "/s", "-audience=a", "-h", "--spiffeID", "x", "--", "-svid"])).toEqual(["--socket", "/s", "--audience=a", "-h", "--spiffe-id", "x", "--", "-svid"]);
  });

  it.each([
    ["5s", 5000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["2", 2000],
    ["0.25", 250],
  ])("--timeout %s = %d ms", (s, ms) => expect(parseTimeout(s)).toBe(ms));

  it("claims (google.protobuf.Struct) survive the server's encoder and the client's decoder", () => {
    const claims = { sub: ME, aud: ["a", "b"], exp: 1_700_000_000, frac: -1.5, zero: 0, yes: true, no: false, none: null, nested: { list: [1, "two", { three: [] }], empty: {} }, s: "" };
    expect(decodeStruct(encodeStruct(claims))).toEqual(claims);
  });
});

describe("the built binary", () => {
  it("node bin/signet-agent.mjs api fetch x509 --write and healthcheck, as a child process", async () => {
    execFileSync(process.execPath, ["scripts/build-cli.mjs"], { cwd: ROOT, stdio: "pipe" });
    const out = join(dir, "from-binary");
    mkdirSync(out);
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["bin/signet-agent.mjs", ...args], { cwd: ROOT, env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: `unix://${sock}` } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.once("exit", (code) => resolve({ code, stdout, stderr }));
      });
    const fetched = await run(["api", "fetch", "x509", "-write", out]);
    expect(fetched.stderr).toBe("");
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toContain("SPIFFE ID:\t\tspiffe://example.org/me");
    expect(statSync(join(out, "svid.0.key")).mode & 0o777).toBe(0o600);
    expect(spawnSync("openssl", ["verify", "-CAfile", join(out, "bundle.0.pem"), join(out, "svid.0.pem")], { encoding: "utf8" }).stdout).toContain(": OK");
    expect(await run(["healthcheck"])).toMatchObject({ code: 0, stdout: "Agent is healthy.\n" });
    expect((await run(["api", "fetch", "x509", "--socket", deniedSock])).code).toBe(1);
  }, 60_000);
});
