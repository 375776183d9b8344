import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, json, problem, type Handler, type RecordedRequest } from "./fake-server";
import { adminCliHarness } from "./admin-harness";
import { runCli } from "./run-cli";

const TD = "spiffe://example.org";
const AGENT = `${TD}/signet/agent/join_token/0123456789abcdef`;
type Wire = Record<string, unknown> & { id: string; revision_number: number };

/** The entries contract in memory: ids e1, e2, …; pages of page_size, the token being the last id. */
function entriesHandler(store: Map<string, Wire>): Handler {
  let next = 1;
  return (req: RecordedRequest) => {
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) return problem(401, "unauthorized", "Missing or invalid credentials", "An admin bearer token is required.");
    const url = new URL(req.path, "http://fake");
    const body = req.body === "" ? {} : (JSON.parse(req.body) as Record<string, unknown>);
    if (req.method === "POST" && url.pathname === "/admin/v1/entries") {
      const results = (body.entries as Record<string, unknown>[]).map((e) => {
        const dup = [...store.values()].find((s) => s.spiffe_id === e.spiffe_id && s.parent_id === e.parent_id);
        if (dup) return { status: "entry_exists", http_status: 409, title: "A similar registration entry exists", detail: `entry ${dup.id} has the same spiffe_id, parent_id and selectors`, existing_id: dup.id };
        const entry: Wire = { x509_svid_ttl: 0, jwt_svid_ttl: 0, federates_with: [], dns_names: [], admin: false, downstream: false, hint: "", expires_at: 0, ...e, id: (e.id as string | undefined) ?? `e${next++}`, revision_number: 0, created_at: 1_900_000_000 };
        store.set(entry.id, entry);
        return { status: "created", entry };
      });
      return json(200, { results });
    }
    if (req.method === "POST" && url.pathname === "/admin/v1/entries/update") {
      const results = (body.entries as Record<string, unknown>[]).map((u) => {
        const { id, revision_number, ...changes } = u as { id: string; revision_number: number };
        const current = store.get(id);
        if (!current) return { status: "entry_not_found", http_status: 404, title: "No such registration entry", detail: `no entry with id ${id}` };
        if (current.revision_number !== revision_number) return { status: "revision_conflict", http_status: 409, title: "The entry has changed since it was read", detail: "changed", current_revision: current.revision_number };
        const entry = { ...current, ...changes, revision_number: current.revision_number + 1 };
        store.set(id, entry);
        return { status: "updated", entry };
      });
      return json(200, { results });
    }
    if (req.method === "POST" && url.pathname === "/admin/v1/entries/delete") {
      const results = (body.ids as string[]).map((id) => (store.delete(id) ? { id, status: "deleted" } : { id, status: "entry_not_found", http_status: 404, title: "No such registration entry", detail: `no entry with id ${id}` }));
      return json(200, { results });
    }
    if (req.method === "GET" && url.pathname.startsWith("/admin/v1/entries/")) {
      const entry = store.get(decodeURIComponent(url.pathname.slice("/admin/v1/entries/".length)));
      return entry ? json(200, entry) : problem(404, "entry_not_found", "No such registration entry", "no entry with that id");
    }
    if (req.method === "GET" && url.pathname === "/admin/v1/entries") {
      const size = Number(url.searchParams.get("page_size") ?? 100);
      const after = url.searchParams.get("page_token") ?? "";
      const spiffeId = url.searchParams.get("spiffe_id");
      const all = [...store.values()].filter((e) => spiffeId === null || e.spiffe_id === spiffeId).sort((a, b) => (a.id < b.id ? -1 : 1)).filter((e) => e.id > after);
      const page = all.slice(0, size);
      return json(200, { entries: page, next_page_token: all.length > size ? page[page.length - 1]!.id : null });
    }
    if (req.method === "POST" && url.pathname === "/admin/v1/join-tokens") {
      const token = "6d4f3c2b-1a09-4e8d-9c7b-5a4f3e2d1c0b";
      return json(200, { token, expires_at: 1_900_000_000 + Number(body.ttl ?? 600), agent_id: `${TD}/signet/agent/join_token/${token}` });
    }
    return problem(404, "not_found", "Not found", req.path);
  };
}

