/**
 * The agent-API client at its boundary (a server that is down, a proxy's HTML, a problem document,
 * a wrong shape, an endless body; the proof covers the exact bytes sent) and the configuration
 * layers (flags over environment over file; JSON and TOML; one-line errors).
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/lib/clock";
import { fromBase64 } from "../../../src/lib/encoding";
import { decodeJwsJsonPart } from "../../../src/lib/jws-parts";
import { fromEnv, fromFileText, resolveConfig } from "../../../src/agent/config";
import { generateSvidKey } from "../../../src/agent/csr";
import { AgentServerClient, type Fetch } from "../../../src/agent/server-client";

const clock = new ManualClock(Date.UTC(2026, 5, 1));

async function client(fetch: Fetch): Promise<AgentServerClient> {
  const c = new AgentServerClient({ server: "http://127.0.0.1:8787", clock, fetch, timeoutMs: 1000 });
  c.setCredential({ key: (await generateSvidKey(false)).privateKey, alg: "ES256", svid: new Uint8Array([0x30, 0]) });
  return c;
}

const json = (status: number, body: unknown, type = "application/json") => new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "Content-Type": type } });

describe("the agent-API client", () => {
  it.each([
    ["down", () => Promise.reject(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } })), "unreachable", /cannot be reached: ECONNREFUSED/],
    ["HTML from a proxy", async () => json(200, "<html>hi</html>", "text/html"), "bad_response", /not what the agent API sends/],
    ["a wrong shape", async () => json(200, { full: true, entries: "no", removed: [] }), "bad_response", /entries/],
    ["a problem", async () => json(401, { code: "agent_unauthorized", detail: "The agent proof is not valid." }, "application/problem+json"), "refused", /HTTP 401 agent_unauthorized: The agent proof is not valid\./],
    ["a 503", async () => json(503, "overloaded", "text/plain"), "unavailable", /HTTP 503/],
    ["an endless body", async () => new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(1 << 20)) }), { status: 200 }), "bad_response", /larger than/],
  ] as const)("%s → %s with one readable line", async (_name, fetch, reason, detail) => {
    const c = await client(fetch as Fetch);
    const r = await c.syncEntries({});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.reason).toBe(reason);
    expect(r.error.detail).toMatch(detail);
    expect(r.error.detail).not.toMatch(/\n/);
  });

  it("signs the proof over the exact bytes it sends, for this method and path", async () => {
    let seen: { url: string; body: Uint8Array; proof: string } | undefined;
    const c = await client(async (url, init) => {
      seen = { url, body: init.body as Uint8Array, proof: (init.headers as Record<string, string>)["Signet-Agent-Proof"]! };
      return json(200, { full: false, entries: [], removed: [], next_page_token: null, cursor: "c1" });
    });
    const r = await c.syncEntries({ cursor: "c0", pageSize: 500, waitMs: 20_000 });
    expect(r.ok).toBe(true);
    expect(seen!.url).toBe("http://127.0.0.1:8787/agent/v1/entries/sync");
    expect(JSON.parse(new TextDecoder().decode(seen!.body))).toEqual({ cursor: "c0", page_size: 500, wait_ms: 20_000 });
    const claims = decodeJwsJsonPart(seen!.proof.split(".")[1]!)!;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", seen!.body as Uint8Array<ArrayBuffer>));
    expect(fromBase64(claims.ath as string)).toEqual(digest);
    expect(claims).toMatchObject({ htm: "POST", htu: "/agent/v1/entries/sync", iat: Math.floor(clock.now() / 1000) });
  });

  it("a node clock 10 minutes behind the server: proofs carry the server's time (from Date headers), and the skew is reported once", async () => {
    const serverAhead = 10 * 60_000;
    const proofs: string[] = [];
    const skews: number[] = [];
    const fetch: Fetch = async (_url, init) => {
      proofs.push((init.headers as Record<string, string>)["Signet-Agent-Proof"] ?? "");
      const res = json(200, { full: false, entries: [], removed: [], next_page_token: null, cursor: "c1" });
      res.headers.set("Date", new Date(clock.now() + serverAhead).toUTCString());
      return res;
    };
    const c = new AgentServerClient({ server: "http://127.0.0.1:8787", clock, fetch, timeoutMs: 1000, onSkew: (o) => skews.push(o) });
    c.setCredential({ key: (await generateSvidKey(false)).privateKey, alg: "ES256", svid: new Uint8Array([0x30, 0]) });
    await c.syncEntries({});
    await c.syncEntries({});
    await c.syncEntries({});
    const iat = (p: string) => decodeJwsJsonPart(p.split(".")[1]!)!.iat as number;
    expect(iat(proofs[0]!)).toBe(Math.floor(clock.now() / 1000)); // before any answer: our own clock
    expect(Math.abs(iat(proofs[1]!) - (clock.now() + serverAhead) / 1000)).toBeLessThanOrEqual(2);
    expect(skews).toHaveLength(1);
    expect(Math.abs(skews[0]! - serverAhead)).toBeLessThanOrEqual(1000);
    expect(Math.abs(c.serverNow() - (clock.now() + serverAhead))).toBeLessThanOrEqual(1000);
  });

  it("a Date header within the header's one-second grain changes nothing", async () => {
    const skews: number[] = [];
    const fetch: Fetch = async () => {
      const res = json(200, { full: false, entries: [], removed: [], next_page_token: null, cursor: "c1" });
      res.headers.set("Date", new Date(clock.now() + 900).toUTCString());
      return res;
    };
    const c = new AgentServerClient({ server: "http://127.0.0.1:8787", clock, fetch, timeoutMs: 1000, onSkew: (o) => skews.push(o) });
    c.setCredential({ key: (await generateSvidKey(false)).privateKey, alg: "ES256", svid: new Uint8Array([0x30, 0]) });
    await c.syncEntries({});
    expect(skews).toEqual([]);
    expect(c.serverNow()).toBe(clock.now());
  });
});

describe("configuration", () => {
  const base = { server: "https://signet.example", socket: "unix:///run/signet/agent.sock", attestation: "sample" };

  it("flags win over the environment, which wins over the file; TOML and JSON files", () => {
    const file = fromFileText(`server = "https://file.example"\nsocket = "unix:///file.sock"\nattestation = "tdx"\nlog-level = "debug"\n`, "/etc/signet/agent.toml");
    expect(file.ok).toBe(true);
    const env = fromEnv({ SIGNET_AGENT_SERVER: "https://env.example", SIGNET_AGENT_ATTESTATION: "join-token:0b5e6d2c-1f2a-4c3b-9d8e-7f6a5b4c3d2e" });
    const c = resolveConfig([{ server: "https://flag.example" }, env, file.ok ? file.value : {}], "/");
    expect(c).toMatchObject({ ok: true, value: { socketPath: "/file.sock", logLevel: "debug", attestation: { kind: "join_token" } } });
    if (c.ok) expect(c.value.server.href).toBe("https://flag.example/");
    expect(fromFileText(JSON.stringify(base), "/a.json")).toEqual({ ok: true, value: base });
  });

  it.each([
    [{ ...base, server: "http://signet.example" }, /https URL/],
    [{ ...base, server: "nope" }, /not a URL/],
    [{ ...base, socket: "tcp://127.0.0.1:1" }, /unix:\/\/\//],
    [{ ...base, socket: "unix://host/x.sock" }, /unix:\/\/\//],
    [{ ...base, attestation: "tpm" }, /--attestation must be/],
    [{ ...base, attestation: "x509pop:only-cert" }, /CERT,KEY/],
    [{ ...base, log_level: "loud" }, /--log-level/],
    [{ socket: base.socket, attestation: "sample" }, /--server is required/],
    [{ ...base, tsm_dir: "/x" }, /--tsm-dir applies/],
  ])("%o is refused with one line", (raw, message) => {
    const c = resolveConfig([raw], "/");
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.error).toMatch(message);
  });

  it("file errors name the file and the setting", () => {
    expect(fromFileText("nonsense = ", "/x.toml")).toMatchObject({ ok: false, error: expect.stringMatching(/^\/x\.toml is not valid TOML/) });
    expect(fromFileText(`{"sever":"x"}`, "/x.json")).toMatchObject({ ok: false, error: expect.stringMatching(/unknown setting "sever"/) });
    expect(resolveConfig([{ ...base, socket: "unix:/run/a.sock" }], "/")).toMatchObject({ ok: true, value: { socketPath: "/run/a.sock" } });
  });
});
