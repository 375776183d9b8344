/** issueX509Svids and DNS SANs: names equal after lowercasing become one SAN, counted once. */
import { beforeAll, describe, expect, it } from "vitest";
import { readCaCertificate } from "../../../src/lib/ca/ca-certificate";
import { issueX509Svids, type IssueOptions, type X509Issuer } from "../../../src/lib/ca/issue";
import { parseTrustDomain } from "../../../src/lib/spiffe/id";
import { testCa, testKey, TRUST_DOMAIN, x509 } from "./x509-test-kit";

const SPIFFE_ID = "spiffe://example.org/ns/prod/sa/web";

let issuer: X509Issuer;
let options: IssueOptions;
let spki: Uint8Array;

beforeAll(async () => {
  const now = Date.now();
  const ca = await testCa("ec-p256", now);
  const info = await readCaCertificate(ca.der, "ec-p256");
  const td = parseTrustDomain(TRUST_DOMAIN);
  if (!info.ok || !td.ok) throw new Error("fixture");
  issuer = { key: ca.key.pair.privateKey, ca: info.value, notBefore: ca.notBefore, notAfter: ca.notAfter };
  options = { trustDomain: td.value, maxTtlSeconds: 24 * 3600, now };
  spki = (await testKey("ec-p256", "leaf")).spki;
});

async function issue(dnsNames: string[]) {
  const [r] = await issueX509Svids(issuer, [{ spiffeId: SPIFFE_ID, publicKey: spki, ttlSeconds: 600, dnsNames }], options);
  return r!;
}

function sans(der: Uint8Array): string[] {
  const cert = new x509.X509Certificate(der);
  return cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON().map((n) => `${n.type}:${n.value}`);
}

describe("issueX509Svids: DNS SANs", () => {
  it("writes names equal after lowercasing once, lowercased, in first-seen order", async () => {
    const r = await issue(["Web.Example.org", "alt.example.org", "web.example.org", "WEB.EXAMPLE.ORG", "ALT.example.org"]);
    if (!r.ok) throw new Error(r.error.detail);
    const der = r.value.certChain[0]!;
    expect(sans(der)).toEqual([`url:${SPIFFE_ID}`, "dns:web.example.org", "dns:alt.example.org"]);
    expect(new x509.X509Certificate(der).subject).toBe("C=US, O=Signet, CN=web.example.org");
  });

  it("counts distinct names against the limit of 32, not spellings", async () => {
    const spellings = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? "api.example.org" : "API.example.org"));
    const many = await issue(spellings);
    expect(many.ok && sans(many.value.certChain[0]!)).toEqual([`url:${SPIFFE_ID}`, "dns:api.example.org"]);
    const distinct = Array.from({ length: 33 }, (_, i) => `h${i}.example.org`);
    expect(await issue(distinct)).toMatchObject({ ok: false, error: { reason: "invalid_dns_name" } });
    expect((await issue(distinct.slice(0, 32))).ok).toBe(true);
  });

  it("still refuses an invalid name with invalid_dns_name, naming it", async () => {
    const r = await issue(["ok.example.org", "bad_name"]);
    expect(r).toMatchObject({ ok: false, error: { reason: "invalid_dns_name" } });
    expect(!r.ok && r.error.detail).toMatch(/^"bad_name": /);
  });
});
