import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/lib/clock";
import { ok, err } from "../../src/lib/result";
import { backoffAfter, CollateralFetcher, parseRetryAfter, type BackoffState, type CollateralItem, type CollateralRequest } from "../../src/lib/attestation/collateral/fetcher";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

function memoryStore() {
  const items = new Map<string, CollateralItem>();
  const backoff = new Map<string, BackoffState>();
  return {
    items,
    backoff,
    getItem: (k: string) => items.get(k),
    putItem: (k: string, v: CollateralItem) => void items.set(k, v),
    deleteItem: (k: string) => void items.delete(k),
    getBackoff: (k: string) => backoff.get(k),
    putBackoff: (k: string, v: BackoffState | undefined) => void (v ? backoff.set(k, v) : backoff.delete(k)),
  };
}

function fakeFetch(responses: (() => Response)[]) {
  const calls: string[] = [];
  const fn = async (url: string) => {
    calls.push(url);
    const next = responses.shift();
    if (!next) throw new Error("network down");
    return next();
  };
  return { fn, calls };
}

const request = (expiresAt: number, key = "k") => ({
  key,
  url: "https://kds.example/vcek",
  keepHeaders: ["X-Chain"],
  verify: async (body: Uint8Array) => (body.length > 0 ? ok({ key, expiresAt }) : err("empty")),
});

