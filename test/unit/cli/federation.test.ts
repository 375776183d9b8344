/**
 * `signet federation create|list|show|delete|refresh` against a fake server that keeps relationships
 * in memory: the wire body, text and JSON output, exit codes, and usage errors that never reach the network.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, json, problem, type Handler, type RecordedRequest } from "./fake-server";
import { adminCliHarness } from "./admin-harness";

type Wire = Record<string, unknown> & { trust_domain: string };

function relationship(td: string, url: string, fetched: boolean): Wire {
  return {
    trust_domain: td,
    bundle_endpoint_url: url,
    bundle_endpoint_profile: "https_web",
    created_at: 1_900_000_000,
    bundle_status: fetched ? "current" : "missing",
    spiffe_sequence: fetched ? 3 : null,
    x509_authorities: fetched ? 1 : 0,
    jwt_authorities: fetched ? 2 : 0,
    last_fetch_at: 1_900_000_000,
    last_success_at: fetched ? 1_900_000_000 : null,
    last_error: fetched ? null : "the bundle endpoint answered HTTP 500",
    consecutive_failures: fetched ? 0 : 1,
    next_refresh_at: 1_900_000_300,
  };
}

/** The federation contract in memory; a URL containing "down" fails its fetch; pages of one. */
function federationHandler(store: Map<string, Wire>): Handler {
  return (req: RecordedRequest) => {
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) return problem(401, "unauthorized", "Missing or invalid credentials", "An admin bearer token is required.");
    const url = new URL(req.path, "http://fake");
    const body = req.body === "" ? {} : (JSON.parse(req.body) as Record<string, string>);
    const [, , , , td, action] = url.pathname.split("/");
    if (req.method === "POST" && url.pathname === "/admin/v1/federation") {
      if (store.has(body.trust_domain!)) return problem(409, "federation_exists", "A federation relationship with that trust domain exists", `a federation relationship with ${body.trust_domain} exists; delete it first to change it`);
      const fetched = !body.bundle_endpoint_url!.includes("down");
      const r = relationship(body.trust_domain!, body.bundle_endpoint_url!, fetched);
      store.set(r.trust_domain, r);
      return json(201, { federation: r, refresh: fetched ? { outcome: "updated" } : { outcome: "failed", detail: "the bundle endpoint answered HTTP 500" } });
    }
    if (req.method === "GET" && url.pathname === "/admin/v1/federation") {
      const all = [...store.values()].sort((a, b) => (a.trust_domain < b.trust_domain ? -1 : 1));
      const after = url.searchParams.get("page_token");
      const rest = after ? all.filter((r) => r.trust_domain > after) : all;
      return json(200, { federations: rest.slice(0, 1), next_page_token: rest.length > 1 ? rest[0]!.trust_domain : null });
    }
    const r = td === undefined ? undefined : store.get(decodeURIComponent(td));
    if (!r) return problem(404, "federation_not_found", "No such federation relationship", `no federation relationship with ${td}`);
    if (req.method === "GET" && action === undefined) return json(200, { ...r, trust_domain_bundle: { keys: [], spiffe_sequence: 3, spiffe_refresh_hint: 300 } });
    if (req.method === "DELETE" && action === undefined) {
      store.delete(r.trust_domain);
      return json(200, { trust_domain: r.trust_domain, status: "deleted" });
    }
    if (req.method === "POST" && action === "refresh") {
      return body.force ? json(200, { federation: r, refresh: { outcome: "updated" } }) : json(200, { federation: { ...r, bundle_status: "stale", last_error: "refused a rollback: spiffe_sequence 1 is below the stored 3" }, refresh: { outcome: "refused", detail: "refused a rollback: spiffe_sequence 1 is below the stored 3" } });
    }
    return problem(404, "not_found", "Not found", "no route");
  };
}

const h = adminCliHarness<Wire>(federationHandler);

const run = h.run;

