/**
 * What `signet-agent helper` writes (src/agent/helper-files.ts) for a chain with an intermediate:
 * add_intermediates_to_bundle, omit_expired, hint, include_federated_domains, a chain that does not
 * verify (nothing to write), and the JWT refresh rule; plus the health-check endpoint of a running
 * daemon.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { X509SvidResponse } from "../../../src/agent/api-messages";
import { parseHelperConfig, type HelperConfig } from "../../../src/agent/helper-config";
import { jwtRefreshDelay, renderX509 } from "../../../src/agent/helper-files";
import { main } from "../../../src/agent/main";
import { startWorkloadApi, type WorkloadApiServer } from "../../../src/agent/workload";
import { issueIdentity, MemoryAgentState, trustDomainMaterial, type TrustDomainMaterial } from "../../support/agent-state";
import { x509 } from "../../support/x509";

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const ME = "spiffe://example.org/me";

function cfg(extra = ""): HelperConfig {
  const r = parseHelperConfig(`svid_file_name = "s.pem"\nsvid_key_file_name = "s.key"\nsvid_bundle_file_name = "b.pem"\n${extra}`);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const concat = (...parts: ArrayBuffer[]): Uint8Array => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
const pems = (s: string | Uint8Array): number => (String(s).match(/BEGIN CERTIFICATE/g) ?? []).length;

let own: TrustDomainMaterial;
let peer: TrustDomainMaterial;
let response: X509SvidResponse;
let expiredCa: x509.X509Certificate;
let inter: x509.X509Certificate;

beforeAll(async () => {
  own = await trustDomainMaterial("example.org");
  peer = await trustDomainMaterial("peer.org");
  const now = Date.now();
  const interKeys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  inter = await x509.X509CertificateGenerator.create({
    serialNumber: "0a",
    subject: "CN=intermediate",
    issuer: own.ca.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY),
    publicKey: interKeys.publicKey,
    signingKey: own.caKeys.privateKey,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leafKeys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "0b",
    subject: "O=Signet",
    issuer: inter.subject,
    notBefore: new Date(now - 1000),
    notAfter: new Date(now + 3_600_000),
    publicKey: leafKeys.publicKey,
    signingKey: interKeys.privateKey,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: "url", value: ME }])],
  });
  const oldKeys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  expiredCa = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: "0c", name: "CN=expired CA", notBefore: new Date(now - 3 * DAY), notAfter: new Date(now - DAY), keys: oldKeys, signingAlgorithm: EC, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
  const key = new Uint8Array((await crypto.subtle.exportKey("pkcs8", leafKeys.privateKey)) as ArrayBuffer);
  response = {
    svids: [
      { spiffeId: "spiffe://example.org/first", ...(await other()), hint: "" },
      { spiffeId: ME, x509Svid: concat(leaf.rawData, inter.rawData), x509SvidKey: key, bundle: concat(own.ca.rawData, expiredCa.rawData), hint: "web" },
    ],
    crl: [],
    federatedBundles: new Map([["spiffe://peer.org", new Uint8Array(peer.ca.rawData)]]),
  };
});

async function other(): Promise<{ x509Svid: Uint8Array; x509SvidKey: Uint8Array; bundle: Uint8Array }> {
  const id = await issueIdentity(own, { spiffeId: "spiffe://example.org/first", selectors: [] });
  return { x509Svid: id.chain[0]!, x509SvidKey: id.privateKeyPkcs8, bundle: new Uint8Array(own.ca.rawData) };
}

describe("renderX509", () => {
  it("hint picks the SVID; leaf + intermediates, then the bundle; add_intermediates_to_bundle moves them; omit_expired drops expired CAs", () => {
    const plain = renderX509(cfg(`hint = "web"`), response, Date.now());
    expect(plain.ok && plain.value.spiffeId).toBe(ME);
    if (!plain.ok) return;
    const [svid, key, bundle] = plain.value.files;
    expect([pems(svid!.contents), pems(bundle!.contents)]).toEqual([2, 2]);
    expect(String(key!.contents)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect([svid!.mode, key!.mode, bundle!.mode]).toEqual([0o644, 0o600, 0o644]);

    const moved = renderX509(cfg(`hint = "web"\nadd_intermediates_to_bundle = true\nomit_expired = true\ninclude_federated_domains = true`), response, Date.now());
    if (!moved.ok) throw new Error(moved.error);
    const [s2, , b2] = moved.value.files;
    expect(pems(s2!.contents)).toBe(1);
    // own CA, intermediate, peer CA; the expired CA left out.
    const subjects = String(b2!.contents).match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.map((p) => new x509.X509Certificate(p).subject);
    expect(subjects).toEqual([own.ca.subject, inter.subject, peer.ca.subject]);

    const first = renderX509(cfg(), response, Date.now());
    expect(first.ok && first.value.spiffeId).toBe("spiffe://example.org/first");
    expect(renderX509(cfg(`hint = "nope"`), response, Date.now())).toMatchObject({ ok: false, error: expect.stringMatching(/no X.509-SVID with hint "nope"/) });
  });

  it("a chain that does not verify against its bundle is not rendered", () => {
    const broken: X509SvidResponse = { ...response, svids: [{ ...response.svids[1]!, bundle: new Uint8Array(peer.ca.rawData) }] };
    expect(renderX509(cfg(), broken, Date.now())).toMatchObject({ ok: false, error: expect.stringMatching(/failed verification against the bundle/) });
  });

  it("JWT-SVIDs are fetched again at half their remaining life plus a second", () => {
    expect(jwtRefreshDelay(1_000_000 + 300_000, 1_000_000)).toBe(151_000);
    expect(jwtRefreshDelay(1_000_000, 1_000_000)).toBe(1000);
    expect(jwtRefreshDelay(undefined, 0)).toBe(60_000);
  });
});

describe("health_checks", () => {
  const dir = mkdtempSync(join(tmpdir(), "signet-helper-health-"));
  let server: WorkloadApiServer;
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves /live and /ready with the write statuses", async () => {
    const state = new MemoryAgentState(own);
    state.setIdentities([await issueIdentity(own, { spiffeId: ME, selectors: [`unix:uid:${process.getuid!()}`] })]);
    server = await startWorkloadApi({ socket: join(dir, "agent.sock"), state });
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    writeFileSync(join(dir, "h.conf"), `agent_address = "${join(dir, "agent.sock")}"\ncert_dir = "out"\nsvid_file_name = "s.pem"\nsvid_key_file_name = "s.key"\nsvid_bundle_file_name = "b.pem"\nhealth_checks {\n  listener_enabled = true\n  bind_port = ${port}\n}\n`);
    const controller = new AbortController();
    let err = "";
    const done = main({ argv: ["helper", "-config", "h.conf"], env: {}, cwd: dir, stdout: () => undefined, stderr: (s) => void (err += s), signal: controller.signal });
    try {
      const end = Date.now() + 10_000;
      let ready: Response | undefined;
      while (Date.now() < end) {
        ready = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
        if (ready?.status === 200) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(ready?.status, err).toBe(200);
      expect(await ready!.json()).toEqual({ status: "OK", health: { file_write_statuses: { x509_write_status: "written", jwt_write_status: {} } } });
      expect((await fetch(`http://127.0.0.1:${port}/live`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      controller.abort();
      expect(await done).toBe(0);
    }
  });
});
