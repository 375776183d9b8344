/**
 * SPIFFE conformance, clause by clause (specs/spiffe.md §1.2–§1.5, §2.7; README.md in this folder maps
 * each test to its clause). Everything goes through the Worker's HTTP surface, as a client sees it.
 */
import { describe, expect, it, beforeAll } from "vitest";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { adminPost, call, ORIGIN } from "../support/worker-client";
import { b64ToBytes, newKeyPair, spkiB64, x509 } from "../support/x509";

interface BundleDoc {
  keys: { kty: string; use: string; kid?: string; x5c?: string[]; crv?: string; x?: string; y?: string; n?: string; e?: string }[];
  spiffe_sequence: number;
  spiffe_refresh_hint: number;
}

interface MintedX509 {
  spiffe_id: string;
  cert_chain: string[];
  expires_at: number;
  x509_authorities: string[];
}

const KU = x509.KeyUsageFlags;

async function mintX509(body: Record<string, unknown>): Promise<MintedX509> {
  const res = await adminPost("/admin/v1/svids/x509", body);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as MintedX509;
}

async function bundle(): Promise<BundleDoc> {
  const res = await call("/bundle");
  expect(res.status).toBe(200);
  return (await res.json()) as BundleDoc;
}

describe("X509-SVID (SPIFFE X509-SVID §2–§5)", () => {
  let leaf: x509.X509Certificate;
  let ca: x509.X509Certificate;
  let minted: MintedX509;

  beforeAll(async () => {
    const pair = await newKeyPair();
    minted = await mintX509({ spiffe_id: "spiffe://example.org/ns/prod/sa/web", public_key: await spkiB64(pair), ttl: 3600, dns_names: ["web.example.org", "alt.example.org"] });
    leaf = new x509.X509Certificate(b64ToBytes(minted.cert_chain[0]!));
    ca = new x509.X509Certificate(b64ToBytes(minted.x509_authorities[minted.x509_authorities.length - 1]!));
  });

  it("§2: the leaf carries exactly one URI SAN, the SPIFFE ID, and may carry DNS SANs", () => {
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
    const uris = san.names.items.filter((n) => n.type === "url").map((n) => n.value);
    expect(uris).toEqual(["spiffe://example.org/ns/prod/sa/web"]);
    expect(san.names.items.filter((n) => n.type === "dns").map((n) => n.value)).toEqual(["web.example.org", "alt.example.org"]);
  });

  it("§3 / §4.1: leaf basicConstraints has cA=false", () => {
    const bc = leaf.getExtension(x509.BasicConstraintsExtension)!;
    expect(bc.ca).toBe(false);
    expect(bc.critical).toBe(true);
  });

  it("§4.3: key usage is present, critical, has digitalSignature and neither keyCertSign nor cRLSign", () => {
    const ku = leaf.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.critical).toBe(true);
    expect(ku.usages & KU.digitalSignature).toBeTruthy();
    expect(ku.usages & KU.keyCertSign).toBeFalsy();
    expect(ku.usages & KU.cRLSign).toBeFalsy();
  });

  it("§4.4: extended key usage includes both serverAuth and clientAuth", () => {
    const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension)!;
    expect(eku.usages).toEqual(expect.arrayContaining([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]));
  });

  it("§5: the leaf validates to a bundle CA, is within the CA lifetime, and has a non-root SPIFFE ID", async () => {
    expect(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    expect(leaf.issuer).toBe(ca.subject);
    expect(leaf.notAfter.getTime()).toBeLessThanOrEqual(ca.notAfter.getTime());
    expect(Math.round(leaf.notAfter.getTime() / 1000)).toBe(minted.expires_at);
  });

  it("§4.1 (signing certificates): the CA has cA=true, keyCertSign, and the trust domain's root SPIFFE ID", () => {
    const bc = ca.getExtension(x509.BasicConstraintsExtension)!;
    expect(bc.ca).toBe(true);
    expect(bc.critical).toBe(true);
    const ku = ca.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.usages & KU.keyCertSign).toBeTruthy();
    const san = ca.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.map((n) => `${n.type}:${n.value}`)).toEqual(["url:spiffe://example.org"]);
    expect(ca.subject).toBe(ca.issuer);
  });

  it("the leaf's authority key identifier is the CA's subject key identifier", () => {
    const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension)!;
    const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension)!;
    expect(aki.keyId).toBe(ski.keyId);
  });

  it("serial numbers are positive and unique", async () => {
    const pair = await newKeyPair();
    const pk = await spkiB64(pair);
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const m = await mintX509({ spiffe_id: "spiffe://example.org/serials", public_key: pk });
      const cert = new x509.X509Certificate(b64ToBytes(m.cert_chain[0]!));
      expect(cert.serialNumber.length).toBeLessThanOrEqual(40);
      expect(parseInt(cert.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80);
      serials.add(cert.serialNumber);
    }
    expect(serials.size).toBe(20);
  });

  it.each(["ec-p256", "ec-p384", "rsa-2048"] as const)("issues for %s workload keys, with the key usage that fits the key", async (kind) => {
    const pair = await newKeyPair(kind);
    const m = await mintX509({ spiffe_id: `spiffe://example.org/keys/${kind}`, public_key: await spkiB64(pair) });
    const cert = new x509.X509Certificate(b64ToBytes(m.cert_chain[0]!));
    const spki = new Uint8Array(cert.publicKey.rawData);
    expect(spki).toEqual(b64ToBytes(await spkiB64(pair)));
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    if (kind === "rsa-2048") expect(ku.usages & KU.keyEncipherment).toBeTruthy();
    else expect(ku.usages & KU.keyAgreement).toBeTruthy();
  });

  it("uses only the public key of a CSR (its subject and extensions are ignored)", async () => {
    const pair = await newKeyPair();
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=evil,O=Attacker",
      keys: pair,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: "spiffe://evil.org/x" }])],
    });
    const m = await mintX509({ spiffe_id: "spiffe://example.org/from-csr", csr: csr.toString("pem") });
    const cert = new x509.X509Certificate(b64ToBytes(m.cert_chain[0]!));
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.map((n) => n.value)).toEqual(["spiffe://example.org/from-csr"]);
    expect(cert.subject).not.toContain("evil");
    expect(new Uint8Array(cert.publicKey.rawData)).toEqual(b64ToBytes(await spkiB64(pair)));
  });
});

