/**
 * Bad input on the admin surface: every case gets a 4xx application/problem+json with a stable code,
 * never a 500, and nothing is written (the published bundle does not change).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { adminPost, call, problemOf, ADMIN_TOKEN } from "../support/worker-client";
import { bytesToB64, newKeyPair, spkiB64, x509 } from "../support/x509";

let publicKey: string;
let validCsrPem: string;
let sequenceBefore: number;

async function sequence(): Promise<number> {
  return ((await (await call("/bundle")).json()) as { spiffe_sequence: number }).spiffe_sequence;
}

beforeAll(async () => {
  const pair = await newKeyPair();
  publicKey = await spkiB64(pair);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=w", keys: pair, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
  validCsrPem = csr.toString("pem");
  sequenceBefore = await sequence();
});

function tamperedCsr(): string {
  const der = new Uint8Array(new x509.Pkcs10CertificateRequest(validCsrPem).rawData);
  der[der.length - 5]! ^= 0x01; // inside the signature
  return bytesToB64(der);
}

const id = "spiffe://example.org/workload";

describe("POST /admin/v1/svids/x509 rejects", () => {
  const cases: [string, () => unknown, number, string][] = [
    ["an empty SPIFFE ID", () => ({ spiffe_id: "", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a non-spiffe scheme", () => ({ spiffe_id: "https://example.org/w", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["an upper-case scheme", () => ({ spiffe_id: "SPIFFE://example.org/w", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["an upper-case trust domain", () => ({ spiffe_id: "spiffe://Example.org/w", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a port", () => ({ spiffe_id: "spiffe://example.org:443/w", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["userinfo", () => ({ spiffe_id: "spiffe://u@example.org/w", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a query", () => ({ spiffe_id: "spiffe://example.org/w?x=1", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a fragment", () => ({ spiffe_id: "spiffe://example.org/w#f", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["percent-encoding", () => ({ spiffe_id: "spiffe://example.org/w%20x", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["an empty segment", () => ({ spiffe_id: "spiffe://example.org/a//b", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a dot segment", () => ({ spiffe_id: "spiffe://example.org/a/../b", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a trailing slash", () => ({ spiffe_id: "spiffe://example.org/a/", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a bad path character", () => ({ spiffe_id: "spiffe://example.org/a b", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["an ID over 2048 bytes", () => ({ spiffe_id: `spiffe://example.org/${"a".repeat(2040)}`, public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["the trust domain's root ID (no path)", () => ({ spiffe_id: "spiffe://example.org", public_key: publicKey }), 400, "invalid_spiffe_id"],
    ["a foreign trust domain", () => ({ spiffe_id: "spiffe://other.org/w", public_key: publicKey }), 400, "foreign_trust_domain"],
    ["a public key that is not base64", () => ({ spiffe_id: id, public_key: "not base64!" }), 400, "invalid_public_key"],
    ["a public key that is not an SPKI", () => ({ spiffe_id: id, public_key: btoa("garbage-garbage") }), 400, "invalid_public_key"],
    ["both public_key and csr", () => ({ spiffe_id: id, public_key: publicKey, csr: validCsrPem }), 400, "invalid_request"],
    ["neither public_key nor csr", () => ({ spiffe_id: id }), 400, "invalid_request"],
    ["a malformed CSR", () => ({ spiffe_id: id, csr: btoa("not a csr at all") }), 400, "invalid_csr"],
    ["a CSR that is not PEM or base64", () => ({ spiffe_id: id, csr: "%%%" }), 400, "invalid_csr"],
    ["a mis-signed CSR", () => ({ spiffe_id: id, csr: tamperedCsr() }), 400, "bad_csr_signature"],
    ["a zero TTL", () => ({ spiffe_id: id, public_key: publicKey, ttl: 0 }), 400, "invalid_request"],
    ["a negative TTL", () => ({ spiffe_id: id, public_key: publicKey, ttl: -5 }), 400, "invalid_request"],
    ["a fractional TTL", () => ({ spiffe_id: id, public_key: publicKey, ttl: 1.5 }), 400, "invalid_request"],
    ["a TTL longer than the CA lifetime", () => ({ spiffe_id: id, public_key: publicKey, ttl: 10 * 86400 }), 400, "invalid_ttl"],
    ["a string TTL", () => ({ spiffe_id: id, public_key: publicKey, ttl: "1h" }), 400, "invalid_request"],
    ["an invalid DNS name", () => ({ spiffe_id: id, public_key: publicKey, dns_names: ["-bad-.example"] }), 400, "invalid_dns_name"],
    ["an IP address as DNS name", () => ({ spiffe_id: id, public_key: publicKey, dns_names: ["10.0.0.1"] }), 400, "invalid_dns_name"],
    ["an unknown field", () => ({ spiffe_id: id, public_key: publicKey, admin: true }), 400, "unknown_field"],
    ["a body that is not an object", () => [1, 2, 3], 400, "invalid_request"],
    ["malformed JSON", () => "{", 400, "malformed_json"],
  ];

  it.each(cases)("%s", async (_name, body, status, code) => {
    const res = await adminPost("/admin/v1/svids/x509", body());
    const problem = await problemOf(res);
    expect(res.status).toBe(status);
    expect(problem).toMatchObject({ status, code, type: `urn:signet:problem:${code}` });
    expect(problem.detail.length).toBeGreaterThan(0);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  });
});

describe("POST /admin/v1/svids/jwt rejects", () => {
  const cases: [string, unknown, number, string][] = [
    ["no audience", { spiffe_id: id, audience: [] }, 400, "invalid_request"],
    ["an empty audience", { spiffe_id: id, audience: [""] }, 400, "invalid_request"],
    ["a missing audience", { spiffe_id: id }, 400, "invalid_request"],
    ["an unsupported alg", { spiffe_id: id, audience: ["a"], alg: "HS256" }, 400, "invalid_request"],
    ["alg none", { spiffe_id: id, audience: ["a"], alg: "none" }, 400, "invalid_request"],
    ["a foreign trust domain", { spiffe_id: "spiffe://other.org/x", audience: ["a"] }, 400, "foreign_trust_domain"],
    ["an invalid SPIFFE ID", { spiffe_id: "spiffe://example.org/a/../b", audience: ["a"] }, 400, "invalid_spiffe_id"],
    ["a TTL longer than the key lifetime", { spiffe_id: id, audience: ["a"], ttl: 30 * 86400 }, 400, "invalid_ttl"],
    ["an unknown field", { spiffe_id: id, audience: ["a"], claims: { admin: true } }, 400, "unknown_field"],
  ];

  it.each(cases)("%s", async (_name, body, status, code) => {
    const res = await adminPost("/admin/v1/svids/jwt", body);
    expect(res.status).toBe(status);
    expect(await problemOf(res)).toMatchObject({ status, code });
  });
});

describe("admin authentication and transport limits", () => {
  const body = () => JSON.stringify({ spiffe_id: id, public_key: publicKey });

  it.each([
    ["no Authorization header", undefined],
    ["a wrong token", "Bearer wrong-token-wrong-token-wrong-token-000"],
    ["a token with a suffix", `Bearer ${ADMIN_TOKEN}x`],
    ["a prefix of the token", `Bearer ${ADMIN_TOKEN.slice(0, -1)}`],
    ["another scheme", `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}`],
    ["another scheme in lower case", `basic ${btoa(`admin:${ADMIN_TOKEN}`)}`],
    ["the scheme alone", "Bearer"],
    ["the scheme and spaces", "Bearer   "],
    ["the token alone", ADMIN_TOKEN],
    ["no space after the scheme", `Bearer${ADMIN_TOKEN}`],
    ["a tab after the scheme", `Bearer\t${ADMIN_TOKEN}`],
    ["a comma after the scheme", `Bearer,${ADMIN_TOKEN}`],
    ["a second word after the token", `Bearer ${ADMIN_TOKEN} extra`],
    ["the token twice", `Bearer ${ADMIN_TOKEN}, Bearer ${ADMIN_TOKEN}`],
    ["a longer scheme", `Bearers ${ADMIN_TOKEN}`],
  ])("401 with %s", async (_name, authorization) => {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (authorization) headers.Authorization = authorization;
    const res = await call("/admin/v1/svids/x509", { method: "POST", headers, body: body() });
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
    expect(await problemOf(res)).toMatchObject({ code: "unauthorized" });
  });

  // RFC 7235 §2.1: the auth-scheme is case-insensitive, and 1*SP separates it from the credentials.
  it.each([
    ["a lower-case scheme", `bearer ${ADMIN_TOKEN}`],
    ["an upper-case scheme", `BEARER ${ADMIN_TOKEN}`],
    ["a mixed-case scheme", `bEaReR ${ADMIN_TOKEN}`],
    ["two spaces after the scheme", `Bearer  ${ADMIN_TOKEN}`],
    ["a lower-case scheme and three spaces", `bearer   ${ADMIN_TOKEN}`],
  ])("accepts %s (the request reaches validation)", async (_name, authorization) => {
    const res = await call("/admin/v1/svids/x509", { method: "POST", headers: { Authorization: authorization, "Content-Type": "application/json" }, body: JSON.stringify({ spiffe_id: id }) });
    expect(res.status).toBe(400);
    expect(await problemOf(res)).toMatchObject({ code: "invalid_request" });
  });

  it("415 without a JSON content type", async () => {
    const res = await adminPost("/admin/v1/svids/x509", body(), { "Content-Type": "text/plain" });
    expect(res.status).toBe(415);
    expect(await problemOf(res)).toMatchObject({ code: "unsupported_media_type" });
  });

  it("413 for an oversized body", async () => {
    const res = await adminPost("/admin/v1/svids/x509", JSON.stringify({ spiffe_id: id, public_key: "A".repeat(70 * 1024) }));
    expect(res.status).toBe(413);
    expect(await problemOf(res)).toMatchObject({ code: "payload_too_large" });
  });

  it("404 problem for an unknown route, 404 for GET on a POST route", async () => {
    for (const path of ["/nope", "/admin/v1/nope"]) {
      const res = await call(path, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(404);
      expect(await problemOf(res)).toMatchObject({ code: "not_found" });
    }
  });

  it("nothing was written: the bundle sequence did not move", async () => {
    expect(await sequence()).toBe(sequenceBefore);
  });
});

describe("health", () => {
  it("GET /healthz reports the trust domain", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", trust_domain: "example.org", spiffe_sequence: expect.any(Number) });
  });
});

describe("DNS names over HTTP", () => {
  it("40 spellings of one name (under the 128-entry body cap) mint one SAN; 33 distinct names are refused", async () => {
    const spellings = Array.from({ length: 40 }, (_, i) => [...`web${"x".repeat(i % 3)}.example.org`].map((ch, j) => ((i >> j) & 1 ? ch.toUpperCase() : ch)).join(""));
    const distinct = new Set(spellings.map((s) => s.toLowerCase()));
    const res = await adminPost("/admin/v1/svids/x509", { spiffe_id: id, public_key: publicKey, dns_names: spellings });
    expect(res.status).toBe(200);
    const { cert_chain } = (await res.json()) as { cert_chain: string[] };
    const san = new x509.X509Certificate(cert_chain[0]!).getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.filter((n) => n.type === "dns").map((n) => n.value).sort()).toEqual([...distinct].sort());
    const tooMany = Array.from({ length: 33 }, (_, i) => `w${i}.example.org`);
    const refused = await adminPost("/admin/v1/svids/x509", { spiffe_id: id, public_key: publicKey, dns_names: tooMany });
    expect(refused.status).toBe(400);
    expect((await problemOf(refused)).code).toBe("invalid_dns_name");
  });
});
