#!/usr/bin/env node
// `npm run bench`: measures, in one run inside workerd (Miniflare), the raw crypto ceilings and
// Signet's hot paths, and prints one JSON object per line: {"name","value","unit","limit","ratio"}.
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "dist", "bench", "worker.js");

await build({
  entryPoints: [join(root, "bench", "worker.ts")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*"],
  loader: { ".sql": "text" },
  logLevel: "warning",
});

const mf = new Miniflare({
  modules: true,
  scriptPath: outfile,
  compatibilityDate: "2026-04-20",
  durableObjects: { CA: { className: "CertificateAuthority", useSQLite: true } },
  bindings: {
    TRUST_DOMAIN: "example.org",
    SIGNET_PROFILE: "permissive",
    OIDC_ISSUER: "",
    CA_KEY_TYPE: "ec-p256",
    CA_TTL: "24h",
    DEFAULT_X509_SVID_TTL: "1h",
    DEFAULT_JWT_SVID_TTL: "5m",
    BUNDLE_REFRESH_HINT: "5m",
    SIGNET_ADMIN_TOKEN: randomBytes(32).toString("base64url"),
    SIGNET_KEK: randomBytes(32).toString("base64url"),
  },
  cf: false,
});

async function rate(path, n, extra = "") {
  const url = `http://bench.local${path}?n=${n}${extra}`;
  // Warm-up: first-use key loading, JIT.
  await (await mf.dispatchFetch(`http://bench.local${path}?n=${Math.min(n, 1000)}${extra}`)).text();
  const best = [];
  for (let run = 0; run < 3; run++) {
    const t0 = process.hrtime.bigint();
    const res = await mf.dispatchFetch(url);
    const body = await res.text();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (res.status !== 200 || Number(body) !== n) throw new Error(`${path}: ${res.status} ${body.slice(0, 200)}`);
    best.push(n / seconds);
  }
  return Math.max(...best);
}

function line(name, value, unit, limit) {
  const round = (x) => (x === null ? null : Math.round(x * 100) / 100);
  console.log(JSON.stringify({ name, value: round(value), unit, limit: round(limit), ratio: limit === null ? null : round(value / limit) }));
}

try {
  const rawSign = await rate("/raw-sign", 20000);
  line("ecdsa_p256_sign", rawSign, "ops/s", null);
  const x509 = await rate("/issue-x509", 20000, "&batch=500");
  line("x509_svid_issue_batch500_public_key", x509, "svids/s", rawSign);
  const jwt = await rate("/issue-jwt", 5000);
  line("jwt_svid_issue_es256_per_call", jwt, "svids/s", rawSign);
} finally {
  await mf.dispose();
}