const h = adminCliHarness<Wire>(entriesHandler);

const run = h.run;
const sent = (i: number) => JSON.parse(h.server.requests[i]!.body) as Record<string, unknown>;
const create = (...extra: string[]) => run("entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", "unix:uid:1000", ...extra);

describe("signet entry create", () => {
  it("sends SPIRE's fields and prints the entry as spire-server does", async () => {
    const r = await create("--selector", "k8s:ns:prod", "--x509-svid-ttl", "1h", "--jwt-svid-ttl", "300", "--federates-with", "spiffe://other.org", "--dns", "API.example.org", "--admin", "--downstream", "--hint", "web", "--entry-expiry", "2030-03-17T17:46:40Z");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(h.server.requests[0]).toMatchObject({ method: "POST", path: "/admin/v1/entries" });
    expect(sent(0)).toEqual({
      entries: [
        {
          spiffe_id: `${TD}/w`,
          parent_id: AGENT,
          selectors: [{ type: "unix", value: "uid:1000" }, { type: "k8s", value: "ns:prod" }],
          x509_svid_ttl: 3600,
          jwt_svid_ttl: 300,
          federates_with: ["other.org"],
          dns_names: ["api.example.org"],
          admin: true,
          downstream: true,
          hint: "web",
          expires_at: 1_900_000_000,
        },
      ],
    });
    expect(r.stdout).toBe(
      [
        "Entry ID        : e1",
        `SPIFFE ID       : ${TD}/w`,
        `Parent ID       : ${AGENT}`,
        "Revision        : 0",
        "X509-SVID TTL   : 3600s",
        "JWT-SVID TTL    : 300s",
        "Expiration time : 2030-03-17T17:46:40Z",
        "Selector        : unix:uid:1000",
        "Selector        : k8s:ns:prod",
        "FederatesWith   : other.org",
        "DNS name        : api.example.org",
        "Admin           : true",
        "Downstream      : true",
        "Hint            : web",
        "Created at      : 2030-03-17T17:46:40Z",
        "",
      ].join("\n"),
    );
  });

  it("--node parents the entry to the server; --entry-id is sent; --output json prints the result", async () => {
    const r = await run("entry", "create", "--spiffe-id", `${TD}/node/snp`, "--node", "--selector", "tee:type:snp", "--entry-id", "my-node", "--output", "json");
    expect(r.code).toBe(0);
    expect(sent(0)).toEqual({ entries: [{ id: "my-node", spiffe_id: `${TD}/node/snp`, parent_id: `${TD}/signet/server`, selectors: [{ type: "tee", value: "type:snp" }] }] });
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "created", entry: { id: "my-node", parent_id: `${TD}/signet/server` } });
  });

  it("a duplicate is refused with the existing id (exit 1)", async () => {
    expect((await create()).code).toBe(0);
    const r = await create();
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("signet: A similar registration entry exists: entry e1 has the same spiffe_id, parent_id and selectors; existing entry e1 (code entry_exists, HTTP 409)\n");
  });

  it.each([
    [["entry", "create", "--parent-id", AGENT, "--selector", "a:b"], "missing required flag --spiffe-id"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--selector", "a:b"], "missing required flag --parent-id (or --node)"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT], "missing required flag --selector"],
    [["entry", "create", "--spiffe-id", "spiffe://Example.org/w", "--parent-id", AGENT, "--selector", "a:b"], "--spiffe-id 'spiffe://Example.org/w' is not a valid SPIFFE ID"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", TD, "--selector", "a:b"], "--parent-id 'spiffe://example.org' has no path"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--node", "--selector", "a:b"], "--node and --parent-id exclude each other"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", "nocolon"], "--selector 'nocolon': a selector is written type:value"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", ":v"], "--selector ':v': the selector type is empty"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", "a:b", "--x509-svid-ttl", "soon"], "--x509-svid-ttl 'soon' is not a valid duration"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", "a:b", "--dns", "bad_name"], "--dns 'bad_name' is not a valid DNS name"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", "a:b", "--federates-with", "Other.org"], "--federates-with 'Other.org' is not a trust domain"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", "a:b", "--entry-expiry", "tomorrow"], "--entry-expiry must be unix seconds or an ISO 8601 date-time"],
    [["entry", "create", "--spiffe-id", `${TD}/w`, "--parent-id", AGENT, "--selector", "a:b", "--output", "yaml"], "--output must be one of text, json"],
    [["entry", "update", "--hint", "x"], "missing required flag --entry-id"],
    [["entry", "update", "--entry-id", "e1"], "nothing to change"],
    [["entry", "update", "--entry-id", "e1", "--hint", "x", "--revision", "-1"], "--revision must be a whole number"],
    [["entry", "update", "--entry-id", "e1", "--admin", "--no-admin"], "--admin and --no-admin exclude each other"],
    [["entry", "delete"], "missing required flag --entry-id"],
    [["entry", "show"], "missing required flag --entry-id"],
    [["entry", "list", "--match", "exact"], "--match needs at least one --selector"],
    [["entry", "list", "--selector", "a:b", "--match", "some"], "--match must be one of exact, subset, superset, any"],
    [["entry", "list", "--page-size", "0"], "--page-size must be a whole number from 1 to 1000"],
    [["token", "generate", "--ttl", "0"], "--ttl '0' is not a valid duration"],
  ])("%j is a usage error (exit 2, no request)", async (args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`signet: ${message}`);
    expect(h.server.requests).toHaveLength(0);
  });
});