describe("CollateralFetcher", () => {
  it("fetches once, then serves from the store until the refresh margin", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const f = fakeFetch([() => new Response("abc", { headers: { "X-Chain": "pem" } })]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    const a = await fetcher.get(request(T0 + 30 * DAY));
    expect(a.ok && new TextDecoder().decode(a.value.body)).toBe("abc");
    expect(a.ok && a.value.headers).toEqual({ "x-chain": "pem" });
    clock.advance(28 * DAY);
    expect((await fetcher.get(request(T0 + 30 * DAY))).ok).toBe(true);
    expect(f.calls).toHaveLength(1);
  });

  it("refreshes inside the margin, and serves the still-valid item when the refresh fails", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const f = fakeFetch([() => new Response("v1"), () => new Response("", { status: 500 })]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    await fetcher.get(request(T0 + 30 * DAY));
    clock.set(T0 + 29.5 * DAY);
    const r = await fetcher.get(request(T0 + 60 * DAY));
    expect(r.ok && new TextDecoder().decode(r.value.body)).toBe("v1");
    expect(f.calls).toHaveLength(2);
    expect(store.backoff.get("k")).toMatchObject({ failures: 1 });
  });

  it("backs off after failures: no request inside the window, Retry-After honoured", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const f = fakeFetch([() => new Response("", { status: 429, headers: { "Retry-After": "600" } }), () => new Response("ok")]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    const first = await fetcher.get(request(T0 + DAY));
    expect(first.ok || first.error.reason).toBe("collateral_unavailable");
    clock.advance(5 * 60_000);
    const second = await fetcher.get(request(T0 + DAY));
    expect(second.ok).toBe(false);
    expect(f.calls).toHaveLength(1);
    clock.advance(6 * 60_000);
    expect((await fetcher.get(request(T0 + DAY))).ok).toBe(true);
    expect(f.calls).toHaveLength(2);
    expect(store.backoff.has("k")).toBe(false);
  });

  it("shares one request among concurrent callers", async () => {
    const clock = new ManualClock(T0);
    const f = fakeFetch([() => new Response("x")]);
    const fetcher = new CollateralFetcher({ store: memoryStore(), fetch: f.fn, clock });
    const results = await Promise.all(Array.from({ length: 10 }, () => fetcher.get(request(T0 + DAY))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(f.calls).toHaveLength(1);
  });

  it.each([
    ["a body that does not verify", () => new Response(""), "invalid response"],
    ["expired collateral", () => new Response("x"), "expired"],
    ["an oversized body", () => new Response("x".repeat(2000)), "larger"],
    ["a network error", undefined, "request failed"],
  ])("rejects %s and stores nothing", async (_name, response, detail) => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const f = fakeFetch(response ? [response] : []);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock, maxBytes: 1000 });
    const r = await fetcher.get(request(detail === "expired" ? T0 - 1 : T0 + DAY));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.detail).toContain(detail);
    expect(store.items.size).toBe(0);
  });

  it("back-off doubles from 1 minute to a 1 hour cap", () => {
    expect([1, 2, 3, 7, 8, 20].map((n) => backoffAfter(n, 0).nextAttemptAt / 60_000)).toEqual([1, 2, 4, 60, 60, 60]);
    expect(backoffAfter(1, 0, 10_000).nextAttemptAt).toBe(60_000);
    expect(parseRetryAfter("120", 0)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:10:00 GMT", T0)).toBe(600_000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });
});

describe("CollateralFetcher freshness and limits", () => {
  const versioned = (expiresAt: number, maxAgeMs?: number) => ({
    key: "crl",
    url: "https://kds.example/crl",
    verify: async (body: Uint8Array) => ok({ key: "crl", expiresAt, issuedAt: Number(new TextDecoder().decode(body)) }),
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
  });

  it("refreshes after maxAgeMs even far from expiry (revocations must not wait for nextUpdate)", async () => {
    const clock = new ManualClock(T0);
    const f = fakeFetch([() => new Response("1"), () => new Response("2")]);
    const fetcher = new CollateralFetcher({ store: memoryStore(), fetch: f.fn, clock });
    await fetcher.get(versioned(T0 + 365 * DAY, DAY));
    clock.advance(DAY / 2);
    await fetcher.get(versioned(T0 + 365 * DAY, DAY));
    expect(f.calls).toHaveLength(1);
    clock.advance(DAY);
    const r = await fetcher.get(versioned(T0 + 365 * DAY, DAY));
    expect(r.ok && new TextDecoder().decode(r.value.body)).toBe("2");
    expect(f.calls).toHaveLength(2);
  });

  it("never rolls back to an older document than the one it holds", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const f = fakeFetch([() => new Response("5"), () => new Response("3")]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    await fetcher.get(versioned(T0 + 365 * DAY, DAY));
    clock.advance(2 * DAY);
    const r = await fetcher.get(versioned(T0 + 365 * DAY, DAY));
    expect(r.ok && new TextDecoder().decode(r.value.body)).toBe("5");
    expect(new TextDecoder().decode(store.items.get("crl")!.body)).toBe("5");
    expect(store.items.get("crl")!.fetchedAt).toBe(T0 + 2 * DAY);
  });

  it("stops reading a body past maxBytes even without a Content-Length", async () => {
    const clock = new ManualClock(T0);
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
        if (pulled > 10_000) controller.close();
      },
    });
    const f = fakeFetch([() => new Response(stream)]);
    const fetcher = new CollateralFetcher({ store: memoryStore(), fetch: f.fn, clock, maxBytes: 256 * 1024 });
    const r = await fetcher.get(request(T0 + DAY));
    expect(r.ok).toBe(false);
    expect(pulled).toBeLessThan(20);
  });
});

describe("host-wide pause", () => {
  it("a 429 for one key pauses requests for every key of that service", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const f = fakeFetch([() => new Response("", { status: 429, headers: { "Retry-After": "300" } }), () => new Response("x")]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    await fetcher.get(request(T0 + DAY, "chip-a"));
    const other = await fetcher.get(request(T0 + DAY, "chip-b"));
    expect(other.ok || other.error.detail).toContain("host:kds.example");
    expect(f.calls).toHaveLength(1);
    clock.advance(301_000);
    expect((await fetcher.get(request(T0 + DAY, "chip-b"))).ok).toBe(true);
    expect(store.backoff.has("host:kds.example")).toBe(false);
  });
});

