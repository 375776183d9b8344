/**
 * The guest half of the sample handshake for scripts/bench.mjs, run in Node (esbuild bundles it):
 * what a CoCo guest with the sample attester does against Signet's /kbs/v0, the sequence of
 * test/support/kbs-guest.ts —
 *
 *   POST /kbs/v0/auth     {"version":"0.4.0","tee":"sample","extra-params":{supported hashes}}
 *   POST /kbs/v0/attest   sample evidence {"svn":"1","report_data": base64(H(JCS(runtime data)))}
 *                         bound to the challenge's nonce and a fresh P-256 TEE key
 *   GET  /kbs/v0/resource/<path> with the session cookie → the JWE, decrypted with the TEE key
 *
 * Every request carries the guest's own `CF-Connecting-IP`, as Cloudflare would: the per-client
 * /auth rate limit applies per guest, the global one to all of them. And `Accept-Encoding:
 * identity`: Cloudflare's front line, not the Worker, compresses responses; Miniflare emulates that
 * on workerd's own thread, which would charge the Worker for it here.
 */
import { toBase64 } from "../src/lib/encoding";
import { decryptResource, expectedReportData, generateTeeKeyPair, requestExtraParams, selectedHashAlgorithm, teePubKeyJwk } from "../src/lib/kbs";

/** How the guest reaches the Worker (scripts/bench.mjs: Miniflare's dispatchFetch). */
export type Send = (path: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<Response>;

async function expectOk(res: Response, step: string): Promise<Response> {
  if (res.status !== 200) throw new Error(`${step}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** One complete handshake; throws unless the resource decrypts to `expected`. */
export async function handshake(send: Send, client: string, resourcePath: string, expected: Uint8Array): Promise<void> {
  const common = { "CF-Connecting-IP": client, "Accept-Encoding": "identity" };
  const json = { ...common, "Content-Type": "application/json" };
  const auth = await expectOk(await send("/kbs/v0/auth", { method: "POST", headers: json, body: JSON.stringify({ version: "0.4.0", tee: "sample", "extra-params": requestExtraParams() }) }), "/auth");
  const cookie = /kbs-session-id=([0-9a-f]{32})/.exec(auth.headers.get("Set-Cookie") ?? "")?.[0];
  if (!cookie) throw new Error("/auth: no session cookie");
  const challenge = (await auth.json()) as { nonce: string; "extra-params": unknown };
  const hash = selectedHashAlgorithm(challenge["extra-params"]);
  if (!hash.ok) throw new Error(`/auth: ${hash.error.detail}`);

  const keys = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
  const digest = await expectedReportData({ nonce: challenge.nonce, teePubKey: keys.teePubKey, additionalEvidence: "" }, hash.value);
  const attestation = {
    "init-data": null,
    "runtime-data": { nonce: challenge.nonce, "tee-pubkey": teePubKeyJwk(keys.teePubKey) },
    "tee-evidence": { primary_evidence: { svn: "1", report_data: toBase64(digest) }, additional_evidence: "" },
  };
  const attest = await expectOk(await send("/kbs/v0/attest", { method: "POST", headers: { ...json, Cookie: cookie }, body: JSON.stringify(attestation) }), "/attest");
  await attest.arrayBuffer();

  const resource = await expectOk(await send(`/kbs/v0/resource/${resourcePath}`, { method: "GET", headers: { ...common, Cookie: cookie } }), "/resource");
  const plain = await decryptResource(await resource.json(), keys.keyPair.privateKey, keys.teePubKey);
  if (!plain.ok) throw new Error(`/resource: the JWE does not decrypt: ${plain.error.detail}`);
  if (plain.value.length !== expected.length || plain.value.some((b, i) => b !== expected[i])) throw new Error("/resource: the JWE decrypts to another secret");
}

let clients = 0;
/** A guest address never used before in this process (10.0.0.0/8: 16 million of them). */
function nextClient(): string {
  const n = ++clients;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Runs `count` handshakes, `inFlight` at a time, each from its own guest address; returns how many completed. */
export async function handshakes(send: Send, count: number, inFlight: number, resourcePath: string, expected: Uint8Array): Promise<number> {
  let started = 0;
  let done = 0;
  const lane = async () => {
    while (started < count) {
      started++;
      await handshake(send, nextClient(), resourcePath, expected);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return done;
}