describe("signet entry update", () => {
  it("reads the current revision, then sends a compare-and-set update of the given fields only", async () => {
    await create();
    h.server.requests.length = 0;
    const r = await run("entry", "update", "--entry-id", "e1", "--hint", "api", "--no-admin", "--selector", "unix:uid:0");
    expect(r.code).toBe(0);
    expect(h.server.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["GET /admin/v1/entries/e1", "POST /admin/v1/entries/update"]);
    expect(sent(1)).toEqual({ entries: [{ id: "e1", revision_number: 0, hint: "api", admin: false, selectors: [{ type: "unix", value: "uid:0" }] }] });
    expect(r.stdout).toContain("Revision        : 1\n");
    expect(r.stdout).toContain("Hint            : api\n");
  });

  it("--revision skips the read; a stale one is a revision_conflict (exit 1)", async () => {
    await create();
    await run("entry", "update", "--entry-id", "e1", "--hint", "first");
    h.server.requests.length = 0;
    const r = await run("entry", "update", "--entry-id", "e1", "--revision", "0", "--hint", "stale");
    expect(h.server.requests).toHaveLength(1);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("signet: The entry has changed since it was read: changed; the entry is at revision 1 (code revision_conflict, HTTP 409)\n");
    expect(h.store.get("e1")!.hint).toBe("first");
  });

  it("an unknown entry is refused (exit 1)", async () => {
    const r = await run("entry", "update", "--entry-id", "nope", "--hint", "x");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(code entry_not_found, HTTP 404)");
  });
});

