/**
 * The guest half of RCAR (src/lib/kbs/guest.ts) against the fake key broker of fake-kbs.ts: the
 * handshake as guest-components runs it, the cookie kept by hand, the retry rule (401 re-attests, at
 * most 3 attempts; 404 and anything else stop), Trustee's `{type, detail}` surfaced, and every
 * unusable answer a value, never a throw.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { sampleAttester } from "../../../src/node/attesters/sample";
import { fromHex, toBase64, toBase64Url, utf8 } from "../../../src/lib/encoding";
import { encryptResource, expectedReportData, generateTeeKeyPair, KBS_PROTOCOL_VERSION, requestExtraParams, type TeeKeyAlgorithm } from "../../../src/lib/kbs";
import { getResource, parseResourceUri, runHandshake, type Attester, type Fetch, type GuestError, type GuestSession } from "../../../src/lib/kbs/guest";
import { err, ok, type Result } from "../../../src/lib/result";
import { VECTOR } from "../kbs/kbs-fixtures";
import { FakeKbs, kbsError, type KbsAnswer } from "./fake-kbs";

const SERVER = "http://kbs.test:8080";
const SECRET = new Uint8Array([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13]);

let kbs: FakeKbs;
beforeEach(() => {
  kbs = new FakeKbs();
  kbs.resources.set("default/key/1", SECRET);
});

const endpoint = () => ({ server: SERVER, fetch: kbs.fetch });
const handshakeWith = (attester: Attester = sampleAttester, extra: { keyAlgorithm?: TeeKeyAlgorithm; initData?: string } = {}) => () => runHandshake({ ...endpoint(), attester, ...extra });
const fetchSecret = (path = "default/key/1", attester: Attester = sampleAttester) => getResource({ ...endpoint(), path, handshake: handshakeWith(attester) });
const count = (method: string, prefix: string) => kbs.requests.filter((r) => r.method === method && r.path.startsWith(prefix)).length;

function failed<T>(r: Result<T, GuestError>): GuestError {
  if (r.ok) throw new Error("expected a failure");
  return r.error;
}

/** An attester for a hardware TEE that records the report data it was asked to bind. */
function recordingAttester(tee: "snp" | "tdx"): Attester & { readonly seen: Uint8Array[] } {
  const seen: Uint8Array[] = [];
  return { tee, seen, evidence: async (reportData) => (seen.push(reportData), ok({ quote: toBase64(reportData) })) };
}

