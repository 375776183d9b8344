import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, b64, contractHandler, createTestCa, FakeSignetServer, issueLeaf, json, problem, type TestCa } from "./fake-server";
import { runCli, scratchDir } from "./run-cli";

const ID = "spiffe://example.org/ns/prod/sa/api";

let ca: TestCa;
let server: FakeSignetServer;
let cwd: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  ca = await createTestCa();
  server = await FakeSignetServer.start(contractHandler(ca));
});
afterAll(() => server.close());
beforeEach(async () => {
  server.requests.length = 0;
  server.handler = contractHandler(ca);
  cwd = await scratchDir();
});
afterEach(() => cwd.remove());

const mint = (...extra: string[]) =>
  runCli(["x509", "mint", "--spiffe-id", ID, "--write", "out", "--server", server.url, ...extra], {
    cwd: cwd.path,
    env: { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN },
  });

function pemBlocks(pem: string, label: string): string[] {
  return [...pem.matchAll(new RegExp(`-----BEGIN ${label}-----\\n([A-Za-z0-9+/=\\n]+)-----END ${label}-----\\n`, "g"))].map((m) =>
    m[1]!.replace(/\n/g, ""),
  );
}

describe("signet x509 mint", () => {
  it("writes svid.pem (leaf first), key.pem (0600) and bundle.pem, and prints a summary", async () => {
    const run = await mint("--ttl", "1h", "--dns", "api.example.org", "--dns=API2.example.org");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const out = join(cwd.path, "out");
    expect(run.stdout).toBe(`${ID} expires 2030-03-17T17:46:40Z; wrote out/svid.pem, out/key.pem, out/bundle.pem\n`);

    // The request: bearer token, JSON, TTL in seconds, DNS names normalised.
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/admin/v1/svids/x509");
    expect(req.headers.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
    expect(req.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(body).toEqual({ spiffe_id: ID, public_key: expect.any(String), ttl: 3600, dns_names: ["api.example.org", "api2.example.org"] });
    expect(Object.keys(body)).not.toContain("csr");

    // svid.pem: leaf then intermediate; the leaf carries our SPIFFE ID.
    const svid = pemBlocks(await readFile(join(out, "svid.pem"), "utf8"), "CERTIFICATE");
    expect(svid).toHaveLength(2);
    expect(svid[1]).toBe(b64(ca.intermediate.rawData));
    const leaf = new x509.X509Certificate(Buffer.from(svid[0]!, "base64"));
    expect(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) => n.value)).toContain(ID);

    // bundle.pem: the trust anchors.
    expect(pemBlocks(await readFile(join(out, "bundle.pem"), "utf8"), "CERTIFICATE")).toEqual([b64(ca.root.rawData)]);

    // key.pem: PKCS#8, mode 0600, and its public half is what was sent and certified.
    const keyPem = await readFile(join(out, "key.pem"), "utf8");
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect((await stat(join(out, "key.pem"))).mode & 0o777).toBe(0o600);
    const publicDer = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
    expect(body.public_key).toBe(publicDer.toString("base64"));
    expect(Buffer.from(leaf.publicKey.rawData).equals(publicDer)).toBe(true);
    const jwk = createPrivateKey(keyPem).export({ format: "jwk" });
    expect(jwk.crv).toBe("P-256");

    // Nothing else, in particular no temporary files.
    expect((await readdir(out)).sort()).toEqual(["bundle.pem", "key.pem", "svid.pem"]);
  });

  it.each([
    ["ec-p384", "ec", "P-384"],
    ["rsa-2048", "rsa", undefined],
  ])("generates a %s key when asked", async (keyType, asymmetricKeyType, curve) => {
    const run = await mint("--key-type", keyType);
    expect(run.code).toBe(0);
    const key = createPrivateKey(await readFile(join(cwd.path, "out", "key.pem"), "utf8"));
    expect(key.asymmetricKeyType).toBe(asymmetricKeyType);
    if (curve) expect(key.export({ format: "jwk" }).crv).toBe(curve);
    else expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it("sends DNS names equal after lowercasing once, in first-seen order", async () => {
    const run = await mint("--dns", "API.example.org", "--dns", "b.example.org", "--dns", "api.example.org", "--dns", "B.Example.Org");
    expect([run.code, run.stderr]).toEqual([0, ""]);
    const body = JSON.parse(server.requests[0]!.body) as Record<string, unknown>;
    expect(body.dns_names).toEqual(["api.example.org", "b.example.org"]);
  });

  it("omits ttl and dns_names when not given, and replaces earlier files", async () => {
    await mint();
    const firstKey = await readFile(join(cwd.path, "out", "key.pem"), "utf8");
    const run = await mint();
    expect(run.code).toBe(0);
    expect(JSON.parse(server.requests[1]!.body)).toEqual({ spiffe_id: ID, public_key: expect.any(String) });
    expect(await readFile(join(cwd.path, "out", "key.pem"), "utf8")).not.toBe(firstKey);
    expect((await readdir(join(cwd.path, "out"))).sort()).toEqual(["bundle.pem", "key.pem", "svid.pem"]);
  });

  it("writes nothing when the server rejects the request (exit 1, code and detail shown)", async () => {
    server.handler = () => problem(403, "spiffe_id_not_allowed", "Forbidden", "spiffe://example.org/ns/prod/sa/api is outside this trust domain");
    const run = await mint();
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      "signet: Forbidden: spiffe://example.org/ns/prod/sa/api is outside this trust domain (code spiffe_id_not_allowed, HTTP 403)\n",
    );
    expect(await readdir(cwd.path)).toEqual([]);
  });

  it("leaves existing files untouched when the server rejects the request", async () => {
    await mint();
    const before = await readFile(join(cwd.path, "out", "svid.pem"), "utf8");
    server.handler = () => problem(400, "invalid_request", "Bad Request", "ttl exceeds the maximum");
    expect((await mint("--ttl", "1d")).code).toBe(1);
    expect(await readFile(join(cwd.path, "out", "svid.pem"), "utf8")).toBe(before);
    expect((await readdir(join(cwd.path, "out"))).sort()).toEqual(["bundle.pem", "key.pem", "svid.pem"]);
  });

  it("refuses a certificate for a key other than the one sent (exit 3, nothing written)", async () => {
    server.handler = async (req) => {
      const body = JSON.parse(req.body) as { spiffe_id: string };
      const other = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
      const spki = new Uint8Array((await crypto.subtle.exportKey("spki", other.publicKey)) as ArrayBuffer);
      const leaf = await issueLeaf(ca, body.spiffe_id, spki);
      return json(200, { spiffe_id: body.spiffe_id, cert_chain: [b64(leaf.rawData)], expires_at: 1, x509_authorities: [b64(ca.root.rawData)] });
    };
    const run = await mint();
    expect(run.code).toBe(3);
    expect(run.stderr).toBe("signet: the server returned a certificate for a different public key than the one sent\n");
    expect(await readdir(cwd.path)).toEqual([]);
  });

  it.each([
    ["cert_chain missing", { spiffe_id: ID, expires_at: 1, x509_authorities: ["AAAA"] }, /cert_chain/],
    ["cert_chain not base64", { spiffe_id: ID, cert_chain: ["not base64!"], expires_at: 1, x509_authorities: ["AAAA"] }, /cert_chain/],
    ["x509_authorities empty", { spiffe_id: ID, cert_chain: ["AAAA"], expires_at: 1, x509_authorities: [] }, /x509_authorities/],
    ["expires_at missing", { spiffe_id: ID, cert_chain: ["AAAA"], x509_authorities: ["AAAA"] }, /expires_at/],
  ])("treats a malformed answer (%s) as a bad response (exit 3)", async (_name, answer, message) => {
    server.handler = () => json(200, answer);
    const run = await mint();
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(message);
    expect(await readdir(cwd.path)).toEqual([]);
  });

  it("reports a directory it cannot create (exit 1)", async () => {
    await writeFile(join(cwd.path, "out"), "a file, not a directory");
    const run = await mint();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^signet: cannot write .*out: already exists and is not a directory\n$/);
  });

  it("rejects a bad --dns, --key-type or a root SPIFFE ID before contacting the server (exit 2)", async () => {
    const env = { SIGNET_ADMIN_TOKEN: ADMIN_TOKEN };
    const base = ["x509", "mint", "--write", "out", "--server", server.url];
    const dns = await runCli([...base, "--spiffe-id", ID, "--dns", "bad_name"], { cwd: cwd.path, env });
    expect(dns.code).toBe(2);
    expect(dns.stderr).toMatch(/^signet: --dns 'bad_name' is not a valid DNS name: .*\(see 'signet x509 mint --help'\)\n$/);
    const keyType = await runCli([...base, "--spiffe-id", ID, "--key-type", "ed25519"], { cwd: cwd.path, env });
    expect(keyType.code).toBe(2);
    expect(keyType.stderr).toContain("--key-type must be one of ec-p256, ec-p384, rsa-2048; got 'ed25519'");
    const root = await runCli([...base, "--spiffe-id", "spiffe://example.org"], { cwd: cwd.path, env });
    expect(root.code).toBe(2);
    expect(root.stderr).toContain("has no path");
    const write = await runCli(["x509", "mint", "--spiffe-id", ID, "--server", server.url], { cwd: cwd.path, env });
    expect(write.code).toBe(2);
    expect(write.stderr).toContain("missing required flag --write");
    expect(server.requests).toHaveLength(0);
    expect(await readdir(cwd.path)).toEqual([]);
  });
});
