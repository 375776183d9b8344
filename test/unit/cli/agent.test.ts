import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, json, problem, type Handler, type RecordedRequest } from "./fake-server";
import { adminCliHarness } from "./admin-harness";
import { runCli } from "./run-cli";

const TD = "spiffe://example.org";
const JOIN = `${TD}/signet/agent/join_token/6d4f3c2b-1a09-4e8d-9c7b-5a4f3e2d1c0b`;
const TEE = `${TD}/signet/agent/tee/4f1c`;
type Wire = Record<string, unknown> & { spiffe_id: string };

const agent = (spiffeId: string, attestationType: string, selectors: [string, string][] = []): Wire => ({
  spiffe_id: spiffeId,
  attestation_type: attestationType,
  selectors: selectors.map(([type, value]) => ({ type, value })),
  x509_svid_serial_number: "0a1b2c",
  x509_svid_expires_at: 1_900_000_000,
  can_reattest: attestationType !== "join_token",
  banned: false,
  created_at: 1_900_000_000,
});

/** The agents contract in memory, in SPIFFE ID order; pages of page_size, the token being the last ID. */
function agentsHandler(store: Map<string, Wire>): Handler {
  return (req: RecordedRequest) => {
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) return problem(401, "unauthorized", "Missing or invalid credentials", "An admin bearer token is required.");
    const url = new URL(req.path, "http://fake");
    if (req.method === "GET" && url.pathname === "/admin/v1/agents") {
      const size = Number(url.searchParams.get("page_size") ?? 100);
      const after = url.searchParams.get("page_token") ?? "";
      const type = url.searchParams.get("attestation_type");
      const banned = url.searchParams.get("banned");
      const all = [...store.values()]
        .filter((a) => (type === null || a.attestation_type === type) && (banned === null || String(a.banned) === banned))
        .sort((a, b) => (a.spiffe_id < b.spiffe_id ? -1 : 1))
        .filter((a) => a.spiffe_id > after);
      const page = all.slice(0, size);
      return json(200, { agents: page, next_page_token: all.length > size ? page[page.length - 1]!.spiffe_id : null });
    }
    const m = /^\/admin\/v1\/agents\/([^/]+)(\/ban)?$/.exec(url.pathname);
    const id = m ? decodeURIComponent(m[1]!) : "";
    const found = store.get(id);
    if (!m) return problem(404, "not_found", "Not found", req.path);
    if (!found) return problem(404, "not_found", "Not found", "No such agent.");
    if (req.method === "GET" && !m[2]) return json(200, found);
    if (req.method === "POST" && m[2]) {
      found.banned = true;
      return json(200, found);
    }
    if (req.method === "DELETE" && !m[2]) {
      store.delete(id);
      return { status: 204, body: "" };
    }
    return problem(404, "not_found", "Not found", req.path);
  };
}

const h = adminCliHarness<Wire>(agentsHandler, () =>
  new Map(
    [agent(JOIN, "join_token"), agent(TEE, "tee", [["tee", "type:snp"], ["snp", "measurement:ab"]]), agent(`${TD}/signet/agent/x509pop/c0ffee`, "x509pop", [["x509pop", "subject:cn:node-1"]])].map((a) => [a.spiffe_id, a]),
  ));

const run = h.run;
const listed = (stdout: string) => (JSON.parse(stdout) as { agents: Wire[] }).agents.map((a) => a.spiffe_id);

