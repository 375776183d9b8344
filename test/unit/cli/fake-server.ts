/**
 * A fake Signet server for the CLI tests: a real node:http server on 127.0.0.1:0 that speaks the
 * admin/bundle contract, signs leaf certificates for the public keys it receives with a test CA made
 * here, and records every request. Tests swap `handler` to script failures.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

x509.cryptoProvider.set(crypto);

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123456789abcdef";
export const JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy93In0.c2lnbmF0dXJl";
export const EXPIRES_AT = 1_900_000_000; // 2030-03-17T17:46:40Z

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface FakeAnswer {
  readonly status: number;
  readonly contentType?: string;
  readonly body: string;
  /** More response headers (e.g. Set-Cookie). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type Handler = (req: RecordedRequest) => FakeAnswer | Promise<FakeAnswer>;

export interface TestCa {
  readonly root: x509.X509Certificate;
  readonly intermediate: x509.X509Certificate;
  readonly intermediateKey: CryptoKey;
}

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export async function createTestCa(): Promise<TestCa> {
  const rootKeys = (await crypto.subtle.generateKey(EC, false, ["sign", "verify"])) as CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=Signet Test Root,O=example.org",
    keys: rootKeys,
    notBefore: new Date("2024-01-01T00:00:00Z"),
    notAfter: new Date("2034-01-01T00:00:00Z"),
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const intermediateKeys = (await crypto.subtle.generateKey(EC, false, ["sign", "verify"])) as CryptoKeyPair;
  const intermediate = await x509.X509CertificateGenerator.create({
    subject: "CN=Signet Test Intermediate,O=example.org",
    issuer: root.subject,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    notBefore: new Date("2024-01-01T00:00:00Z"),
    notAfter: new Date("2033-01-01T00:00:00Z"),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { root, intermediate, intermediateKey: intermediateKeys.privateKey };
}

/** An X509-SVID leaf for `spki` (standard base64 of SPKI DER), signed by the intermediate. */
export async function issueLeaf(ca: TestCa, spiffeId: string, spki: Uint8Array, dnsNames: readonly string[] = []): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject: "O=SPIFFE",
    issuer: ca.intermediate.subject,
    publicKey: spki,
    signingKey: ca.intermediateKey,
    notBefore: new Date("2024-01-01T00:00:00Z"),
    notAfter: new Date(EXPIRES_AT * 1000),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([
        { type: "url", value: spiffeId },
        ...dnsNames.map((value) => ({ type: "dns" as const, value })),
      ]),
    ],
  });
}

export function b64(der: ArrayBuffer | Uint8Array): string {
  return Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
}

export const json = (status: number, body: unknown, contentType = "application/json"): FakeAnswer => ({
  status,
  contentType,
  body: JSON.stringify(body),
});

export const problem = (status: number, code: string, title: string, detail: string): FakeAnswer =>
  json(status, { type: `https://signet.dev/errors/${code}`, title, status, detail, code, instance: "req-1" }, "application/problem+json");

export function bundleDocument(ca: TestCa): unknown {
  return {
    keys: [
      { kty: "EC", crv: "P-256", x: "AAAA", y: "BBBB", use: "x509-svid", x5c: [b64(ca.root.rawData)] },
      { kty: "EC", crv: "P-256", x: "CCCC", y: "DDDD", use: "jwt-svid", kid: "k1" },
    ],
    spiffe_sequence: 7,
    spiffe_refresh_hint: 300,
  };
}

/** The contract's happy paths. */
export function contractHandler(ca: TestCa): Handler {
  return async (req) => {
    if (req.method === "GET" && req.path === "/bundle") return json(200, bundleDocument(ca));
    if (!req.path.startsWith("/admin/v1/")) return problem(404, "not_found", "Not Found", `no route for ${req.path}`);
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) {
      return problem(401, "unauthorized", "Unauthorized", "a valid admin bearer token is required");
    }
    const body = JSON.parse(req.body) as Record<string, unknown>;
    if (req.method === "POST" && req.path === "/admin/v1/svids/x509") {
      const spki = Buffer.from(String(body.public_key), "base64");
      const leaf = await issueLeaf(ca, String(body.spiffe_id), spki, (body.dns_names as string[] | undefined) ?? []);
      return json(200, {
        spiffe_id: body.spiffe_id,
        cert_chain: [b64(leaf.rawData), b64(ca.intermediate.rawData)],
        expires_at: EXPIRES_AT,
        x509_authorities: [b64(ca.root.rawData)],
      });
    }
    if (req.method === "POST" && req.path === "/admin/v1/svids/jwt") {
      return json(200, { spiffe_id: body.spiffe_id, token: JWT, expires_at: EXPIRES_AT });
    }
    return problem(404, "not_found", "Not Found", `no route for ${req.method} ${req.path}`);
  };
}

export class FakeSignetServer {
  readonly requests: RecordedRequest[] = [];
  handler: Handler;
  readonly #server: Server;
  readonly url: string;

  private constructor(server: Server, handler: Handler) {
    this.#server = server;
    this.handler = handler;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(handler: Handler): Promise<FakeSignetServer> {
    const ref: { self?: FakeSignetServer } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const recorded: RecordedRequest = {
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        ref.self!.requests.push(recorded);
        Promise.resolve(ref.self!.handler(recorded)).then(
          (answer) => {
            res.writeHead(answer.status, { ...answer.headers, ...(answer.contentType ? { "content-type": answer.contentType } : {}) });
            res.end(answer.body);
          },
          (e: unknown) => {
            res.writeHead(500, { "content-type": "text/plain" });
            res.end(`fake server error: ${String(e)}`);
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    ref.self = new FakeSignetServer(server, handler);
    return ref.self;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.#server.close((e) => (e ? reject(e) : resolve())));
  }
}

/** A URL on which nothing listens (a port we bound and released). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
