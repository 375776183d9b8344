/**
 * Benchmark Worker (not deployed): the real CertificateAuthority object plus two measuring routes.
 * scripts/bench.mjs bundles it, runs it in workerd through Miniflare and times each route from Node.
 */
import { caFor } from "../src/durable/addresses";
import { parseTrustDomain } from "../src/lib/spiffe/id";
import type { X509SvidRequest } from "../src/lib/ca/issue";

import { handshakeCryptoBench } from "./handshake-crypto";
import { kbsBench } from "./kbs-attest";
import { snpBench } from "./snp";
import { tdxBench } from "./tdx";

export { CertificateAuthority } from "../src/durable/ca";

/** Attestation suites: `/suite/<suite>/<op>?n=` runs n operations, answers how many succeeded. */
const SUITES: Record<string, Record<string, (n: number) => Promise<number>>> = { snp: snpBench, tdx: tdxBench, kbs: kbsBench, handshake: handshakeCryptoBench };

const td = parseTrustDomain("example.org");
if (!td.ok) throw new Error("bad trust domain");

/** A pool of distinct workload public keys, made once per isolate. */
let pool: Uint8Array[] | undefined;
async function publicKeys(): Promise<Uint8Array[]> {
  if (!pool) {
    pool = [];
    for (let i = 0; i < 64; i++) {
      const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
      pool.push(new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer));
    }
  }
  return pool;
}

let signKey: CryptoKey | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? "1000");
    const suite = /^\/suite\/([a-z]+)\/([a-z0-9-]+)$/.exec(url.pathname);
    if (suite) {
      const op = SUITES[suite[1]!]?.[suite[2]!];
      return op ? new Response(String(await op(n))) : new Response("no such suite", { status: 404 });
    }
    if (url.pathname === "/raw-sign") {
      signKey ??= ((await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair).privateKey;
      const data = crypto.getRandomValues(new Uint8Array(400));
      for (let i = 0; i < n; i++) {
        data[0] = i & 0xff;
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signKey, data);
      }
      return new Response(String(n));
    }
    if (url.pathname === "/raw-verify-sign") {
      // What one X.509-SVID from a CSR costs at the least: import the CSR's P-256 key, verify its
      // signature, sign the certificate.
      const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
      const spki = await crypto.subtle.exportKey("spki", pair.publicKey);
      signKey ??= ((await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair).privateKey;
      const csrBody = crypto.getRandomValues(new Uint8Array(200));
      const csrSig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, csrBody);
      const tbs = crypto.getRandomValues(new Uint8Array(400));
      let done = 0;
      for (let i = 0; i < n; i++) {
        tbs[0] = i & 0xff;
        const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
        if (await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, csrSig, csrBody)) done++;
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signKey, tbs);
      }
      return new Response(String(done));
    }
    if (url.pathname === "/issue-x509") {
      const batch = Number(url.searchParams.get("batch") ?? "500");
      const keys = await publicKeys();
      const ca = caFor(env, td.value);
      let issued = 0;
      for (let done = 0; done < n; done += batch) {
        const requests: X509SvidRequest[] = [];
        for (let i = 0; i < Math.min(batch, n - done); i++) {
          requests.push({ spiffeId: `spiffe://example.org/bench/w${(done + i) % 1000}`, publicKey: keys[(done + i) % keys.length]!, ttlSeconds: 3600, dnsNames: [] });
        }
        const r = await ca.signX509Svids({ requests });
        if (!r.ok) return new Response(r.error.detail, { status: 500 });
        for (const one of r.value.items) if (one.ok) issued++;
      }
      return new Response(String(issued));
    }
    if (url.pathname === "/issue-jwt-batch") {
      const batch = Number(url.searchParams.get("batch") ?? "500");
      const ca = caFor(env, td.value);
      let issued = 0;
      for (let done = 0; done < n; done += batch) {
        const requests = Array.from({ length: Math.min(batch, n - done) }, (_, i) => ({
          spiffeId: `spiffe://example.org/bench/w${(done + i) % 1000}`,
          audience: ["bench"],
          ttlSeconds: 300,
          alg: "ES256" as const,
          issuer: "https://bench.example",
        }));
        const r = await ca.signJwtSvids({ requests });
        if (!r.ok) return new Response(r.error.detail, { status: 500 });
        for (const one of r.value.results) if (one.ok) issued++;
      }
      return new Response(String(issued));
    }
    if (url.pathname === "/issue-jwt") {
      const ca = caFor(env, td.value);
      let issued = 0;
      for (let i = 0; i < n; i++) {
        const r = await ca.signJwtSvid({ spiffeId: "spiffe://example.org/bench/w", audience: ["bench"], ttlSeconds: 300, alg: "ES256", issuer: "https://bench.example" });
        if (r.ok && r.value.ok) issued++;
      }
      return new Response(String(issued));
    }
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
