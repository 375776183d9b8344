/**
 * The Workload API's own gRPC over HTTP/2 (src/agent/workload/grpc-server.ts) at the edges of the
 * protocol, spoken to with a raw node:http2 client (frames the way a hostile or broken client might
 * send them) and with grpc-js's client (what it makes of the answers): content-type and method
 * checks, unknown methods, the request's framing (size limit, none / two / a partial message, the
 * compressed flag and grpc-encoding), grpc-timeout, cancelled and dropped streams releasing their
 * subscription, a slow reader, peers without credentials, the security header's forms, close().
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeJwtSvidRequest } from "../../../src/agent/api-messages";
import { startWorkloadApi, UnixAttestor, type WorkloadApiServer } from "../../../src/agent/workload";
import { encodeGrpcMessage, parseGrpcTimeout } from "../../../src/agent/workload/grpc-server";
import { readFields } from "../../../src/agent/workload/protobuf";
import { issueIdentity, MemoryAgentState, trustDomainMaterial } from "../../support/agent-state";
import { firstMessage, securityHeader, unaryCall, workloadClient } from "../../support/workload-client";

const dir = mkdtempSync(join(tmpdir(), "signet-workload-h2-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const uid = process.getuid!();
const X509 = "/SpiffeWorkloadAPI/FetchX509SVID";
const JWT = "/SpiffeWorkloadAPI/FetchJWTSVID";

async function fixture() {
  const own = await trustDomainMaterial("example.org");
  const state = new MemoryAgentState(own);
  state.setIdentities([await issueIdentity(own, { spiffeId: "spiffe://example.org/me", selectors: [`unix:uid:${uid}`] })]);
  return { own, state };
}

function framed(message: Buffer, flag = 0): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b[0] = flag;
  b.writeUInt32BE(message.length, 1);
  message.copy(b, 5);
  return b;
}

function connect(path: string, settings?: http2.Settings): http2.ClientHttp2Session {
  const session = http2.connect("http://localhost", { createConnection: () => netConnect(path), ...(settings ? { settings } : {}) });
  session.on("error", () => undefined);
  return session;
}

interface Answer {
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
  readonly messages: Buffer[];
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  readonly status: string | undefined;
  readonly message: string | undefined;
}

/** The response messages of a stream, each pushed the moment its last byte arrives. */
function collectMessages(req: http2.ClientHttp2Stream): Buffer[] {
  const messages: Buffer[] = [];
  let pending = Buffer.alloc(0);
  req.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      messages.push(pending.subarray(5, 5 + pending.readUInt32BE(1)));
      pending = pending.subarray(5 + messages.at(-1)!.length);
    }
  });
  return messages;
}

const GRPC_HEADERS = { ":method": "POST", "content-type": "application/grpc", te: "trailers", "workload.spiffe.io": "true" };

/** One call: `body` written and the request ended (`undefined`: ended without DATA); resolves when the stream closes. */
function call(session: http2.ClientHttp2Session, path: string, body: Buffer | undefined, headers: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ...GRPC_HEADERS, ":path": path, ...headers });
    let response: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const messages = collectMessages(req);
    req.on("response", (h) => (response = h));
    req.on("trailers", (h) => (trailers = h));
    req.on("error", reject);
    req.on("close", () => {
      const from = trailers ?? response;
      const s = from["grpc-status"];
      const m = from["grpc-message"];
      resolve({ headers: response, trailers, messages, status: typeof s === "string" ? s : undefined, message: typeof m === "string" ? decodeURIComponent(m) : undefined });
    });
    req.end(body);
  });
}