describe("signet agent show", () => {
  it("GETs the agent by its percent-encoded ID and prints it as spire-server does", async () => {
    const r = await run("agent", "show", "--spiffe-id", TEE);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(h.server.requests[0]).toMatchObject({ method: "GET", path: `/admin/v1/agents/${encodeURIComponent(TEE)}` });
    expect(r.stdout).toBe(
      [
        "Found an attested agent given its SPIFFE ID",
        "",
        `SPIFFE ID         : ${TEE}`,
        "Attestation type  : tee",
        "Expiration time   : 2030-03-17T17:46:40Z",
        "Serial number     : 0a1b2c",
        "Can re-attest     : true",
        "Banned            : false",
        "Selector          : tee:type:snp",
        "Selector          : snp:measurement:ab",
        "Created at        : 2030-03-17T17:46:40Z",
        "",
      ].join("\n"),
    );
  });

  it("--output json prints the server's agent", async () => {
    const r = await run("agent", "show", "--spiffe-id", JOIN, "--output", "json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(h.store.get(JOIN));
  });

  it("an unknown agent is the server's refusal (exit 1)", async () => {
    const r = await run("agent", "show", "--spiffe-id", `${TD}/signet/agent/join_token/nope`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("signet: Not found: No such agent. (code not_found, HTTP 404)\n");
  });

  it.each([
    [[], "missing required flag --spiffe-id"],
    [["--spiffe-id", "https://example.org/a"], "--spiffe-id 'https://example.org/a' is not a valid SPIFFE ID"],
    [["--spiffe-id", TD], "has no path"],
    [["--spiffe-id", TEE, "--output", "yaml"], "--output must be one of text, json"],
  ])("usage error %j (exit 2, nothing sent)", async (args, message) => {
    const r = await run("agent", "show", ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(h.server.requests).toHaveLength(0);
  });
});

describe("signet agent list", () => {
  it("follows every page and prints each agent", async () => {
    const r = await run("agent", "list", "--page-size", "1");
    expect(r.code).toBe(0);
    expect(h.server.requests.map((q) => q.path)).toEqual([
      "/admin/v1/agents?page_size=1",
      `/admin/v1/agents?page_size=1&page_token=${encodeURIComponent(JOIN)}`,
      `/admin/v1/agents?page_size=1&page_token=${encodeURIComponent(TEE)}`,
    ]);
    expect(r.stdout.startsWith("Found 3 attested agents\n\nSPIFFE ID         : spiffe://example.org/signet/agent/join_token/")).toBe(true);
    expect(r.stdout.match(/^SPIFFE ID/gm)).toHaveLength(3);
  });

  it("sends --attestation-type and --banned to the server", async () => {
    h.store.get(TEE)!.banned = true;
    const r = await run("agent", "list", "--attestation-type", "tee", "--banned", "true", "--output", "json");
    expect(r.code).toBe(0);
    expect(h.server.requests[0]!.path).toBe("/admin/v1/agents?attestation_type=tee&banned=true&page_size=1000");
    expect(listed(r.stdout)).toEqual([TEE]);
    const none = await run("agent", "list", "--banned", "false", "--attestation-type", "tee");
    expect(none.stdout).toBe("Found 0 attested agents\n");
  });

  it.each([
    [["--selector", "tee:type:snp"], [TEE]],
    [["--selector", "tee:type:snp", "--selector", "snp:measurement:cd"], []],
    [["--selector", "tee:type:snp", "--selector", "snp:measurement:cd", "--match", "any"], [TEE]],
    [["--selector", "tee:type:snp", "--match", "exact"], []],
    [["--selector", "tee:type:snp", "--selector", "snp:measurement:ab", "--match", "exact"], [TEE]],
    // subset: every selector the agent has is among these (an agent with none qualifies, as for entries)
    [["--selector", "tee:type:snp", "--selector", "snp:measurement:ab", "--selector", "x:y:z", "--match", "subset"], [JOIN, TEE]],
  ])("--selector %j filters the agents the server sent", async (args, expected) => {
    const r = await run("agent", "list", ...args, "--output", "json");
    expect(r.code).toBe(0);
    expect(h.server.requests[0]!.path).toBe("/admin/v1/agents?page_size=1000");
    expect(listed(r.stdout)).toEqual(expected);
  });

  it.each([
    [["--attestation-type", "aws_iid"], "--attestation-type must be one of join_token, tee, x509pop"],
    [["--banned", "yes"], "--banned must be one of true, false"],
    [["--match", "any"], "--match needs at least one --selector"],
    [["--selector", "nocolon"], "--selector 'nocolon'"],
    [["--page-size", "0"], "--page-size must be a whole number from 1 to 1000"],
    [["--page-size", "1001"], "--page-size must be a whole number from 1 to 1000"],
  ])("usage error %j (exit 2, nothing sent)", async (args, message) => {
    const r = await run("agent", "list", ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(h.server.requests).toHaveLength(0);
  });

  it("a page token that does not advance is a bad answer (exit 3), not a loop", async () => {
    h.server.handler = () => json(200, { agents: [agent(JOIN, "join_token")], next_page_token: "same" });
    const first = await run("agent", "list");
    expect(first.code).toBe(3);
    expect(first.stderr).toContain("the page token does not advance");
    expect(h.server.requests).toHaveLength(2);
  });

  it("an answer that is not a list of agents is a bad answer (exit 3)", async () => {
    h.server.handler = () => json(200, { agents: [{ id: "x" }], next_page_token: null });
    const r = await run("agent", "list");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("agents is not a list of agents");
  });
});

describe("signet agent ban and evict", () => {
  it("ban POSTs …/ban and the agent is banned; --output json prints it", async () => {
    const r = await run("agent", "ban", "--spiffe-id", JOIN);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Agent banned successfully\n");
    expect(h.server.requests[0]).toMatchObject({ method: "POST", path: `/admin/v1/agents/${encodeURIComponent(JOIN)}/ban`, body: "" });
    expect(h.store.get(JOIN)!.banned).toBe(true);
    const again = await run("agent", "ban", "--spiffe-id", JOIN, "--output", "json");
    expect(JSON.parse(again.stdout)).toMatchObject({ spiffe_id: JOIN, banned: true });
  });

  it("evict DELETEs the agent (204); a second evict is refused (exit 1)", async () => {
    const r = await run("agent", "evict", "--spiffe-id", TEE);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Agent evicted successfully\n");
    expect(h.server.requests[0]).toMatchObject({ method: "DELETE", path: `/admin/v1/agents/${encodeURIComponent(TEE)}` });
    expect(h.store.has(TEE)).toBe(false);
    const again = await run("agent", "evict", "--spiffe-id", TEE, "--output", "json");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("code not_found, HTTP 404");
  });

  it("evict --output json prints what was evicted", async () => {
    const r = await run("agent", "evict", "--spiffe-id", JOIN, "--output", "json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ spiffe_id: JOIN, status: "evicted" });
  });

  it("a ban answer that is not a banned agent is a bad answer (exit 3)", async () => {
    h.server.handler = () => json(200, agent(JOIN, "join_token"));
    const r = await run("agent", "ban", "--spiffe-id", JOIN);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("not a banned agent");
  });

  it("without the admin token nothing is sent (exit 2)", async () => {
    const r = await runCli(["agent", "evict", "--spiffe-id", JOIN, "--server", h.server.url], { cwd: h.cwd, env: {} });
    expect(r.code).toBe(2);
    expect(h.server.requests).toHaveLength(0);
  });

  it("'signet agent' lists its four commands", async () => {
    const r = await runCli(["agent", "--help"], { cwd: h.cwd });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^ {2}agent (list|show|ban|evict) /gm)).toHaveLength(4);
  });
});