describe("JWT-SVID (SPIFFE JWT-SVID §2–§3) and OIDC discovery (SPIRE OIDC provider)", () => {
  it.each(["ES256", "RS256"] as const)("%s: header {alg,kid,typ}, claims sub/aud/exp/iat/iss, verifiable through discovery", async (alg) => {
    const res = await adminPost("/admin/v1/svids/jwt", { spiffe_id: "spiffe://example.org/api", audience: ["vault", "aws"], ttl: 300, alg });
    expect(res.status).toBe(200);
    const { token, expires_at, spiffe_id } = (await res.json()) as { token: string; expires_at: number; spiffe_id: string };
    expect(spiffe_id).toBe("spiffe://example.org/api");
    const header = decodeProtectedHeader(token);
    expect(Object.keys(header).sort()).toEqual(["alg", "kid", "typ"]);
    expect(header).toMatchObject({ alg, typ: "JWT" });

    const discovery = (await (await call("/.well-known/openid-configuration")).json()) as { issuer: string; jwks_uri: string };
    expect(discovery.issuer).toBe(ORIGIN);
    expect(discovery.jwks_uri).toBe(`${ORIGIN}/keys`);
    const jwks = (await (await call(new URL(discovery.jwks_uri).pathname)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: discovery.issuer, audience: "vault", algorithms: [alg] });
    expect(payload.sub).toBe("spiffe://example.org/api");
    expect(payload.aud).toEqual(["vault", "aws"]);
    expect(payload.exp).toBe(expires_at);
    expect(Number.isInteger(payload.iat)).toBe(true);
    expect(payload.exp! - payload.iat!).toBe(300);
    // Integer times, never scientific notation (AWS STS rejects it).
    const claimsJson = atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"));
    expect(claimsJson).toMatch(/"exp":\d+[,}]/);
    expect(claimsJson).toMatch(/"iat":\d+[,}]/);
  });

  it("discovery document has SPIRE's shape and no-cache headers", async () => {
    const res = await call("/.well-known/openid-configuration");
    expect(res.headers.get("Cache-Control")).toBe("no-cache, no-store, must-revalidate");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await res.json()).toEqual({
      issuer: ORIGIN,
      jwks_uri: `${ORIGIN}/keys`,
      authorization_endpoint: "",
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["ES256", "RS256"],
    });
  });

  it("JWKS holds JWT keys only, each with kid and alg, public parameters only", async () => {
    const res = await call("/keys");
    expect(res.headers.get("Cache-Control")).toBe("no-cache, no-store, must-revalidate");
    const jwks = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
    for (const k of jwks.keys) {
      expect(typeof k.kid).toBe("string");
      expect(k.kid).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(["ES256", "RS256"]).toContain(k.alg);
      expect(k.x5c).toBeUndefined();
      for (const priv of ["d", "p", "q", "dp", "dq", "qi"]) expect(k[priv]).toBeUndefined();
    }
    expect(new Set(jwks.keys.map((k) => k.alg))).toEqual(new Set(["ES256", "RS256"]));
  });
});