describe("the handshake and the resource", () => {
  it.each(["ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521", "RSA-OAEP-256"] as const)("fetches and decrypts a binary secret with a %s TEE key", async (keyAlgorithm) => {
    const r = await getResource({ ...endpoint(), path: "default/key/1", handshake: handshakeWith(sampleAttester, { keyAlgorithm }) });
    expect(r).toEqual(ok(SECRET));
    expect(kbs.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["POST /kbs/v0/auth", "POST /kbs/v0/attest", "GET /kbs/v0/resource/default/key/1"]);
    expect(kbs.attestations[0]!.runtimeData.teePubKey.alg).toBe(keyAlgorithm === "RSA-OAEP-256" ? "RSA-OAEP-256" : "ECDH-ES+A256KW");
  });

  it("sends the Request as guest-components does and the session cookie on /attest and /resource", async () => {
    await fetchSecret();
    const [auth, attest, resource] = kbs.requests;
    expect(JSON.parse(auth!.body)).toEqual({ version: KBS_PROTOCOL_VERSION, tee: "sample", "extra-params": requestExtraParams() });
    expect(auth!.headers.cookie).toBeUndefined();
    const id = [...kbs.sessions.keys()][0]!;
    expect(attest!.headers.cookie).toBe(`kbs-session-id=${id}`);
    expect(resource!.headers.cookie).toBe(`kbs-session-id=${id}`);
    expect(resource!.headers.authorization).toBeUndefined();
    const body = JSON.parse(attest!.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["init-data", "runtime-data", "tee-evidence"]);
    expect(body["init-data"]).toBeNull();
    expect(body["tee-evidence"]).toMatchObject({ additional_evidence: "" });
  });

  it("binds H(JCS(runtime data)) with the hash the Challenge selects (sha384 by default, sha512 when asked)", async () => {
    for (const [hash, bytes] of [["sha384", 48], ["sha512", 64]] as const) {
      kbs = new FakeKbs();
      kbs.hash = hash;
      const attester = recordingAttester("snp");
      expect((await runHandshake({ ...endpoint(), attester })).ok).toBe(true);
      const a = kbs.attestations[0]!;
      const expected = await expectedReportData({ nonce: a.runtimeData.nonce, teePubKey: a.runtimeData.teePubKey, additionalEvidence: "" }, hash);
      expect(attester.seen).toEqual([expected]);
      expect(expected.length).toBe(bytes);
      expect(a.teeEvidence.primaryEvidence).toEqual({ quote: toBase64(expected) });
    }
  });

  it("returns the token, the keys, the cookie and the token's expiry", async () => {
    kbs.tokenExp = 1_800_000_000;
    const r = await runHandshake({ ...endpoint(), attester: sampleAttester });
    if (!r.ok) throw new Error(r.error.detail);
    expect(r.value.cookie).toBe([...kbs.sessions.keys()][0]);
    expect(r.value.token.split(".")).toHaveLength(3);
    expect(r.value.expiresAt).toBe(1_800_000_000_000);
    expect(r.value.keys.teePubKey).toEqual(kbs.attestations[0]!.runtimeData.teePubKey);
  });

  it("sends init-data verbatim as TOML", async () => {
    const toml = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n';
    await runHandshake({ ...endpoint(), attester: sampleAttester, initData: toml });
    expect(kbs.attestations[0]!.initData).toEqual({ format: "toml", body: toml });
  });

  it("resolves kbs/v0 under a server URL's path, with or without its trailing slash", async () => {
    for (const server of ["http://kbs.test/prefix", "http://kbs.test/prefix/"]) {
      const urls: string[] = [];
      const fetch: Fetch = (url, init) => (urls.push(url), kbs.fetch(url.replace("/prefix", ""), init));
      expect((await runHandshake({ server, fetch, attester: sampleAttester })).ok).toBe(true);
      expect(urls).toEqual(["http://kbs.test/prefix/kbs/v0/auth", "http://kbs.test/prefix/kbs/v0/attest"]);
    }
  });

  it("passes a query on to the resource", async () => {
    await getResource({ ...endpoint(), path: "default/key/1", query: "version=2", handshake: handshakeWith() });
    expect(kbs.requests[2]!.path).toBe("/kbs/v0/resource/default/key/1?version=2");
  });

  it("tries a session it is given first, and re-attests only after a 401", async () => {
    const session = await runHandshake({ ...endpoint(), attester: sampleAttester });
    if (!session.ok) throw new Error(session.error.detail);
    let handshakes = 0;
    const handshake = () => (handshakes++, runHandshake({ ...endpoint(), attester: sampleAttester }));
    expect(await getResource({ ...endpoint(), path: "default/key/1", handshake, session: session.value })).toEqual(ok(SECRET));
    expect(handshakes).toBe(0);
    const stale: GuestSession = { ...session.value, cookie: "0".repeat(32) };
    expect(await getResource({ ...endpoint(), path: "default/key/1", handshake, session: stale })).toEqual(ok(SECRET));
    expect(handshakes).toBe(1);
  });

  it("keeps the cookie /attest sets, if it sets another", async () => {
    const other = "f".repeat(32);
    kbs.script = (req) => {
      if (req.path !== "/kbs/v0/attest") return undefined;
      kbs.script = undefined;
      return { status: 200, headers: { "set-cookie": `kbs-session-id=${other}; Expires=Wed, 21 Oct 2037 07:28:00 GMT` }, body: JSON.stringify({ token: `e30.${toBase64Url(utf8("{}"))}.c2ln` }) };
    };
    const r = await runHandshake({ ...endpoint(), attester: sampleAttester });
    expect(r.ok && r.value.cookie).toBe(other);
  });
});

