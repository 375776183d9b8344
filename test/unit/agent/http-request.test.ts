/**
 * src/node/http-request.ts against real local `node:http` servers: status and headers, the request
 * as sent, no redirects, pooled connections (reused, a stale one replaced), the body bound (declared
 * and streamed), a body that breaks off, the deadline and the abort signal, connection refused; and
 * AgentServerClient on it (Date offset, problems, the bound, timeouts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/lib/clock";
import { generateSvidKey } from "../../../src/agent/csr";
import { AgentServerClient } from "../../../src/agent/server-client";
import { createHttpTransport, type HttpRequest, type NodeHttpTransport } from "../../../src/node/http-request";

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

const servers: Server[] = [];
async function serve(handler: Handler): Promise<{ url: URL; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks)));
  });
  server.on("connection", () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`), connections: () => connections };
}

const transports: NodeHttpTransport[] = [];
function transport(options?: { idleMs?: number }): NodeHttpTransport {
  const t = createHttpTransport(options);
  transports.push(t);
  return t;
}

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(resolve));
    }),
  );
});

const get = (url: URL, more: Partial<HttpRequest> = {}): HttpRequest => ({ method: "GET", url, headers: {}, timeoutMs: 2000, maxBodyBytes: 1024, ...more });
const text = (body: Uint8Array | string) => (typeof body === "string" ? body : new TextDecoder().decode(body));

describe("the node:http transport", () => {
  it("sends method, headers and body bytes with a Content-Length, and returns status, headers (any case) and the body", async () => {
    let seen: { method?: string; url?: string; headers: IncomingMessage["headers"]; body: string } | undefined;
    const { url } = await serve((req, res, body) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body: body.toString() };
      res.writeHead(201, [
        ["Content-Type", "application/json"],
        ["X-Twice", "a"],
        ["X-Twice", "b"],
      ]);
      res.end('{"ok":true}');
    });
    const r = await transport()({ method: "POST", url: new URL("/agent/v1/entries/sync?x=1", url), headers: { "Signet-Agent-Proof": "p.q.r", "Content-Type": "application/json" }, body: new TextEncoder().encode('{"a":1}'), timeoutMs: 2000, maxBodyBytes: 1024 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.status).toBe(201);
    expect(r.value.header("content-type")).toBe("application/json");
    expect(r.value.header("CONTENT-TYPE")).toBe("application/json");
    expect(r.value.header("x-twice")).toBe("a, b");
    expect(r.value.header("x-none")).toBeUndefined();
    expect(text(r.value.body as Uint8Array)).toBe('{"ok":true}');
    expect(seen).toMatchObject({ method: "POST", url: "/agent/v1/entries/sync?x=1", body: '{"a":1}', headers: { "content-length": "7", "signet-agent-proof": "p.q.r" } });
  });

  it("does not follow redirects", async () => {
    let hits = 0;
    const { url } = await serve((_req, res) => {
      hits++;
      res.writeHead(302, { Location: "/elsewhere" }).end();
    });
    const r = await transport()(get(url));
    expect(r).toMatchObject({ ok: true, value: { status: 302 } });
    if (r.ok) expect(r.value.header("location")).toBe("/elsewhere");
    expect(hits).toBe(1);
  });

  it("reuses one kept-alive connection, even past the idle timeout while a request is in flight", async () => {
    const { url, connections } = await serve((req, res) => setTimeout(() => res.end("x"), req.url === "/slow" ? 300 : 0));
    const t = transport({ idleMs: 100 });
    for (const path of ["/a", "/slow", "/b", "/c"]) expect(await t(get(new URL(path, url)))).toMatchObject({ ok: true, value: { status: 200 } });
    expect(connections()).toBe(1);
  });

  it("a pooled connection the server dropped while idle is replaced once, without an error", async () => {
    const sockets = new Set<Socket>();
    const { url, connections } = await serve((req, res) => {
      // The second request on a connection finds it dropped (as when a server's idle timeout fires as it arrives).
      if (sockets.has(req.socket)) return req.socket.destroy();
      sockets.add(req.socket);
      res.end("fresh");
    });
    const t = transport();
    expect(await t(get(url))).toMatchObject({ ok: true });
    const again = await t(get(url));
    expect(again).toMatchObject({ ok: true, value: { status: 200 } });
    expect(connections()).toBe(2);
  });

  it.each([
    ["a declared Content-Length over the bound", (res: ServerResponse) => res.writeHead(200, { "Content-Length": "2048" }).end(Buffer.alloc(2048))],
    ["a streamed body over the bound", (res: ServerResponse) => res.end(Buffer.alloc(1025))],
    ["an endless stream", (res: ServerResponse) => void setInterval(() => res.write(Buffer.alloc(512)), 1).unref()],
  ])("%s reads as too_large, and the connection is dropped", async (_name, answer) => {
    const { url, connections } = await serve((_req, res) => answer(res));
    const t = transport();
    expect(await t(get(url))).toMatchObject({ ok: true, value: { status: 200, body: "too_large" } });
    expect(connections()).toBe(1);
    await t(get(url));
    expect(connections()).toBe(2);
  });

  it("a body exactly at the bound is read whole", async () => {
    const { url } = await serve((_req, res) => res.end(Buffer.alloc(1024, 7)));
    const r = await transport()(get(url));
    expect(r.ok && r.value.body instanceof Uint8Array && r.value.body.length === 1024 && r.value.body[1023] === 7).toBe(true);
  });

  it("a body that breaks off is broken, not short", async () => {
    const { url } = await serve((req, res) => {
      res.writeHead(200, { "Content-Length": "100" });
      res.write("only ten..");
      setTimeout(() => req.socket.destroy(), 20);
    });
    expect(await transport()(get(url))).toMatchObject({ ok: true, value: { status: 200, body: "broken" } });
  });

  it("times out before the answer (no answer) and during the body (broken)", async () => {
    const { url } = await serve((req, res) => {
      if (req.url === "/body") {
        res.writeHead(200, { "Content-Length": "10" });
        res.write("12345");
      }
    });
    const t = transport();
    const started = Date.now();
    expect(await t(get(url, { timeoutMs: 150 }))).toEqual({ ok: false, error: { code: "timed out" } });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await t(get(new URL("/body", url), { timeoutMs: 150 }))).toMatchObject({ ok: true, value: { status: 200, body: "broken" } });
  });

  it("an abort ends the exchange at once; an aborted signal sends nothing", async () => {
    let hits = 0;
    const { url } = await serve(() => hits++);
    const t = transport();
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    expect(await t(get(url, { signal: stop.signal, timeoutMs: 10_000 }))).toEqual({ ok: false, error: { code: "aborted" } });
    expect(await t(get(url, { signal: AbortSignal.abort() }))).toEqual({ ok: false, error: { code: "aborted" } });
    expect(hits).toBe(1);
  });

  it("connection refused, a bad header and another scheme are codes, not throws", async () => {
    const { url } = await serve(() => undefined);
    servers[0]!.close();
    await new Promise((r) => setTimeout(r, 10));
    const t = transport();
    expect(await t(get(url))).toEqual({ ok: false, error: { code: "ECONNREFUSED" } });
    expect(await t(get(url, { headers: { "X-Bad": "a\r\nb" } }))).toEqual({ ok: false, error: { code: "ERR_INVALID_CHAR" } });
    expect(await t(get(new URL("ftp://127.0.0.1/")))).toEqual({ ok: false, error: { code: "unsupported protocol ftp:" } });
  });
});

describe("AgentServerClient on the default transport", () => {
  const clock = new ManualClock(Date.now());
  let key: CryptoKey;

  async function client(url: URL, timeoutMs = 2000, onSkew?: (o: number) => void): Promise<AgentServerClient> {
    key ??= (await generateSvidKey(false)).privateKey;
    const c = new AgentServerClient({ server: url, clock, timeoutMs, ...(onSkew ? { onSkew } : {}) });
    c.setCredential({ key, alg: "ES256", svid: new Uint8Array([0x30, 0]) });
    return c;
  }
  const page = JSON.stringify({ full: true, entries: [], removed: [], next_page_token: null, cursor: "c1" });

  it("syncs with the proof header, learns the server's clock from Date, and reports a skew once", async () => {
    const proofs: string[] = [];
    const { url } = await serve((req, res) => {
      proofs.push(String(req.headers["signet-agent-proof"]));
      res.writeHead(200, { "Content-Type": "application/json", Date: new Date(clock.now() + 600_000).toUTCString() }).end(page);
    });
    const skews: number[] = [];
    const c = await client(url, 2000, (o) => skews.push(o));
    expect(await c.syncEntries({})).toMatchObject({ ok: true, value: { full: true, cursor: "c1" } });
    expect(await c.syncEntries({ cursor: "c1" })).toMatchObject({ ok: true });
    expect(proofs).toHaveLength(2);
    expect(proofs[0]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(skews).toHaveLength(1);
    expect(Math.abs(c.serverNow() - clock.now() - 600_000)).toBeLessThanOrEqual(1000);
  });

  it.each([
    ["a problem", (res: ServerResponse) => res.writeHead(401, { "Content-Type": "application/problem+json" }).end(JSON.stringify({ code: "agent_banned", detail: "This agent\nis banned." })), "refused", /^HTTP 401 agent_banned: This agent is banned\.$/],
    ["a redirect", (res: ServerResponse) => res.writeHead(307, { Location: "https://elsewhere.example/" }).end(), "unavailable", /^HTTP 307$/],
    ["a body over 8 MiB", (res: ServerResponse) => res.writeHead(200, { "Content-Length": String(9 * 1024 * 1024) }).end(), "bad_response", /larger than 8388608 bytes/],
    ["a wrong shape", (res: ServerResponse) => res.end(JSON.stringify({ full: true, entries: [{ id: "" }], removed: [] })), "bad_response", /not what the agent API sends \(entries\.0\.id: must not be empty\)/],
    ["no answer in time", () => undefined, "unreachable", /cannot be reached: timed out$/],
  ] as const)("%s → %s", async (_name, answer, reason, detail) => {
    const { url } = await serve((_req, res) => answer(res));
    const r = await (await client(url, 200)).syncEntries({});
    expect(r).toMatchObject({ ok: false, error: { reason, path: "/agent/v1/entries/sync" } });
    if (!r.ok) expect(r.error.detail).toMatch(detail);
  });

  it("a server that is down is unreachable: ECONNREFUSED", async () => {
    const { url } = await serve(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    const r = await (await client(url)).bundles();
    expect(r).toMatchObject({ ok: false, error: { reason: "unreachable", detail: `${url.origin} cannot be reached: ECONNREFUSED` } });
  });

  it("a long-poll waits past the timeout by wait_ms, and the agent's stop signal ends it", async () => {
    const { url } = await serve((_req, res) => setTimeout(() => res.end(page), 400));
    const c = await client(url, 200);
    expect(await c.syncEntries({ waitMs: 500 })).toMatchObject({ ok: true });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    expect(await c.syncEntries({ waitMs: 5000, signal: stop.signal })).toMatchObject({ ok: false, error: { reason: "unreachable", detail: expect.stringMatching(/aborted$/) } });
  });
});