describe("Bundle endpoint (SPIFFE Trust Domain and Bundle §4, Federation §5 https_web)", () => {
  it("serves JSON without client authentication, with sequence and refresh hint", async () => {
    const res = await call("/bundle");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    const doc = await bundle();
    expect(Number.isInteger(doc.spiffe_sequence)).toBe(true);
    expect(doc.spiffe_sequence).toBeGreaterThanOrEqual(1);
    expect(doc.spiffe_refresh_hint).toBe(300);
  });

  it("x509-svid entries: exactly one x5c (standard base64 DER), no kid, key parameters matching the certificate, EC coordinates full length", async () => {
    const doc = await bundle();
    const entries = doc.keys.filter((k) => k.use === "x509-svid");
    expect(entries.length).toBeGreaterThanOrEqual(1);
    for (const e of entries) {
      expect(e.kid).toBeUndefined();
      expect(e.x5c).toHaveLength(1);
      expect(e.x5c![0]).toMatch(/^[A-Za-z0-9+/]+=*$/);
      const cert = new x509.X509Certificate(b64ToBytes(e.x5c![0]!));
      expect(await cert.isSelfSigned()).toBe(true);
      const key = await cert.publicKey.export();
      const jwk = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
      expect(e.kty).toBe(jwk.kty);
      if (jwk.kty === "EC") {
        expect({ crv: e.crv, x: e.x, y: e.y }).toEqual({ crv: jwk.crv, x: jwk.x, y: jwk.y });
        const size = jwk.crv === "P-256" ? 32 : 48;
        expect(atob(e.x!.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (e.x!.length % 4)) % 4)).length).toBe(size);
      } else {
        expect({ n: e.n, e: e.e }).toEqual({ n: jwk.n, e: jwk.e });
      }
    }
  });

  it("jwt-svid entries carry their kid, the same keys as the OIDC JWKS", async () => {
    const doc = await bundle();
    const jwt = doc.keys.filter((k) => k.use === "jwt-svid");
    const jwks = (await (await call("/keys")).json()) as { keys: { kid: string; x?: string; n?: string }[] };
    expect(jwt.map((k) => k.kid).sort()).toEqual(jwks.keys.map((k) => k.kid).sort());
    for (const k of jwt) expect(k.x5c).toBeUndefined();
  });

  it("only x509-svid and jwt-svid uses appear, and no private key material", async () => {
    const doc = await bundle();
    for (const k of doc.keys) {
      expect(["x509-svid", "jwt-svid"]).toContain(k.use);
      expect((k as Record<string, unknown>).d).toBeUndefined();
    }
  });
});