describe("retries: 401 re-runs the handshake (3 attempts in all), 404 and others stop", () => {
  it("recovers from one 401 with a second handshake", async () => {
    let refused = 0;
    kbs.script = (req) => (req.method === "GET" && refused++ === 0 ? kbsError(401, "TokenVerifierError", "Token verification failed") : undefined);
    expect(await fetchSecret()).toEqual(ok(SECRET));
    expect([count("POST", "/kbs/v0/auth"), count("GET", "/kbs/v0/resource/")]).toEqual([2, 2]);
  });

  it("a missing resource (401 PluginInternalError, as Trustee) is refused after 3 handshakes, with Trustee's type and detail", async () => {
    const e = failed(await fetchSecret("default/key/2"));
    expect(e).toEqual({ reason: "kbs_refused", step: "resource", status: 401, kbsType: "PluginInternalError", detail: "Plugin internal error: resource not found", attempts: 3 });
    expect([count("POST", "/kbs/v0/auth"), count("POST", "/kbs/v0/attest"), count("GET", "/kbs/v0/resource/")]).toEqual([3, 3, 3]);
  });

  it("a 404 stops at once", async () => {
    kbs.script = (req) => (req.method === "GET" ? kbsError(404, "PluginNotFound", "Plugin not found") : undefined);
    expect(failed(await fetchSecret())).toEqual({ reason: "resource_not_found", step: "resource", status: 404, kbsType: "PluginNotFound", detail: "Plugin not found", attempts: 1 });
    expect(count("GET", "/kbs/v0/resource/")).toBe(1);
  });

  it.each([403, 413, 500, 503])("HTTP %i stops at once", async (status) => {
    kbs.script = (req) => (req.method === "GET" ? kbsError(status, "PluginInternalError", "no") : undefined);
    expect(failed(await fetchSecret())).toMatchObject({ reason: "kbs_refused", status, attempts: 1 });
    expect(count("GET", "/kbs/v0/resource/")).toBe(1);
  });

  it("a handshake that fails on a retry ends the retries with its own error", async () => {
    kbs.script = (req) => (req.method === "GET" ? kbsError(401, "PolicyDeny", "Access denied by policy") : count("POST", "/kbs/v0/auth") > 1 ? kbsError(429, "AttestationError", "too many requests") : undefined);
    expect(failed(await fetchSecret())).toMatchObject({ reason: "kbs_refused", step: "auth", status: 429, kbsType: "AttestationError" });
    expect(count("GET", "/kbs/v0/resource/")).toBe(1);
  });

  it("a server refusing /auth (version mismatch) and /attest (bad evidence) says which and why", async () => {
    const version = "KBS Client Protocol Version Mismatch: expect =0.5.0 while the request is 0.4.0";
    kbs.script = (req) => (req.path === "/kbs/v0/auth" ? kbsError(401, "AttestationError", `Attestation error: RCAR handshake Auth failed: ${version}`) : undefined);
    expect(failed(await fetchSecret())).toMatchObject({ reason: "kbs_refused", step: "auth", kbsType: "AttestationError", detail: `Attestation error: RCAR handshake Auth failed: ${version}` });

    kbs.script = undefined;
    const liar: Attester = { tee: "sample", evidence: async () => ok({ svn: "1", report_data: toBase64(new Uint8Array(48)) }) };
    expect(failed(await fetchSecret("default/key/1", liar))).toEqual({ reason: "kbs_refused", step: "attest", status: 401, kbsType: "AttestationError", detail: "Attestation error: RCAR handshake Attest failed" });
  });

  it("an error body that is not Trustee's is reported by status, with no type", async () => {
    kbs.script = () => ({ status: 502, headers: { "content-type": "text/html" }, body: "<html>Bad Gateway</html>" });
    expect(failed(await fetchSecret())).toEqual({ reason: "kbs_refused", step: "auth", status: 502, detail: "POST /kbs/v0/auth answered without Trustee's {type, detail}" });
  });
});