describe("only verified items are stored, served and compared", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const bytes = (s: string) => new TextEncoder().encode(s);
  /** Bodies are issue times; "forged" ones (a trailing "!") do not verify. */
  function signedRequest(expiresAt: number) {
    let verifications = 0;
    const req: CollateralRequest = {
      key: "doc",
      url: "https://pcs.example/doc",
      verify: async (body) => {
        verifications++;
        const t = text(body);
        return t.endsWith("!") ? err("signature does not verify") : ok({ key: "doc", expiresAt, issuedAt: Number(t) });
      },
    };
    return { req, verifications: () => verifications };
  }
  const stored = (body: string, expiresAt: number): CollateralItem => ({ body: bytes(body), headers: {}, fetchedAt: T0 - DAY, expiresAt, source: "fetched" });

  it("an answer that verifies as another item's is not stored under the key asked for, and opens the back-off window", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const f = fakeFetch([() => new Response("x")]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    const r = await fetcher.get({ ...request(T0 + DAY), verify: async () => ok({ key: "other", expiresAt: T0 + DAY }) });
    expect(r.ok || r.error).toMatchObject({ reason: "collateral_unavailable", detail: expect.stringContaining("it is for other, not k") });
    expect(store.items.size).toBe(0);
    expect(store.backoff.get("k")).toMatchObject({ failures: 1 });
  });

  it("a stored item that does not verify (an older version's row) is deleted, not served, and does not block an answer issued before it", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    store.items.set("doc", stored("9!", T0 + 365 * DAY));
    const f = fakeFetch([() => new Response("5")]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    const r = await fetcher.get(signedRequest(T0 + 30 * DAY).req);
    expect(r.ok && text(r.value.body)).toBe("5");
    expect(text(store.items.get("doc")!.body)).toBe("5");
    expect(store.items.get("doc")!.expiresAt).toBe(T0 + 30 * DAY);
    expect(f.calls).toHaveLength(1);
  });

  it("a stored item that verifies is served until its own verified expiry, not the one its row claims", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    store.items.set("doc", stored("5", T0 + 365 * DAY));
    const f = fakeFetch([]);
    const fetcher = new CollateralFetcher({ store, fetch: f.fn, clock });
    const r = await fetcher.get(signedRequest(T0 + 30 * DAY).req);
    expect(r.ok && r.value.expiresAt).toBe(T0 + 30 * DAY);
    expect(f.calls).toHaveLength(0);
  });

  it("verifies a stored item once per instance, and again when its bytes change", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    store.items.set("doc", stored("5", T0 + 30 * DAY));
    const { req, verifications } = signedRequest(T0 + 30 * DAY);
    const fetcher = new CollateralFetcher({ store, fetch: fakeFetch([]).fn, clock });
    for (let i = 0; i < 3; i++) expect((await fetcher.get(req)).ok).toBe(true);
    expect(verifications()).toBe(1);
    store.items.set("doc", stored("6!", T0 + 30 * DAY));
    expect(await fetcher.get(req)).toMatchObject({ ok: false, error: { reason: "collateral_unavailable" } });
    expect(verifications()).toBe(2);
    expect(store.items.has("doc")).toBe(false);
  });

  it.each([
    ["one that does not verify", "7!", T0 + 30 * DAY, "signature does not verify"],
    ["an expired one", "7", T0 - 1, "expired"],
    ["one older than the verified stored item", "3", T0 + 30 * DAY, "older than the one already stored"],
  ])("admit (uploads) refuses %s, and stores nothing itself", async (_name, body, expiresAt, detail) => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    store.items.set("doc", stored("5", T0 + 30 * DAY));
    const fetcher = new CollateralFetcher({ store, fetch: fakeFetch([]).fn, clock });
    expect(await fetcher.admit(signedRequest(expiresAt).req.verify, bytes(body), {})).toMatchObject({ ok: false, error: expect.stringContaining(detail) });
    expect(text(store.items.get("doc")!.body)).toBe("5");
  });

  it("admit accepts an upload newer than the stored item, or older than a stored item that does not verify", async () => {
    const clock = new ManualClock(T0);
    const store = memoryStore();
    const fetcher = new CollateralFetcher({ store, fetch: fakeFetch([]).fn, clock });
    const { verify } = signedRequest(T0 + 30 * DAY).req;
    store.items.set("doc", stored("5", T0 + 30 * DAY));
    expect(await fetcher.admit(verify, bytes("6"), {})).toMatchObject({ ok: true, value: { key: "doc", item: { source: "uploaded", expiresAt: T0 + 30 * DAY } } });
    store.items.set("doc", stored("9!", T0 + 365 * DAY));
    expect(await fetcher.admit(verify, bytes("6"), {})).toMatchObject({ ok: true, value: { key: "doc" } });
  });
});
