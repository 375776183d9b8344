/**
 * lib/spiffe/federation.ts: reading a peer's bundle document (SPIFFE Trust Domain and Bundle §4),
 * the refresh schedule and the update rule, and the bundle endpoint URL check; plus a fuzz run
 * (random mutations of real documents, bytes and JSON, never throw).
 */
import { describe, expect, it } from "vitest";
import { toBase64, toBase64Url, utf8 } from "../../src/lib/encoding";
import { bundleKeys, spiffeBundleDocument, type BundleKey, type PublicJwk } from "../../src/lib/spiffe/bundle";
import {
  decideUpdate,
  DEFAULT_REFRESH_SECONDS,
  MAX_PEER_BUNDLE_BYTES,
  MAX_PEER_BUNDLE_KEYS,
  nextRefreshAt,
  parseBundleEndpointUrl,
  parsePeerBundle,
} from "../../src/lib/spiffe/federation";
import { encodeCaTbs, signTbs } from "../../src/lib/x509/certificate";
import { mutate, prng, testCa, testKey, type TestCa } from "./x509/x509-test-kit";

async function jwkOf(key: CryptoKey): Promise<PublicJwk> {
  const j = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
  return j.kty === "EC" ? { kty: "EC", crv: j.crv, x: j.x, y: j.y } : { kty: "RSA", n: j.n, e: j.e };
}

async function peerDocument(): Promise<{ ca: TestCa; rsaCa: TestCa; doc: { keys: BundleKey[]; spiffe_sequence: number; spiffe_refresh_hint: number } }> {
  const ca = await testCa("ec-p256", Date.now(), "peer.test");
  const rsaCa = await testCa("rsa-2048", Date.now(), "peer.test");
  const jwtEc = await testKey("ec-p384", "jwt");
  const jwtRsa = await testKey("rsa-2048", "jwt");
  const keys = bundleKeys(
    [
      { certificate: ca.der, publicJwk: await jwkOf(ca.key.pair.publicKey) },
      { certificate: rsaCa.der, publicJwk: await jwkOf(rsaCa.key.pair.publicKey) },
    ],
    [
      { kid: "jwt-ec", alg: "ES384", publicJwk: await jwkOf(jwtEc.pair.publicKey) },
      { kid: "jwt-rsa", alg: "RS256", publicJwk: await jwkOf(jwtRsa.pair.publicKey) },
    ],
  );
  return { ca, rsaCa, doc: spiffeBundleDocument(keys, 7, 120) as { keys: BundleKey[]; spiffe_sequence: number; spiffe_refresh_hint: number } };
}

const good = await peerDocument();
const text = (d: unknown) => JSON.stringify(d);
const withKey = (i: number, change: (k: Record<string, unknown>) => void) => {
  const d = structuredClone(good.doc) as unknown as { keys: Record<string, unknown>[] };
  change(d.keys[i]!);
  return text(d);
};

describe("parsePeerBundle: a valid document", () => {
  it("reads a Signet/SPIRE-shaped bundle (EC and RSA CAs, ES384 and RS256 JWT keys) into the canonical form", () => {
    const r = parsePeerBundle(utf8(text(good.doc)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.document).toEqual(good.doc);
    expect([r.value.sequence, r.value.refreshHint, r.value.ignoredKeys]).toEqual([7, 120, 0]);
  });

  it("keys may be empty (every key revoked); absent sequence and hint read as 0 and the 5 min default", () => {
    const r = parsePeerBundle('{"keys":[]}');
    expect(r).toEqual({ ok: true, value: { document: { keys: [], spiffe_sequence: 0, spiffe_refresh_hint: DEFAULT_REFRESH_SECONDS }, sequence: undefined, refreshHint: undefined, ignoredKeys: 0 } });
  });

  it.each([
    ["no use", (k: Record<string, unknown>) => delete k.use],
    ["an unknown use (wit-svid)", (k: Record<string, unknown>) => (k.use = "wit-svid")],
    ["a use in other case (X509-SVID)", (k: Record<string, unknown>) => (k.use = "X509-SVID")],
    ["an unknown kty (OKP)", (k: Record<string, unknown>) => (k.kty = "OKP")],
    ["a curve we do not read (P-521)", (k: Record<string, unknown>) => (k.crv = "P-521")],
  ])("a key with %s is ignored, the others kept", (_n, change) => {
    const r = parsePeerBundle(withKey(0, change));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.ignoredKeys).toBe(1);
    expect(r.value.document.keys).toEqual(good.doc.keys.slice(1));
  });

  it("extra members (kid or alg on an x509-svid key, x5t, unknown set parameters) are dropped from what is stored", () => {
    const d = structuredClone(good.doc) as unknown as Record<string, unknown> & { keys: Record<string, unknown>[] };
    d.keys[0]!.kid = "ignored";
    d.keys[0]!.x5t = "abc";
    d.keys[2]!.alg = "ES384";
    d.spiffe_future = { anything: true };
    const r = parsePeerBundle(text(d));
    expect(r.ok && r.value.document).toEqual(good.doc);
  });

  it("a repeated CA certificate is kept once", () => {
    const d = structuredClone(good.doc);
    d.keys.push(d.keys[0]!);
    const r = parsePeerBundle(text(d));
    expect(r.ok && r.value.document.keys.length).toBe(4);
  });
});

