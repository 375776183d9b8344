/**
 * Federation relationships through the admin API and the Registry object (issue 9): the registry
 * fetches each peer's bundle (played here by a stubbed fetch serving real Signet bundles from other
 * CA objects), keeps the last good one on failure (HTTP 500, garbage, oversize, timeout), refuses a
 * rollback, never writes one peer's bundle under another's name, and refreshes from its alarm.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CertificateAuthority } from "../../src/durable/ca";
import { openDb } from "../../src/durable/db";
import type { Registry } from "../../src/durable/registry";
import { refreshRelationship } from "../../src/durable/registry-federation";
import * as schema from "../../src/durable/tables/registry";
import migrations from "../../migrations/registry/migrations.js";
import { spiffeBundleDocument, type SpiffeBundleDocument } from "../../src/lib/spiffe/bundle";
import type { TrustDomain } from "../../src/lib/spiffe/id";
import { ADMIN_TOKEN, adminPost, call, problemOf } from "../support/worker-client";

const AUTH = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/** A real Signet bundle (its own CA object), with the given sequence. */
async function bundleOf(name: string, sequence?: number): Promise<SpiffeBundleDocument> {
  const ns = env.CA as DurableObjectNamespace<CertificateAuthority>;
  const b = await ns.get(ns.idFromName(`peer-ca:${name}`)).getTrustBundle();
  if (!b.ok) throw new Error(`the test CA ${name} is unavailable`);
  return spiffeBundleDocument(b.value.keys, sequence ?? b.value.sequence, 300);
}

type Answer = (init?: RequestInit) => Response | Promise<Response>;
const json = (doc: unknown, status = 200): Answer => () => new Response(JSON.stringify(doc), { status, headers: { "Content-Type": "application/json" } });

/** Peers by URL, answering what `routes[url]` says at the time of each request; records every URL asked for. */
function peers(routes: Record<string, Answer>) {
  const calls: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    calls.push(url);
    const answer = routes[url];
    return answer ? answer(init) : new Response("not found", { status: 404 });
  });
  return { calls, routes };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

async function create(td: string, url: string, profile = "https_web"): Promise<Response> {
  return adminPost("/admin/v1/federation", { trust_domain: td, bundle_endpoint_url: url, bundle_endpoint_profile: profile });
}