describe("unusable answers and unreachable servers are values", () => {
  const challenge = (body: unknown, cookie = true) => (): KbsAnswer => ({
    status: 200,
    headers: cookie ? { "set-cookie": `kbs-session-id=${"a".repeat(32)}` } : {},
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

  it.each([
    ["not JSON", challenge("nonce=1"), "the answer to POST /kbs/v0/auth is not JSON"],
    ["no nonce", challenge({ "extra-params": "" }), "the /auth answer is not a Challenge: no usable nonce"],
    ["a number as nonce", challenge({ nonce: 7, "extra-params": "" }), "the /auth answer is not a Challenge: no usable nonce"],
    ["a lone surrogate in the nonce", challenge({ nonce: "a\ud800", "extra-params": "" }), "the /auth answer is not a Challenge: no usable nonce"],
    ["no extra-params", challenge({ nonce: "n" }), 'the /auth answer is not a Challenge: no "extra-params"'],
    ["no cookie", challenge({ nonce: "n", "extra-params": "" }, false), "the /auth answer sets no kbs-session-id cookie"],
    ["a hash it cannot do", challenge({ nonce: "n", "extra-params": { "selected-hash-algorithm": "sm3" } }), 'the challenge selects hash algorithm "sm3", which is not one of sha256, sha384, sha512'],
  ])("/auth: %s", async (_, script, detail) => {
    kbs.script = (req) => (req.path === "/kbs/v0/auth" ? script() : undefined);
    expect(failed(await runHandshake({ ...endpoint(), attester: sampleAttester }))).toEqual({ reason: "kbs_bad_response", step: "auth", detail, ...(detail.endsWith("not JSON") ? { status: 200 } : {}) });
    expect(count("POST", "/kbs/v0/attest")).toBe(0);
  });

  it("/auth: the cookie among other Set-Cookie headers and with attributes is found; a malformed value is not", async () => {
    const id = "b".repeat(32);
    const withCookies = (...setCookies: string[]): Fetch => async (url, init) => {
      if (!url.endsWith("/kbs/v0/auth")) return kbs.fetch(url, init);
      const headers = new Headers(setCookies.map((c): [string, string] => ["set-cookie", c]));
      return new Response(JSON.stringify({ nonce: "n", "extra-params": "" }), { headers });
    };
    await runHandshake({ server: SERVER, fetch: withCookies("other=1; Path=/", `kbs-session-id=${id}; Expires=Wed, 21 Oct 2037 07:28:00 GMT`), attester: sampleAttester });
    expect(kbs.requests[0]!.headers.cookie).toBe(`kbs-session-id=${id}`);
    const e = failed(await runHandshake({ server: SERVER, fetch: withCookies('kbs-session-id="x y"'), attester: sampleAttester }));
    expect(e.detail).toBe("the /auth answer sets no kbs-session-id cookie");
  });

  it.each([
    ["no token", { other: 1 }],
    ["a token that is not a compact JWS", { token: "not-a-jwt" }],
    ["a token whose payload is not JSON", { token: `a.${toBase64Url(utf8("nope"))}.c` }],
  ])("/attest: %s", async (_, body) => {
    kbs.script = (req) => (req.path === "/kbs/v0/attest" ? { status: 200, body: JSON.stringify(body) } : undefined);
    expect(failed(await runHandshake({ ...endpoint(), attester: sampleAttester }))).toMatchObject({ reason: "kbs_bad_response", step: "attest" });
  });

  it("/resource: a JWE for another key does not decrypt, and is not retried", async () => {
    const other = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
    const jwe = JSON.stringify(await encryptResource(other.teePubKey, SECRET));
    kbs.script = (req) => (req.method === "GET" ? { status: 200, body: jwe } : undefined);
    const e = failed(await fetchSecret());
    expect(e).toMatchObject({ reason: "kbs_bad_response", step: "resource", attempts: 1 });
    expect(e.detail).toMatch(/^the resource does not decrypt: /);
  });

  it("/resource: an answer past the size bound is refused without being kept", async () => {
    kbs.script = (req) => (req.method === "GET" ? { status: 200, body: "x".repeat(33 * 1024 * 1024 + 1) } : undefined);
    expect(failed(await fetchSecret())).toMatchObject({ reason: "kbs_bad_response", detail: "the answer to GET /kbs/v0/resource/default/key/1 is too large or not UTF-8" });
  });

  it("a redirect is not followed", async () => {
    kbs.script = () => ({ status: 302, headers: { location: "http://elsewhere/" }, body: "" });
    expect(failed(await fetchSecret())).toEqual({ reason: "kbs_bad_response", step: "auth", status: 302, detail: "POST /kbs/v0/auth redirected (HTTP 302); check the server URL" });
  });

  it("a server that cannot be reached, or a timeout, is kbs_unreachable with the cause", async () => {
    const refused: Fetch = async () => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }) });
    };
    expect(failed(await runHandshake({ server: SERVER, fetch: refused, attester: sampleAttester }))).toEqual({
      reason: "kbs_unreachable",
      step: "auth",
      detail: "cannot reach http://kbs.test:8080: connect ECONNREFUSED 127.0.0.1:1",
    });
    const slow: Fetch = (_url, init) => new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason)));
    expect(failed(await runHandshake({ server: SERVER, fetch: slow, attester: sampleAttester, timeoutMs: 20 })).detail).toBe("cannot reach http://kbs.test:8080: timed out");
  });

  it("an attester's failure ends the handshake before /attest", async () => {
    const broken: Attester = { tee: "snp", evidence: async () => err({ reason: "evidence_unavailable", detail: "no configfs-tsm" }) };
    expect(failed(await fetchSecret("default/key/1", broken))).toEqual({ reason: "evidence_unavailable", detail: "no configfs-tsm" });
    expect(count("POST", "/kbs/v0/attest")).toBe(0);
  });

  it("a path that is not repo/type/tag is the caller's bug (TypeError)", async () => {
    await expect(fetchSecret("a/b")).rejects.toThrow(TypeError);
    await expect(fetchSecret("a/../c")).rejects.toThrow(TypeError);
  });
});