describe("signet entry show, list, delete", () => {
  it("show prints one entry; json is the server's entry", async () => {
    await create();
    expect((await run("entry", "show", "--entry-id", "e1")).stdout).toContain(`SPIFFE ID       : ${TD}/w\n`);
    const j = await run("entry", "show", "--entry-id", "e1", "--output", "json");
    expect(JSON.parse(j.stdout)).toEqual(h.store.get("e1"));
    const missing = await run("entry", "show", "--entry-id", "e9");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("code entry_not_found");
  });

  it("list follows every page and sends the filters", async () => {
    for (let i = 0; i < 5; i++) await run("entry", "create", "--spiffe-id", `${TD}/w${i}`, "--parent-id", AGENT, "--selector", "unix:uid:1");
    h.server.requests.length = 0;
    const r = await run("entry", "list", "--page-size", "2", "--output", "json");
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { entries: { id: string }[] }).entries.map((e) => e.id)).toEqual(["e1", "e2", "e3", "e4", "e5"]);
    expect(h.server.requests).toHaveLength(3);
    h.server.requests.length = 0;
    const f = await run("entry", "list", "--spiffe-id", `${TD}/w3`, "--parent-id", AGENT, "--selector", "unix:uid:1", "--selector", "k8s:ns:a", "--match", "any", "--federates-with", "other.org", "--hint", "h", "--downstream");
    expect(f.code).toBe(0);
    const q = new URL(h.server.requests[0]!.path, "http://fake").searchParams;
    expect([...q.entries()]).toEqual([
      ["spiffe_id", `${TD}/w3`],
      ["parent_id", AGENT],
      ["selector", "unix:uid:1"],
      ["selector", "k8s:ns:a"],
      ["match", "any"],
      ["federates_with", "other.org"],
      ["hint", "h"],
      ["downstream", "true"],
      ["page_size", "1000"],
    ]);
    expect(f.stdout.startsWith("Found 1 entry\nEntry ID        : e4\n")).toBe(true);
  });

  it("list refuses a page token that does not advance (exit 3)", async () => {
    h.server.handler = () => json(200, { entries: [{ id: "x", spiffe_id: `${TD}/x` }], next_page_token: "x" });
    const r = await run("entry", "list");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("the page token does not advance");
  });

  it("delete reports each id; one missing makes it exit 1 after deleting the rest", async () => {
    await create();
    const r = await run("entry", "delete", "--entry-id", "e1", "--entry-id", "nope");
    expect(sent(1)).toEqual({ ids: ["e1", "nope"] });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("Deleted entry ID e1\n");
    expect(r.stderr).toContain("signet: entry nope: No such registration entry");
    expect(h.store.size).toBe(0);
  });

  it("needs an admin token (exit 2) and reports a 401 (exit 1)", async () => {
    const none = await runCli(["entry", "list", "--server", h.server.url], { cwd: h.cwd, env: {} });
    expect(none.code).toBe(2);
    const wrong = await runCli(["entry", "list", "--server", h.server.url], { cwd: h.cwd, env: { SIGNET_ADMIN_TOKEN: "wrong-token" } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("code unauthorized");
  });
});

describe("signet token generate", () => {
  it("prints the token as spire-server does, with the agent ID and expiry", async () => {
    const r = await run("token", "generate", "--ttl", "1h");
    expect(r.code).toBe(0);
    expect(sent(0)).toEqual({ ttl: 3600 });
    expect(r.stdout).toBe(`Token: 6d4f3c2b-1a09-4e8d-9c7b-5a4f3e2d1c0b\nAgent ID: ${TD}/signet/agent/join_token/6d4f3c2b-1a09-4e8d-9c7b-5a4f3e2d1c0b\nExpires: 2030-03-17T18:46:40Z\n`);
    const j = await run("token", "generate", "--output", "json");
    expect(sent(1)).toEqual({});
    expect(JSON.parse(j.stdout)).toMatchObject({ token: "6d4f3c2b-1a09-4e8d-9c7b-5a4f3e2d1c0b", expires_at: 1_900_000_600 });
  });

  it("a bad answer is exit 3", async () => {
    h.server.handler = () => json(200, { token: "" });
    const r = await run("token", "generate");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("unexpected answer from admin/v1/join-tokens: token is missing");
  });
});