/** Another CA with its own key (testCa reuses one key per type). */
async function otherCaDer(): Promise<Uint8Array> {
  const key = await testKey("ec-p256", "other-ca");
  const tbs = encodeCaTbs({ trustDomain: "other.test", serial: new Uint8Array([3]), notBefore: Date.now(), notAfter: Date.now() + 3600_000, keyType: "ec-p256", spki: key.spki, subjectKeyId: key.keyId });
  return signTbs(tbs, key.pair.privateKey, "ec-p256");
}
const otherCa = { der: await otherCaDer() };

/** A certificate like a CA's but with basicConstraints cA false (SEQUENCE { BOOLEAN TRUE } 30 03 01 01 ff → … 00), re-signed. */
async function notCa(): Promise<{ der: Uint8Array; jwk: PublicJwk }> {
  const key = await testKey("ec-p256", "leaf");
  const tbs = encodeCaTbs({ trustDomain: "peer.test", serial: new Uint8Array([2]), notBefore: Date.now(), notAfter: Date.now() + 3600_000, keyType: "ec-p256", spki: key.spki, subjectKeyId: key.keyId });
  const at = tbs.findIndex((b, i) => b === 0x30 && tbs[i + 1] === 0x03 && tbs[i + 2] === 0x01 && tbs[i + 3] === 0x01 && tbs[i + 4] === 0xff);
  if (at < 0) throw new Error("no cA flag in the CA TBS");
  tbs[at + 4] = 0x00;
  return { der: await signTbs(tbs, key.pair.privateKey, "ec-p256"), jwk: await jwkOf(key.pair.publicKey) };
}
const leaf = await notCa();