/** Resolves when `ok()` holds, polling; rejects after `ms`. */
async function until(ok: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The DER of the first SVID's leaf in an X509SVIDResponse. */
const leafOf = (m: Buffer) => readFields(readFields(m).find((f) => f.field === 1)!.bytes!).find((f) => f.field === 2)!.bytes!;

describe("gRPC over HTTP/2 at the protocol's edges", () => {
  let server: WorkloadApiServer;
  let state: MemoryAgentState;
  let own: Awaited<ReturnType<typeof fixture>>["own"];
  let session: http2.ClientHttp2Session;
  const path = join(dir, "h2.sock");

  beforeAll(async () => {
    ({ state, own } = await fixture());
    server = await startWorkloadApi({ socket: path, state });
    session = connect(path);
  });
  afterAll(async () => {
    session.close();
    await server.close();
  });

  it("a unary call: :status 200, application/grpc+proto, one framed message, then trailers with grpc-status 0", async () => {
    const a = await call(session, JWT, framed(encodeJwtSvidRequest(["x"], "")));
    expect(a.headers[":status"]).toBe(200);
    expect(a.headers["content-type"]).toBe("application/grpc+proto");
    expect(a.headers["grpc-status"]).toBeUndefined();
    expect(a.messages).toHaveLength(1);
    expect(a.trailers?.["grpc-status"]).toBe("0");
  });

  it("a content-type that is not application/grpc* is HTTP 415 without a gRPC status, as grpc-js answers", async () => {
    const a = await call(session, JWT, framed(encodeJwtSvidRequest(["x"], "")), { "content-type": "application/json" });
    expect(a.headers[":status"]).toBe(415);
    expect(a.status).toBeUndefined();
    // application/grpc+proto is gRPC too.
    expect((await call(session, JWT, framed(encodeJwtSvidRequest(["x"], "")), { "content-type": "application/grpc+proto" })).status).toBe("0");
  });

  it("a method other than POST is HTTP 405 with INTERNAL", async () => {
    const a = await call(session, JWT, undefined, { ":method": "GET" });
    expect(a.headers[":status"]).toBe(405);
    expect([a.status, a.message]).toEqual(["13", "Received a HTTP request with method GET, must use POST"]);
  });

  it("an unknown method is UNIMPLEMENTED in a trailers-only answer (raw and grpc-js)", async () => {
    const a = await call(session, "/SpiffeWorkloadAPI/FetchNothing", framed(Buffer.alloc(0)));
    expect(a.trailers).toBeUndefined();
    expect(a.headers[":status"]).toBe(200);
    expect(a.headers["content-type"]).toBe("application/grpc+proto");
    expect([a.status, a.message]).toEqual(["12", "The server does not implement the method /SpiffeWorkloadAPI/FetchNothing"]);
    expect(a.messages).toHaveLength(0);
    const client = new grpc.Client(`unix:${path}`, grpc.credentials.createInsecure());
    try {
      const e = await new Promise<grpc.ServiceError>((resolve) =>
        client.makeUnaryRequest("/signet.Nope/Nope", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), securityHeader(), (err) => resolve(err!)),
      );
      expect(e.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it("a message longer than 64 KiB is RESOURCE_EXHAUSTED as soon as its prefix is read (raw and grpc-js)", async () => {
    const a = await new Promise<http2.IncomingHttpHeaders>((resolve) => {
      const req = session.request({ ...GRPC_HEADERS, ":path": JWT });
      req.on("response", resolve);
      req.on("error", () => undefined);
      // Only the prefix, and the request left open: the answer may not wait for the body.
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(64 * 1024 + 1, 1);
      req.write(prefix);
    });
    expect([a["grpc-status"], decodeURIComponent(String(a["grpc-message"]))]).toEqual(["8", "Received message larger than max (65537 vs 65536)"]);
    const client = workloadClient(path);
    try {
      await expect(unaryCall(client, "FetchJWTSVID", { audience: ["a".repeat(70_000)] })).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    } finally {
      client.close();
    }
  });

  it("a unary or streaming call takes exactly one request message: none or two are UNIMPLEMENTED, a partial one INTERNAL", async () => {
    const one = framed(encodeJwtSvidRequest(["x"], ""));
    const two = await call(session, JWT, Buffer.concat([one, one]));
    expect([two.status, two.message]).toEqual(["12", `Received a second request message for unary method ${JWT}`]);
    const none = await call(session, JWT, undefined);
    expect([none.status, none.message]).toEqual(["12", `Received no request message for unary method ${JWT}`]);
    const twoOnStream = await call(session, X509, Buffer.concat([framed(Buffer.alloc(0)), framed(Buffer.alloc(0))]));
    expect([twoOnStream.status, twoOnStream.message]).toEqual(["12", `Received a second request message for server streaming method ${X509}`]);
    expect(twoOnStream.messages).toHaveLength(0);
    const partial = await call(session, JWT, Buffer.concat([one, one.subarray(0, 7)]));
    expect(partial.status).toBe("13");
    expect(state.listenerCount).toBe(0);
  });

  it("bytes that are not the request message are INTERNAL, as grpc-js's deserialize failure", async () => {
    const a = await call(session, JWT, framed(Buffer.from([0x0a, 0x20, 0x01])));
    expect([a.status, a.message]).toEqual(["13", "Error deserializing request"]);
  });

  it("the compressed flag: gzip and deflate are inflated (at most 64 KiB), identity or no grpc-encoding is INTERNAL, an unknown encoding UNIMPLEMENTED", async () => {
    const req = encodeJwtSvidRequest(["x"], "");
    expect((await call(session, JWT, framed(gzipSync(req), 1), { "grpc-encoding": "gzip" })).status).toBe("0");
    const { deflateSync } = await import("node:zlib");
    expect((await call(session, JWT, framed(deflateSync(req), 1), { "grpc-encoding": "deflate" })).status).toBe("0");
    expect((await call(session, JWT, framed(req, 1))).status).toBe("13");
    expect((await call(session, JWT, framed(req, 1), { "grpc-encoding": "identity" })).status).toBe("13");
    const br = await call(session, JWT, framed(req, 1), { "grpc-encoding": "br" });
    expect([br.status, br.message]).toEqual(["12", 'Received message compressed with unsupported encoding "br"']);
    const bomb = await call(session, JWT, framed(gzipSync(Buffer.alloc(1024 * 1024)), 1), { "grpc-encoding": "gzip" });
    expect([bomb.status, bomb.message]).toEqual(["8", "Received message that decompresses to a size larger than 65536"]);
    expect((await call(session, JWT, framed(Buffer.from("not gzip"), 1), { "grpc-encoding": "gzip" })).status).toBe("13");
    expect((await call(session, JWT, framed(req, 2))).status).toBe("13");
    // grpc-js's client compressing its requests.
    const client = workloadClient(path, { "grpc.default_compression_algorithm": 2 });
    try {
      const r = await unaryCall<{ svids: unknown[] }>(client, "FetchJWTSVID", { audience: ["x"] });
      expect(r.svids).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it("the security header: exactly one value `true` (a repeated header is two values)", async () => {
    const req = framed(encodeJwtSvidRequest(["x"], ""));
    expect((await call(session, JWT, req, { "workload.spiffe.io": ["true", "true"] })).status).toBe("3");
    expect((await call(session, JWT, req, { "workload.spiffe.io": "true,true" })).status).toBe("3");
    expect((await call(session, JWT, req, { "workload.spiffe.io": "True" })).status).toBe("3");
    const missing = await call(session, X509, framed(Buffer.alloc(0)), { "workload.spiffe.io": undefined });
    expect([missing.status, missing.message]).toEqual(["3", "security header missing from request"]);
  });

  it("grpc-timeout: a stream ends with DEADLINE_EXCEEDED when it passes, and its subscription is released; a malformed one is INTERNAL", async () => {
    const started = Date.now();
    const a = await call(session, X509, framed(Buffer.alloc(0)), { "grpc-timeout": "300m" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(a.messages).toHaveLength(1);
    expect([a.trailers?.["grpc-status"], a.message]).toEqual(["4", "Deadline exceeded"]);
    expect(state.listenerCount).toBe(0);
    const bad = await call(session, X509, framed(Buffer.alloc(0)), { "grpc-timeout": "soon" });
    expect([bad.status, bad.message]).toEqual(["13", 'Invalid grpc-timeout value "soon"']);
    // A deadline that does not pass first changes nothing.
    expect((await call(session, JWT, framed(encodeJwtSvidRequest(["x"], "")), { "grpc-timeout": "5S" })).status).toBe("0");
  });

  it("a raw client's RST_STREAM and a dropped connection both release the stream's subscription", async () => {
    const req = session.request({ ...GRPC_HEADERS, ":path": X509 });
    req.on("error", () => undefined);
    req.end(framed(Buffer.alloc(0)));
    await new Promise((r) => req.once("data", r));
    expect(state.listenerCount).toBe(1);
    req.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => state.listenerCount === 0);

    const other = connect(path);
    const streams = Array.from({ length: 3 }, () => {
      const s = other.request({ ...GRPC_HEADERS, ":path": "/SpiffeWorkloadAPI/FetchJWTBundles" });
      s.on("error", () => undefined);
      s.end(framed(Buffer.alloc(0)));
      return new Promise((r) => s.once("data", r));
    });
    await Promise.all(streams);
    expect(state.listenerCount).toBe(3);
    other.destroy();
    await until(() => state.listenerCount === 0);
  });

  it("a stream whose reader does not read holds back: later states replace each other, and the latest is sent once it reads", async () => {
    const identities = await Promise.all(Array.from({ length: 40 }, () => issueIdentity(own, { spiffeId: "spiffe://example.org/me", selectors: [`unix:uid:${uid}`] })));
    const original = state.x509IdentitiesFor([`unix:uid:${uid}`]);
    // A window of 0: the server can send no DATA on the stream until the window opens.
    const slow = connect(path, { initialWindowSize: 0 });
    try {
      const req = slow.request({ ...GRPC_HEADERS, ":path": X509 });
      req.on("error", () => undefined);
      const got = collectMessages(req);
      req.end(framed(Buffer.alloc(0)));
      await until(() => state.listenerCount === 1);
      for (const id of identities) {
        state.setIdentities([id]);
        await new Promise((r) => setImmediate(r));
      }
      expect(got).toHaveLength(0);
      slow.settings({ initialWindowSize: 65_535 });
      const last = Buffer.from(identities.at(-1)!.chain[0]!);
      await until(() => got.length > 0 && Buffer.from(leafOf(got.at(-1)!)).equals(last));
      await new Promise((r) => setTimeout(r, 50));
      // Far fewer answers than the 41 states: what the stream's buffer held, then the latest.
      expect(got.length).toBeLessThan(30);
      expect(Buffer.from(leafOf(got.at(-1)!)).equals(last)).toBe(true);
      req.close(http2.constants.NGHTTP2_CANCEL);
      await until(() => state.listenerCount === 0);
    } finally {
      slow.destroy();
      state.setIdentities(original);
    }
  });
});

describe("connections and close()", () => {
  it("a peer whose credentials cannot be read at accept is refused before any HTTP/2 (grpc-js: UNAVAILABLE; raw: the connection closes)", async () => {
    const { state } = await fixture();
    const real = new UnixAttestor();
    // The caller's start time cannot be read (as when it exited at once): no caller, no connection.
    const attestor = { startTime: () => undefined, attest: real.attest.bind(real) };
    const path = join(dir, "nocreds.sock");
    const server = await startWorkloadApi({ socket: path, state, attestor });
    const client = workloadClient(path);
    try {
      await expect(firstMessage(client, "FetchX509SVID")).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      const raw = connect(path);
      const outcome = await new Promise<string>((resolve) => {
        const req = raw.request({ ...GRPC_HEADERS, ":path": X509 });
        req.on("response", () => resolve("answered"));
        req.on("error", () => resolve("error"));
        req.on("close", () => resolve("closed"));
        req.end(framed(Buffer.alloc(0)));
      });
      expect(outcome).not.toBe("answered");
      raw.destroy();
      expect(state.listenerCount).toBe(0);
    } finally {
      client.close();
      await server.close();
    }
  });

  it("a unary call whose attestation outlasts its grpc-timeout gets DEADLINE_EXCEEDED from the server", async () => {
    const { state } = await fixture();
    const real = new UnixAttestor();
    const attestor = { startTime: real.startTime.bind(real), attest: () => new Promise<never>(() => undefined) };
    const path = join(dir, "slow.sock");
    const server = await startWorkloadApi({ socket: path, state, attestor });
    const session = connect(path);
    try {
      const a = await call(session, JWT, framed(encodeJwtSvidRequest(["x"], "")), { "grpc-timeout": "100m" });
      expect([a.status, a.message, a.trailers]).toEqual(["4", "Deadline exceeded", undefined]);
    } finally {
      session.destroy();
      await server.close();
    }
  });

  it("close() ends open streams with UNAVAILABLE, releases their subscriptions and closes the connections", async () => {
    const { state } = await fixture();
    const path = join(dir, "closing.sock");
    const server = await startWorkloadApi({ socket: path, state });
    const session = connect(path);
    const sessionClosed = new Promise((r) => session.once("close", r));
    const pending = call(session, X509, framed(Buffer.alloc(0)));
    await until(() => state.listenerCount === 1);
    await server.close();
    const a = await pending;
    expect(a.messages).toHaveLength(1);
    expect([a.trailers?.["grpc-status"], a.message]).toEqual(["14", "the Workload API is shutting down"]);
    expect(state.listenerCount).toBe(0);
    await sessionClosed;
  });
});

describe("grpc-server.ts helpers", () => {
  it("grpc-message is percent-encoded UTF-8 (outside 0x20–0x7E, and %)", () => {
    expect(encodeGrpcMessage("no identity issued")).toBe("no identity issued");
    expect(encodeGrpcMessage("100% ü\n")).toBe("100%25 %C3%BC%0A");
    expect(decodeURIComponent(encodeGrpcMessage("a\u{1F600}b"))).toBe("a\u{1F600}b");
  });

  it("grpc-timeout values", () => {
    expect(parseGrpcTimeout("1S")).toBe(1000);
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("2M")).toBe(120_000);
    expect(parseGrpcTimeout("1H")).toBe(3_600_000);
    expect(parseGrpcTimeout("1500u")).toBe(2);
    expect(parseGrpcTimeout("99999999n")).toBe(100);
    for (const bad of ["", "1", "S", "123456789S", "1s", "-1S", "1 S", "1.5S"]) expect(parseGrpcTimeout(bad)).toBeUndefined();
  });
});
