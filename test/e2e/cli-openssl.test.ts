/**
 * The real CLI against the real `npm run dev` server, checked by an independent implementation:
 * openssl verifies the minted X509-SVIDs strictly for both TLS client and server use, and the
 * private key written to disk matches the certificate.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { opensslOk, pemBlocks, signet, signetOk, tempDir } from "../support/e2e-process";

const url = inject("signetUrl");

let dir: { path: string; remove(): Promise<void> };
beforeAll(async () => {
  dir = await tempDir("signet-e2e-openssl-");
});
afterAll(async () => {
  await dir?.remove();
});

/** `openssl verify` of the leaf, with any further certificates of svid.pem as untrusted intermediates. */
async function verify(out: string, purpose: "sslclient" | "sslserver"): Promise<string> {
  const chain = pemBlocks(await readFile(join(out, "svid.pem"), "utf8"));
  const args = ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", join(out, "bundle.pem")];
  if (chain.length > 1) {
    await writeFile(join(out, "intermediates.pem"), chain.slice(1).join(""));
    args.push("-untrusted", join(out, "intermediates.pem"));
  }
  await writeFile(join(out, "leaf.pem"), chain[0]!);
  args.push(join(out, "leaf.pem"));
  return opensslOk(args);
}

describe.each(["ec-p256", "ec-p384", "rsa-2048"] as const)("signet x509 mint --key-type %s", (keyType) => {
  const spiffeId = `spiffe://example.org/e2e/${keyType}`;
  let out: string;

  beforeAll(async () => {
    out = join(dir.path, keyType);
    const stdout = await signetOk(url, [
      "x509",
      "mint",
      "--spiffe-id",
      spiffeId,
      "--ttl",
      "1h",
      "--dns",
      "localhost",
      "--dns",
      `${keyType}.e2e.example.org`,
      "--key-type",
      keyType,
      "--write",
      out,
    ]);
    expect(stdout).toContain(spiffeId);
  });

  it("writes a certificate that openssl verifies strictly for TLS client use", async () => {
    expect((await verify(out, "sslclient")).trim()).toBe(`${join(out, "leaf.pem")}: OK`);
  });

  it("writes a certificate that openssl verifies strictly for TLS server use", async () => {
    expect((await verify(out, "sslserver")).trim()).toBe(`${join(out, "leaf.pem")}: OK`);
  });

  it("puts the SPIFFE ID and the DNS names in the subjectAltName", async () => {
    const text = await opensslOk(["x509", "-in", join(out, "svid.pem"), "-noout", "-ext", "subjectAltName"]);
    expect(text).toContain(`URI:${spiffeId}`);
    expect(text).toContain("DNS:localhost");
    expect(text).toContain(`DNS:${keyType}.e2e.example.org`);
  });

  it("writes key.pem with mode 0600 and the certificate's key pair", async () => {
    const key = join(out, "key.pem");
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    const fromKey = await opensslOk(["pkey", "-in", key, "-pubout"]);
    const fromCert = await opensslOk(["x509", "-in", join(out, "svid.pem"), "-pubkey", "-noout"]);
    expect(fromKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(fromKey).toBe(fromCert);
  });

  it("issues the key type asked for", async () => {
    const text = await opensslOk(["pkey", "-in", join(out, "key.pem"), "-noout", "-text"]);
    if (keyType === "rsa-2048") expect(text).toMatch(/Private-Key: \(2048 bit/);
    else expect(text).toContain(keyType === "ec-p256" ? "NIST CURVE: P-256" : "NIST CURVE: P-384");
  });
});

describe("signet bundle show", () => {
  it("prints the same authorities as the bundle.pem written by x509 mint", async () => {
    const out = join(dir.path, "bundle-check");
    await signetOk(url, ["x509", "mint", "--spiffe-id", "spiffe://example.org/e2e/bundle", "--write", out]);
    const written = pemBlocks(await readFile(join(out, "bundle.pem"), "utf8"));
    const shown = await signetOk(url, ["bundle", "show"]);
    const printed = pemBlocks(shown);
    expect(written.length).toBeGreaterThan(0);
    expect(new Set(printed)).toEqual(new Set(written));
    // Each printed authority is a CA certificate openssl can read.
    const first = await opensslOk(["x509", "-noout", "-ext", "basicConstraints"], printed[0]!);
    expect(first).toContain("CA:TRUE");
  });

  it("prints the SPIFFE bundle document with --format spiffe", async () => {
    const doc = JSON.parse(await signetOk(url, ["bundle", "show", "--format", "spiffe"])) as Record<string, unknown>;
    expect(Number.isSafeInteger(doc.spiffe_sequence)).toBe(true);
    expect(Array.isArray(doc.keys)).toBe(true);
    const uses = (doc.keys as { use?: unknown }[]).map((k) => k.use);
    expect(uses).toContain("x509-svid");
    expect(uses).toContain("jwt-svid");
  });

  it("rejects an unknown --format as a usage error", async () => {
    const r = await signet(url, ["bundle", "show", "--format", "der"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^signet: /);
  });
});