async function show(td: string): Promise<Record<string, unknown>> {
  const res = await call(`/admin/v1/federation/${td}`, { headers: AUTH });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function refresh(td: string, body?: unknown): Promise<{ federation: Record<string, unknown>; refresh: { outcome: string; detail?: string } }> {
  const res = body === undefined ? await call(`/admin/v1/federation/${td}/refresh`, { method: "POST", headers: AUTH }) : await adminPost(`/admin/v1/federation/${td}/refresh`, body);
  expect(res.status).toBe(200);
  return (await res.json()) as { federation: Record<string, unknown>; refresh: { outcome: string; detail?: string } };
}

function registryStub(name: string): DurableObjectStub<Registry> {
  const ns = env.REGISTRY as DurableObjectNamespace<Registry>;
  return ns.get(ns.idFromName(name));
}

describe("creating a relationship", () => {
  it("fetches the peer's bundle at once; show and federatedBundles return exactly the peer's keys", async () => {
    const doc = await bundleOf("good");
    const p = peers({ "https://good.test/bundle": json(doc) });
    const res = await create("good.test", "https://good.test/bundle");
    expect(res.status).toBe(201);
    const body = (await res.json()) as { federation: Record<string, unknown>; refresh: { outcome: string } };
    expect(body.refresh).toEqual({ outcome: "updated" });
    expect(body.federation).toMatchObject({ trust_domain: "good.test", bundle_endpoint_url: "https://good.test/bundle", bundle_endpoint_profile: "https_web", bundle_status: "current", spiffe_sequence: doc.spiffe_sequence, x509_authorities: 1, jwt_authorities: 2, last_error: null, consecutive_failures: 0 });
    expect(p.calls).toEqual(["https://good.test/bundle"]);
    expect((await show("good.test")).trust_domain_bundle).toEqual(doc);

    const registry = registryStub("registry:example.org");
    const got = await registry.federatedBundles({ trustDomains: ["good.test", "unknown.test", "good.test"] });
    expect(got).toEqual({ ok: true, value: { bundles: [{ trustDomain: "good.test", bundle: doc }] } });
  });

  it("is created even when the first fetch fails (HTTP 500): no bundle yet, the error recorded, a retry in 1 min", async () => {
    peers({ "https://down.test/bundle": json({ error: "boom" }, 500) });
    const before = Date.now();
    const res = await create("down.test", "https://down.test/bundle");
    expect(res.status).toBe(201);
    const body = (await res.json()) as { federation: Record<string, unknown>; refresh: { outcome: string; detail: string } };
    expect(body.refresh).toEqual({ outcome: "failed", detail: "the bundle endpoint answered HTTP 500" });
    expect(body.federation).toMatchObject({ bundle_status: "missing", spiffe_sequence: null, last_success_at: null, last_error: "the bundle endpoint answered HTTP 500", consecutive_failures: 1 });
    expect(body.federation.next_refresh_at).toBeGreaterThanOrEqual(Math.floor((before + 60_000) / 1000));
    expect(body.federation.trust_domain_bundle).toBeUndefined();
    expect(await registryStub("registry:example.org").federatedBundles({ trustDomains: ["down.test"] })).toEqual({ ok: true, value: { bundles: [] } });
  });

  it.each([
    ["our own trust domain", { trust_domain: "example.org", bundle_endpoint_url: "https://x.test/", bundle_endpoint_profile: "https_web" }, 400, "invalid_trust_domain", /own trust domain/],
    ["a trust domain with uppercase", { trust_domain: "Peer.test", bundle_endpoint_url: "https://x.test/", bundle_endpoint_profile: "https_web" }, 400, "invalid_trust_domain", /lowercase/],
    ["a SPIFFE ID for a trust domain", { trust_domain: "spiffe://peer.test/x", bundle_endpoint_url: "https://x.test/", bundle_endpoint_profile: "https_web" }, 400, "invalid_trust_domain", /trust domain/],
    ["https_spiffe", { trust_domain: "peer.test", bundle_endpoint_url: "https://x.test/", bundle_endpoint_profile: "https_spiffe" }, 400, "unsupported_bundle_endpoint_profile", /https_spiffe profile is not supported/],
    ["another profile", { trust_domain: "peer.test", bundle_endpoint_url: "https://x.test/", bundle_endpoint_profile: "web" }, 400, "unsupported_bundle_endpoint_profile", /https_web/],
    ["an ftp URL", { trust_domain: "peer.test", bundle_endpoint_url: "ftp://x.test/", bundle_endpoint_profile: "https_web" }, 400, "invalid_bundle_endpoint_url", /https/],
    ["a URL with userinfo", { trust_domain: "peer.test", bundle_endpoint_url: "https://u:p@x.test/", bundle_endpoint_profile: "https_web" }, 400, "invalid_bundle_endpoint_url", /userinfo/],
    ["no profile", { trust_domain: "peer.test", bundle_endpoint_url: "https://x.test/" }, 400, "invalid_request", /bundle_endpoint_profile/],
    ["an unknown field", { trust_domain: "peer.test", bundle_endpoint_url: "https://x.test/", bundle_endpoint_profile: "https_web", endpoint_spiffe_id: "x" }, 400, "unknown_field", /endpoint_spiffe_id/],
  ])("refuses %s", async (_name, body, status, code, detail) => {
    const p = peers({});
    const res = await adminPost("/admin/v1/federation", body);
    expect(res.status).toBe(status);
    const problem = await problemOf(res);
    expect(problem.code).toBe(code);
    expect(problem.detail).toMatch(detail);
    expect(p.calls).toEqual([]);
  });

  it("a second relationship with the same trust domain is federation_exists; no admin token is 401", async () => {
    peers({ "https://dup.test/": json(await bundleOf("dup")) });
    expect((await create("dup.test", "https://dup.test/")).status).toBe(201);
    const again = await create("dup.test", "https://elsewhere.test/");
    expect(again.status).toBe(409);
    expect(await problemOf(again)).toMatchObject({ code: "federation_exists" });
    expect((await show("dup.test")).bundle_endpoint_url).toBe("https://dup.test/");
    const anonymous = await call("/admin/v1/federation", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(anonymous.status).toBe(401);
  });
});

describe("refreshing", () => {
  it("keeps the last good bundle through garbage, HTTP 500, an oversized body and a private key, and says why each time", async () => {
    const doc = await bundleOf("flaky", 5);
    const p = peers({ "https://flaky.test/b": json(doc) });
    expect((await create("flaky.test", "https://flaky.test/b")).status).toBe(201);
    const withPrivate = { ...doc, keys: doc.keys.map((k, i) => (i === 1 ? { ...k, d: "AAAA" } : k)) };
    const answers: [Answer, RegExp][] = [
      [() => new Response("<html>maintenance</html>"), /invalid bundle: the document is not JSON/],
      [json({ keys: "none" }), /invalid bundle: keys must be an array/],
      [json(withPrivate), /private key member 'd'/],
      [json({}, 500), /HTTP 500/],
      [json({}, 404), /HTTP 404/],
      [() => new Response(`{"keys":[],"pad":"${"x".repeat(300_000)}"}`), /larger than 262144 bytes/],
      [() => new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(65_536)) })), /larger than 262144 bytes/],
      [() => Promise.reject(new TypeError("connection refused")), /could not be reached \(TypeError\)/],
    ];
    for (const [i, [answer, why]] of answers.entries()) {
      p.routes["https://flaky.test/b"] = answer;
      const r = await refresh("flaky.test");
      expect(r.refresh.outcome).toBe("failed");
      expect(r.refresh.detail).toMatch(why);
      expect(r.federation).toMatchObject({ bundle_status: "stale", spiffe_sequence: 5, consecutive_failures: i + 1, trust_domain_bundle: doc });
      expect(r.federation.last_error).toMatch(why);
    }
    expect(answers.length).toBe(8);
    p.routes["https://flaky.test/b"] = json(doc);
    const back = await refresh("flaky.test");
    expect(back.refresh).toEqual({ outcome: "unchanged" });
    expect(back.federation).toMatchObject({ bundle_status: "current", last_error: null, consecutive_failures: 0 });
  });

  it("refuses a lower spiffe_sequence (rollback) and the same sequence with other keys; force accepts; a higher one is taken", async () => {
    const v7 = await bundleOf("roll", 7);
    const other = await bundleOf("roll-other", 7);
    const p = peers({ "https://roll.test/": json(v7) });
    await create("roll.test", "https://roll.test/");
    p.routes["https://roll.test/"] = json({ ...other, spiffe_sequence: 6 });
    const rollback = await refresh("roll.test");
    expect(rollback.refresh).toEqual({ outcome: "refused", detail: "refused a rollback: spiffe_sequence 6 is below the stored 7" });
    expect(rollback.federation).toMatchObject({ bundle_status: "stale", spiffe_sequence: 7, trust_domain_bundle: v7 });

    p.routes["https://roll.test/"] = json(other);
    const conflict = await refresh("roll.test");
    expect(conflict.refresh.outcome).toBe("refused");
    expect(conflict.refresh.detail).toMatch(/spiffe_sequence 7 is unchanged but the keys differ/);
    expect(conflict.federation.trust_domain_bundle).toEqual(v7);

    p.routes["https://roll.test/"] = json({ ...other, spiffe_sequence: 2 });
    const forced = await refresh("roll.test", { force: true });
    expect(forced.refresh).toEqual({ outcome: "updated" });
    expect(forced.federation).toMatchObject({ spiffe_sequence: 2, trust_domain_bundle: { ...other, spiffe_sequence: 2 } });

    p.routes["https://roll.test/"] = json({ ...v7, spiffe_sequence: 3 });
    expect((await refresh("roll.test")).refresh).toEqual({ outcome: "updated" });
    expect((await show("roll.test")).trust_domain_bundle).toEqual({ ...v7, spiffe_sequence: 3 });
  });

  it("one peer's bundle never replaces another's: refreshing A while A's endpoint serves B's document leaves B's row alone", async () => {
    const a = await bundleOf("iso-a", 1);
    const b = await bundleOf("iso-b", 1);
    const p = peers({ "https://a.iso.test/": json(a), "https://b.iso.test/": json(b) });
    await create("a.iso.test", "https://a.iso.test/");
    await create("b.iso.test", "https://b.iso.test/");
    p.routes["https://a.iso.test/"] = json({ ...b, spiffe_sequence: 9 });
    p.routes["https://b.iso.test/"] = json({ keys: "garbage" });
    expect((await refresh("a.iso.test")).refresh.outcome).toBe("updated");
    expect((await refresh("b.iso.test")).refresh.outcome).toBe("failed");
    const got = await registryStub("registry:example.org").federatedBundles({ trustDomains: ["b.iso.test", "a.iso.test"] });
    expect(got).toEqual({ ok: true, value: { bundles: [{ trustDomain: "a.iso.test", bundle: { ...b, spiffe_sequence: 9 } }, { trustDomain: "b.iso.test", bundle: b }] } });
  });

  it("a fetch still under way when its relationship is deleted and re-created writes nothing into the new one", async () => {
    const old = await bundleOf("race-old", 4);
    const fresh = await bundleOf("race-new", 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const p = peers({ "https://race.test/old": json(old), "https://race.test/new": json(fresh) });
    await create("race.test", "https://race.test/old");
    p.routes["https://race.test/old"] = async () => {
      await gate;
      return json({ ...old, spiffe_sequence: 40 })();
    };
    const pending = refresh("race.test");
    await vi.waitFor(() => expect(p.calls.filter((u) => u.endsWith("/old")).length).toBe(2));
    expect((await call("/admin/v1/federation/race.test", { method: "DELETE", headers: AUTH })).status).toBe(200);
    expect((await create("race.test", "https://race.test/new")).status).toBe(201);
    release();
    expect((await pending).refresh).toEqual({ outcome: "failed", detail: "the relationship was deleted during the fetch" });
    expect((await show("race.test")).trust_domain_bundle).toEqual(fresh);
  });

  it("a peer that does not answer times out (and the stored bundle stays)", async () => {
    const doc = await bundleOf("slow", 1);
    peers({ "https://slow.test/": json(doc) });
    const stub = registryStub("fed-timeout");
    expect((await stub.createFederation({ trustDomain: "slow.test", bundleEndpointUrl: "https://slow.test/", profile: "https_web", now: Date.now() })).ok).toBe(true);
    const hang = (_url: string, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason as Error)));
    await runInDurableObject(stub, async (_instance, state) => {
      const deps = { db: openDb(state, schema, migrations), fetch: hang, ownTrustDomain: "example.org" as TrustDomain, allowHttp: true, timeoutMs: 50 };
      const r = await refreshRelationship(deps, "slow.test", { now: Date.now });
      expect(r.ok && r.value).toMatchObject({ outcome: "failed", detail: "no answer within 0.05 s", relationship: { bundle: doc, status: { consecutiveFailures: 1 } } });
    });
  });

  it("follows a redirect to another https URL without storing it; refuses one to a non-http(s) URL", async () => {
    const doc = await bundleOf("moved", 2);
    const p = peers({
      "https://moved.test/": () => new Response(null, { status: 302, headers: { Location: "/v2/bundle" } }),
      "https://moved.test/v2/bundle": json(doc),
    });
    expect((await create("moved.test", "https://moved.test/")).status).toBe(201);
    expect(p.calls).toEqual(["https://moved.test/", "https://moved.test/v2/bundle"]);
    expect(await show("moved.test")).toMatchObject({ bundle_endpoint_url: "https://moved.test/", trust_domain_bundle: doc });
    p.routes["https://moved.test/"] = () => new Response(null, { status: 307, headers: { Location: "ftp://moved.test/bundle" } });
    const r = await refresh("moved.test");
    expect(r.refresh.outcome).toBe("failed");
    expect(r.refresh.detail).toMatch(/redirected to a URL the https_web profile does not allow/);
  });
});