describe("parsePeerBundle: refused documents (all or nothing)", () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["not JSON", "{keys:[]}", /not JSON/],
    ["not UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), /UTF-8/],
    ["a JSON array", "[]", /not a JSON object/],
    ["no keys", '{"spiffe_sequence":1}', /keys must be an array/],
    ["keys an object", '{"keys":{}}', /keys must be an array/],
    ["too large", `{"keys":[],"pad":"${"x".repeat(MAX_PEER_BUNDLE_BYTES)}"}`, /larger than/],
    ["too many keys", text({ keys: Array.from({ length: MAX_PEER_BUNDLE_KEYS + 1 }, () => ({ kty: "OKP", use: "x" })) }), /more than/],
    ["a negative sequence", '{"keys":[],"spiffe_sequence":-1}', /spiffe_sequence/],
    ["a fractional sequence", '{"keys":[],"spiffe_sequence":1.5}', /spiffe_sequence/],
    ["a sequence above 2^53", '{"keys":[],"spiffe_sequence":18446744073709551615}', /spiffe_sequence/],
    ["a string sequence", '{"keys":[],"spiffe_sequence":"3"}', /spiffe_sequence/],
    ["a negative refresh hint", '{"keys":[],"spiffe_refresh_hint":-300}', /spiffe_refresh_hint/],
    ["a key that is not an object", '{"keys":[1]}', /keys\[0\] is not a JSON object/],
    ["a key without kty", withKey(0, (k) => delete k.kty), /kty is required/],
    ["a private EC member (d)", withKey(2, (k) => (k.d = "AAAA")), /private key member 'd'/],
    ["a private RSA member (p) on a CA key", withKey(1, (k) => (k.p = "AAAA")), /private key member 'p'/],
    ["no x5c", withKey(0, (k) => delete k.x5c), /exactly one x5c/],
    ["two x5c", withKey(0, (k) => (k.x5c = [good.doc.keys[0]!.x5c![0], good.doc.keys[1]!.x5c![0]])), /exactly one x5c/],
    ["x5c not base64", withKey(0, (k) => (k.x5c = ["!!!"])), /not standard base64/],
    ["x5c in base64url", withKey(0, (k) => (k.x5c = [toBase64Url(good.ca.der)])), /not standard base64|not a certificate/],
    ["x5c not a certificate", withKey(0, (k) => (k.x5c = [toBase64(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))])), /not a certificate/],
    ["the JWK of another CA's key", withKey(0, (k) => (k.x5c = [toBase64(otherCa.der)])), /not the public key of its x5c/],
    ["an RSA JWK beside an EC certificate", withKey(1, (k) => (k.x5c = [toBase64(good.ca.der)])), /not the public key of its x5c/],
    ["a jwt-svid key without kid", withKey(2, (k) => delete k.kid), /kid/],
    ["an empty kid", withKey(2, (k) => (k.kid = "")), /kid/],
    ["a duplicate kid", withKey(3, (k) => (k.kid = "jwt-ec")), /not unique/],
    ["EC x of the wrong length", withKey(2, (k) => (k.x = (k.x as string).slice(2))), /coordinates/],
    ["EC x padded", withKey(2, (k) => (k.x = `${k.x as string}=`)), /coordinates/],
    ["an EC point off the curve", withKey(2, (k) => (k.y = k.x)), /not on P-384/],
    ["an RSA exponent of 3", withKey(3, (k) => (k.e = "Aw")), /65537/],
    ["a short RSA modulus", withKey(3, (k) => (k.n = toBase64Url(new Uint8Array(128).fill(0xff)))), /2048-8192/],
    ["an even RSA modulus", withKey(3, (k) => (k.n = toBase64Url(new Uint8Array(256).fill(0xfe)))), /odd/],
    ["a certificate that is not a CA (its own key)", withKey(0, (k) => Object.assign(k, { x: leaf.jwk.x, y: leaf.jwk.y, x5c: [toBase64(leaf.der)] })), /not a CA certificate/],
  ];
  it.each(cases)("%s", (_name, body, detail) => {
    const r = parsePeerBundle(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.detail).toMatch(detail);
  });

});

describe("decideUpdate", () => {
  const a = good.doc.keys.slice(0, 2);
  const b = good.doc.keys.slice(1);
  it.each([
    ["nothing stored", undefined, { sequence: 1, keys: a }, {}, { accept: true, why: "first" }],
    ["a higher sequence", { sequence: 1, keys: a }, { sequence: 2, keys: b }, {}, { accept: true, why: "newer" }],
    ["a higher sequence, same keys", { sequence: 1, keys: a }, { sequence: 2, keys: a }, {}, { accept: true, why: "newer" }],
    ["the same sequence and keys (in another order)", { sequence: 3, keys: a }, { sequence: 3, keys: [...a].reverse() }, {}, { accept: false, why: "unchanged" }],
    ["a lower sequence", { sequence: 5, keys: a }, { sequence: 4, keys: b }, {}, { accept: false, why: "rollback" }],
    ["a lower sequence, same keys", { sequence: 5, keys: a }, { sequence: 4, keys: a }, {}, { accept: false, why: "rollback" }],
    ["no sequence after one was published", { sequence: 5, keys: a }, { sequence: 0, keys: b }, {}, { accept: false, why: "rollback" }],
    ["the same sequence with other keys", { sequence: 5, keys: a }, { sequence: 5, keys: b }, {}, { accept: false, why: "sequence_conflict" }],
    ["an unversioned peer (sequence 0) with other keys", { sequence: 0, keys: a }, { sequence: 0, keys: b }, {}, { accept: true, why: "unversioned" }],
    ["a lower sequence, forced", { sequence: 5, keys: a }, { sequence: 1, keys: b }, { force: true }, { accept: true, why: "forced" }],
    ["unchanged, forced", { sequence: 5, keys: a }, { sequence: 5, keys: a }, { force: true }, { accept: false, why: "unchanged" }],
  ] as const)("%s", (_n, stored, fetched, options, want) => {
    expect(decideUpdate(stored, fetched, options)).toMatchObject(want);
  });
});