describe("signet federation create", () => {
  it("sends the three parameters (profile https_web by default) and prints the relationship", async () => {
    const r = await run("federation", "create", "--trust-domain", "peer.test", "--bundle-endpoint-url", "https://peer.test/bundle");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(h.server.requests[0]).toMatchObject({ method: "POST", path: "/admin/v1/federation" });
    expect(JSON.parse(h.server.requests[0]!.body)).toEqual({ trust_domain: "peer.test", bundle_endpoint_url: "https://peer.test/bundle", bundle_endpoint_profile: "https_web" });
    expect(r.stdout).toBe(
      [
        "Trust domain            : peer.test",
        "Bundle endpoint URL     : https://peer.test/bundle",
        "Bundle endpoint profile : https_web",
        "Bundle                  : current, sequence 3, 1 X.509 authority, 2 JWT authorities",
        "Last success            : 2030-03-17T17:46:40Z",
        "Next refresh            : 2030-03-17T17:51:40Z",
        "",
      ].join("\n"),
    );
  });

  it("a failed first fetch: created (exit 0), the relationship says so, a warning on stderr", async () => {
    const r = await run("federation", "create", "--trust-domain", "peer.test", "--bundle-endpoint-url", "https://down.test/", "--output", "json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ federation: { bundle_status: "missing" }, refresh: { outcome: "failed" } });
    expect(r.stderr).toBe("signet: warning: the bundle of peer.test was not fetched (failed: the bundle endpoint answered HTTP 500); the server keeps retrying\n");
  });

  it("an existing one: exit 1 with the server's problem", async () => {
    await run("federation", "create", "--trust-domain", "peer.test", "--bundle-endpoint-url", "https://peer.test/");
    const r = await run("federation", "create", "--trust-domain", "peer.test", "--bundle-endpoint-url", "https://peer.test/");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^signet: A federation relationship with that trust domain exists: .* \(code federation_exists, HTTP 409\)\n$/);
  });

  it.each([
    [["--bundle-endpoint-url", "https://p.test/"], "missing required flag --trust-domain"],
    [["--trust-domain", "peer.test"], "missing required flag --bundle-endpoint-url"],
    [["--trust-domain", "spiffe://peer.test/x", "--bundle-endpoint-url", "https://p.test/"], "is not a trust domain name"],
    [["--trust-domain", "Peer.test", "--bundle-endpoint-url", "https://p.test/"], "must be lowercase"],
    [["--trust-domain", "peer.test", "--bundle-endpoint-url", "https://p.test/", "--bundle-endpoint-profile", "https_spiffe"], "--bundle-endpoint-profile https_spiffe is not supported: Signet federates over https_web only"],
    [["--trust-domain", "peer.test", "--bundle-endpoint-url", "https://p.test/", "--bundle-endpoint-profile", "web"], "--bundle-endpoint-profile must be https_web"],
    [["--trust-domain", "peer.test", "--bundle-endpoint-url", "https://p.test/", "--output", "yaml"], "--output must be one of text, json"],
  ])("%j is a usage error (exit 2) before any request", async (flags, message) => {
    const r = await run("federation", "create", ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(h.server.requests).toEqual([]);
  });
});

describe("signet federation list|show|delete|refresh", () => {
  beforeEach(async () => {
    for (const td of ["b.test", "a.test", "c.test"]) await run("federation", "create", "--trust-domain", td, "--bundle-endpoint-url", `https://${td}/`);
    h.server.requests.length = 0;
  });

  it("list follows every page (3 requests for 3 relationships in pages of one)", async () => {
    const r = await run("federation", "list", "--output", "json");
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { federations: Wire[] }).federations.map((f) => f.trust_domain)).toEqual(["a.test", "b.test", "c.test"]);
    expect(h.server.requests.map((q) => q.path)).toEqual(["/admin/v1/federation?page_size=1000", "/admin/v1/federation?page_size=1000&page_token=a.test", "/admin/v1/federation?page_size=1000&page_token=b.test"]);
    const text = await run("federation", "list");
    expect(text.stdout.split("\n")[0]).toBe("Found 3 federation relationships");
  });

  it("show prints one (JSON with its bundle); an unknown one is exit 1 federation_not_found", async () => {
    const r = await run("federation", "show", "--trust-domain", "a.test", "--output", "json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ trust_domain: "a.test", trust_domain_bundle: { keys: [] } });
    const missing = await run("federation", "show", "--trust-domain", "zz.test");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("code federation_not_found, HTTP 404");
  });

  it("delete sends DELETE and says so; a second delete is exit 1", async () => {
    const r = await run("federation", "delete", "--trust-domain", "b.test");
    expect(r).toEqual({ code: 0, stdout: "Deleted federation relationship with b.test\n", stderr: "" });
    expect(h.server.requests[0]).toMatchObject({ method: "DELETE", path: "/admin/v1/federation/b.test" });
    expect((await run("federation", "delete", "--trust-domain", "b.test")).code).toBe(1);
  });

  it("refresh: a refused bundle is exit 1 with the reason; --force sends force and succeeds", async () => {
    const r = await run("federation", "refresh", "--trust-domain", "c.test");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Last error              : refused a rollback: spiffe_sequence 1 is below the stored 3");
    expect(r.stderr).toBe("signet: the bundle of c.test was not accepted (refused: refused a rollback: spiffe_sequence 1 is below the stored 3)\n");
    const forced = await run("federation", "refresh", "--trust-domain", "c.test", "--force");
    expect(forced.code).toBe(0);
    expect(JSON.parse(h.server.requests[1]!.body)).toEqual({ force: true });
  });
});
