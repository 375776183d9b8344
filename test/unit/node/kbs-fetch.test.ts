/**
 * src/node/kbs-fetch.ts: the fetch the agent's key broker handshake gets, over node:http instead of
 * Node's fetch (undici), against a real local server: what the handshake reads of an answer (status,
 * headers, every Set-Cookie line, the body as a stream), bounds, broken bodies, unreachable servers,
 * timeouts; and it never touches the Response/Headers globals.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBodyLimited } from "../../../src/lib/bounded-body";
import { createHttpTransport } from "../../../src/node/http-request";
import { kbsFetch } from "../../../src/node/kbs-fetch";

let server: Server;
let base: string;
const transport = createHttpTransport();
const seen: { method?: string; headers?: Record<string, unknown>; body?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method!, headers: req.headers, body });
      if (req.url === "/auth") {
        res.setHeader("Set-Cookie", ["kbs-session-id=abc123; Expires=Wed, 02 Dec 2026 10:00:00 GMT; Path=/", "other=1"]);
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ nonce: "n", "extra-params": "" }));
      } else if (req.url === "/big") res.end("x".repeat(2000));
      else if (req.url === "/broken") {
        res.writeHead(200, { "Content-Length": "100" });
        res.write("partial");
        setTimeout(() => res.destroy(), 20);
      } else if (req.url === "/slow") setTimeout(() => res.end("late"), 2000);
      else if (req.url === "/redirect") res.writeHead(302, { Location: "/auth" }).end();
      else res.writeHead(404).end('{"type":"x","detail":"none"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  transport.close();
  await new Promise((r) => server.close(r));
});

const post = { method: "POST", headers: { "Content-Type": "application/json", accept: "application/json" }, body: '{"a":1}', redirect: "manual" } as RequestInit;

describe("kbsFetch", () => {
  it("sends method, headers and body; answers status, headers, every Set-Cookie line and the body as a stream", async () => {
    const res = await kbsFetch(transport)(`${base}/auth`, post);
    expect(seen.at(-1)).toMatchObject({ method: "POST", body: '{"a":1}', headers: { "content-type": "application/json", accept: "application/json" } });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.getSetCookie()).toEqual(["kbs-session-id=abc123; Expires=Wed, 02 Dec 2026 10:00:00 GMT; Path=/", "other=1"]);
    expect(JSON.parse(new TextDecoder().decode(await readBodyLimited(res, 1000)))).toEqual({ nonce: "n", "extra-params": "" });
  });

  it("a 404 and a redirect are answers (not followed); a body over the bound declares itself larger", async () => {
    const f = kbsFetch(transport, 1000);
    const missing = await f(`${base}/none`, { method: "GET" });
    expect([missing.status, missing.ok, await missing.text()]).toEqual([404, false, '{"type":"x","detail":"none"}']);
    const moved = await f(`${base}/redirect`, { method: "GET" });
    expect(moved.status).toBe(302);
    const big = await f(`${base}/big`, { method: "GET" });
    expect(Number(big.headers.get("content-length"))).toBeGreaterThan(1000);
    expect(await readBodyLimited(big, 1000)).toBeUndefined();
  });

  it("a body that breaks off errors as fetch's does; no server, a timeout: rejected with the cause", async () => {
    const f = kbsFetch(transport);
    const broken = await f(`${base}/broken`, { method: "GET" });
    await expect(readBodyLimited(broken, 1000)).rejects.toThrow(/terminated/);
    await expect(f("http://127.0.0.1:1/", { method: "GET" })).rejects.toMatchObject({ cause: { code: "ECONNREFUSED" } });
    await expect(f(`${base}/slow`, { method: "GET", signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: "TimeoutError" });
  });

  it("never touches the Response or Headers globals", async () => {
    const touched: string[] = [];
    const saved = new Map<string, PropertyDescriptor>();
    for (const name of ["Response", "Headers", "fetch"]) {
      saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name)!);
      Object.defineProperty(globalThis, name, { configurable: true, get: () => (touched.push(name), saved.get(name)!.value ?? saved.get(name)!.get?.call(globalThis)) });
    }
    try {
      const res = await kbsFetch(transport)(`${base}/auth`, post);
      await readBodyLimited(res, 1000);
      res.headers.getSetCookie();
    } finally {
      for (const [name, d] of saved) Object.defineProperty(globalThis, name, d);
    }
    expect(touched).toEqual([]);
  });
});