describe("nextRefreshAt", () => {
  const now = 1_000_000;
  it.each([
    [undefined, 0, 300],
    [0, 0, 300],
    [120, 0, 120],
    [1, 0, 60],
    [59, 0, 60],
    [86400, 0, 3600],
    [300, 1, 60],
    [300, 2, 120],
    [300, 5, 960],
    [300, 6, 1800],
    [300, 1000, 1800],
  ])("hint %s after %s failures: in %s s", (hint, failures, seconds) => {
    expect(nextRefreshAt({ now, refreshHint: hint, consecutiveFailures: failures })).toBe(now + seconds * 1000);
  });
});

describe("parseBundleEndpointUrl", () => {
  it.each([
    ["https://peer.example/bundle", false, "https://peer.example/bundle"],
    ["https://peer.example", false, "https://peer.example/"],
    ["https://peer.example:8443/x?format=spiffe", false, "https://peer.example:8443/x?format=spiffe"],
    ["http://127.0.0.1:8787/bundle", true, "http://127.0.0.1:8787/bundle"],
  ])("%s (http allowed: %s) is accepted", (s, allowHttp, want) => {
    expect(parseBundleEndpointUrl(s, allowHttp)).toEqual({ ok: true, value: want });
  });
  it.each([
    ["http://peer.example/bundle", false, /https/],
    ["ftp://peer.example/bundle", true, /https/],
    ["https://user:pw@peer.example/bundle", false, /userinfo/],
    ["https://peer.example/bundle#x", false, /fragment/],
    ["not a url", false, /not a URL/],
    ["", false, /characters/],
    [`https://peer.example/${"a".repeat(2100)}`, false, /characters/],
  ])("%s (http allowed: %s) is refused", (s, allowHttp, detail) => {
    const r = parseBundleEndpointUrl(s, allowHttp);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.detail).toMatch(detail);
  });
});

describe("fuzz: parsePeerBundle never throws", () => {
  const bytes: Uint8Array = utf8(text(good.doc));
  it("on 20,000 byte mutations of a real document (and says how many still parsed)", () => {
    const rand = prng(0xfed);
    let parsed = 0;
    let input = bytes;
    for (let i = 0; i < 20_000; i++) {
      input = i % 8 === 0 || input.length < 2 ? bytes : mutate(input, rand);
      const r = parsePeerBundle(input);
      if (r.ok) parsed++;
    }
    expect(parsed).toBeGreaterThan(0);
    expect(parsed).toBeLessThan(20_000);
  });

  it("on 5,000 structural mutations (members removed, retyped, duplicated)", () => {
    const rand = prng(0xb0b);
    const values: unknown[] = [null, true, 0, -1, 1.5, 2 ** 60, "", "x", [], {}, [1], { kty: "EC" }, good.doc.keys[0]!.x5c, "AQAB"];
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < 5_000; i++) {
      const d = structuredClone(good.doc) as unknown as Record<string, unknown> & { keys: Record<string, unknown>[] };
      for (let m = 0; m < 1 + Math.floor(rand() * 3); m++) {
        const target: Record<string, unknown> = rand() < 0.2 || !Array.isArray(d.keys) ? d : ((d.keys[Math.floor(rand() * d.keys.length)] as Record<string, unknown> | null) ?? d);
        if (typeof target !== "object") continue;
        const names = [...Object.keys(target), "use", "kty", "crv", "x5c", "kid", "d", "spiffe_sequence"];
        const name = names[Math.floor(rand() * names.length)]!;
        if (rand() < 0.3) delete target[name];
        else target[name] = values[Math.floor(rand() * values.length)];
      }
      const r = parsePeerBundle(text(d));
      if (r.ok) ok++;
      else refused++;
    }
    expect(ok + refused).toBe(5_000);
    expect(ok).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