describe("the alarm", () => {
  it("is armed for the earliest next refresh, refreshes what is due (honouring the peer's refresh hint) and re-arms", async () => {
    const v1 = { ...(await bundleOf("alarm", 1)), spiffe_refresh_hint: 120 };
    const p = peers({ "https://alarm.test/": json(v1) });
    const stub = registryStub("fed-alarm");
    const start = Date.now();
    const created = await stub.createFederation({ trustDomain: "alarm.test", bundleEndpointUrl: "https://alarm.test/", profile: "https_web", now: start });
    expect(created.ok && created.value.outcome).toBe("updated");
    const next = created.ok ? created.value.relationship.status.nextRefreshAt : 0;
    expect(next).toBeGreaterThanOrEqual(start + 120_000);
    expect(next).toBeLessThan(Date.now() + 121_000);
    await runInDurableObject(stub, async (_i, state) => expect(await state.storage.getAlarm()).toBe(next));

    // Not yet due: the alarm fetches nothing.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(p.calls.length).toBe(1);

    const v2 = { ...v1, spiffe_sequence: 2 };
    p.routes["https://alarm.test/"] = json(v2);
    await runInDurableObject(stub, async (_i, state) => {
      state.storage.sql.exec("UPDATE federation_relationships SET next_refresh_at = ?", Date.now() - 1);
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(p.calls.length).toBe(2);
    const after = await stub.getFederation({ trustDomain: "alarm.test" });
    expect(after.ok && after.value).toMatchObject({ bundle: v2, status: { sequence: 2, lastError: undefined } });
    const rearmed = after.ok ? after.value.status.nextRefreshAt : 0;
    await runInDurableObject(stub, async (_i, state) => expect(await state.storage.getAlarm()).toBe(rearmed));
  });
});

describe("listing, showing and deleting", () => {
  it("lists in trust-domain order in pages; delete removes the relationship and its bundle; unknown ones are federation_not_found", async () => {
    const doc = await bundleOf("list");
    peers({ "https://list.test/": json(doc) });
    const stub = registryStub("fed-list");
    for (const td of ["c.list.test", "a.list.test", "b.list.test"]) {
      expect((await stub.createFederation({ trustDomain: td, bundleEndpointUrl: "https://list.test/", profile: "https_web", now: Date.now() })).ok).toBe(true);
    }
    const first = await stub.listFederations({ pageSize: 2 });
    expect(first.ok && first.value.relationships.map((r) => r.trustDomain)).toEqual(["a.list.test", "b.list.test"]);
    expect(first.ok && first.value.relationships[0]!.bundle).toBeUndefined();
    const second = await stub.listFederations({ pageSize: 2, pageToken: first.ok ? first.value.nextPageToken : "" });
    expect(second.ok && second.value).toEqual({ relationships: [expect.objectContaining({ trustDomain: "c.list.test" })], nextPageToken: undefined });
    expect(await stub.listFederations({ pageToken: "Not A Token" })).toMatchObject({ ok: false, error: { reason: "invalid_page_token" } });

    expect(await stub.deleteFederation({ trustDomain: "b.list.test" })).toEqual({ ok: true, value: { trustDomain: "b.list.test" } });
    expect(await stub.deleteFederation({ trustDomain: "b.list.test" })).toMatchObject({ ok: false, error: { reason: "federation_not_found" } });
    const bundles = await stub.federatedBundles({ trustDomains: ["a.list.test", "b.list.test", "c.list.test"] });
    expect(bundles.ok && bundles.value.bundles.map((b) => b.trustDomain)).toEqual(["a.list.test", "c.list.test"]);
  });

  it("over HTTP: list with page_size and page_token, show, delete, and the problems for unknown ones", async () => {
    peers({ "https://h.test/": json(await bundleOf("http-list")) });
    for (const td of ["h1.test", "h2.test"]) expect((await create(td, "https://h.test/")).status).toBe(201);
    const page = await call("/admin/v1/federation?page_size=1", { headers: AUTH });
    expect(page.status).toBe(200);
    const body = (await page.json()) as { federations: { trust_domain: string; trust_domain_bundle?: unknown }[]; next_page_token: string | null };
    expect(body.federations.length).toBe(1);
    expect(body.federations[0]!.trust_domain_bundle).toBeUndefined();
    expect(typeof body.next_page_token).toBe("string");
    const bad = await call("/admin/v1/federation?page_size=0", { headers: AUTH });
    expect(await problemOf(bad)).toMatchObject({ code: "invalid_request" });
    const unknownQuery = await call("/admin/v1/federation?trust_domain=x", { headers: AUTH });
    expect(await problemOf(unknownQuery)).toMatchObject({ code: "unknown_field" });

    const del = await call("/admin/v1/federation/h1.test", { method: "DELETE", headers: AUTH });
    expect(await del.json()).toEqual({ trust_domain: "h1.test", status: "deleted" });
    for (const [method, path] of [["GET", "/admin/v1/federation/h1.test"], ["DELETE", "/admin/v1/federation/h1.test"], ["POST", "/admin/v1/federation/h1.test/refresh"]] as const) {
      const res = await call(path, { method, headers: AUTH });
      expect(res.status).toBe(404);
      expect(await problemOf(res)).toMatchObject({ code: "federation_not_found" });
    }
  });
});