describe("the sample attester", () => {
  it("sends exactly guest-components' sample evidence (the §12 vector)", async () => {
    expect(await sampleAttester.evidence(fromHex(VECTOR.sha384)!)).toEqual(ok(VECTOR.sampleEvidence));
  });
});

describe("resource URIs (specs/kbs-protocol.md §10.1)", () => {
  it.each([
    ["kbs:///default/key/1", "default/key/1", undefined],
    ["kbs://kbs.example:8080/default/key/1", "default/key/1", undefined],
    ["kbs+resource:///repo/type/tag", "repo/type/tag", undefined],
    ["kbs:///a/b/c?version=2&x", "a/b/c", "version=2&x"],
    ["default/key/1", "default/key/1", undefined],
    ["my-repo/tls_cert/v1.2", "my-repo/tls_cert/v1.2", undefined],
  ])("%s → %s", (uri, path, query) => {
    expect(parseResourceUri(uri)).toEqual(ok({ path, query }));
  });

  it.each([
    ["kbs:///a/b", "exactly three segments"],
    ["kbs:///a/b/c/d", "exactly three segments"],
    ["kbs:///a//c", "exactly three segments"],
    ["kbs:///a/../c", "exactly three segments"],
    ["kbs:///a/b/.c", "exactly three segments"],
    ["kbs:///a/b/c%20", "exactly three segments"],
    ["kbs:///a/b/c#frag", "no fragment"],
    ["kbs+policy:///a/b/c", "plugin 'policy' is not the resource plugin"],
    ["https://kbs/a/b/c", "expected kbs:///"],
    ["kbs:/a/b/c", "expected kbs:///"],
    ["kbs://host", "expected kbs:///"],
    ["/a/b/c", "exactly three segments"],
    ["", "exactly three segments"],
  ])("%j is refused (%s)", (uri, why) => {
    const e = failed(parseResourceUri(uri));
    expect(e.reason).toBe("bad_resource_uri");
    expect(e.detail).toContain(why);
  });
});
