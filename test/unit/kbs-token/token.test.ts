import { describe, expect, it } from "vitest";
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { toBase64Url, utf8 } from "../../../src/lib/encoding";
import { signAttestationToken, verifyAttestationToken } from "../../../src/lib/kbs/token";
import type { JwksKey } from "../../../src/lib/spiffe/bundle";

const NOW = Date.UTC(2026, 5, 1);
const ISSUER = "signet-attestation-service/example.org";

async function signer(kid = "k1"): Promise<{ key: CryptoKey; jwk: JwksKey }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const { x, y } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { key: pair.privateKey, jwk: { kty: "EC", crv: "P-256", x, y, kid, alg: "ES256", use: "sig" } };
}

const claims = (over: Record<string, unknown> = {}) => ({ iss: ISSUER, iat: NOW / 1000, exp: NOW / 1000 + 300, submods: { cpu0: { "ear.status": "affirming" } }, ...over });

describe("attestation tokens", () => {
  it("sign: an ES256 JWS with kid and the public jwk in the header, verifiable by jose and by us", async () => {
    const s = await signer();
    const token = await signAttestationToken(s.key, { kid: s.jwk.kid, publicJwk: s.jwk }, claims());
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: "ES256", typ: "JWT", kid: "k1", jwk: { kty: "EC", crv: "P-256", alg: "ES256", x: s.jwk.x, y: s.jwk.y } });
    expect(Object.keys(header.jwk!).sort()).toEqual(["alg", "crv", "kty", "x", "y"]);
    await jwtVerify(token, await importJWK({ ...s.jwk }, "ES256"), { currentDate: new Date(NOW), issuer: ISSUER });
    expect(decodeJwt(token).exp).toBe(NOW / 1000 + 300);
    const verified = await verifyAttestationToken({ token, keys: [s.jwk], issuer: ISSUER, now: NOW });
    expect(verified).toMatchObject({ ok: true, value: { submods: { cpu0: { "ear.status": "affirming" } } } });
  });

  it("refuses what is not exactly a token of ours, each with its reason", async () => {
    const s = await signer();
    const other = await signer("k2");
    const good = await signAttestationToken(s.key, { kid: "k1", publicJwk: s.jwk }, claims());
    const [h, p, sig] = good.split(".") as [string, string, string];
    const enc = (o: unknown) => toBase64Url(utf8(JSON.stringify(o)));
    const cases: [string, string, JwksKey[], number, string][] = [
      ["another key broker's key (kid unknown)", await signAttestationToken(other.key, { kid: "k2", publicJwk: other.jwk }, claims()), [s.jwk], NOW, "token_unknown_key"],
      ["our kid, another key's signature", await signAttestationToken(other.key, { kid: "k1", publicJwk: other.jwk }, claims()), [s.jwk], NOW, "token_signature"],
      ["expired", good, [s.jwk], NOW + 300_000, "token_expired"],
      ["alg none", `${enc({ alg: "none", kid: "k1" })}.${p}.`, [s.jwk], NOW, "token_algorithm"],
      ["alg HS256", `${enc({ alg: "HS256", kid: "k1" })}.${p}.${sig}`, [s.jwk], NOW, "token_algorithm"],
      ["payload changed", `${h}.${enc(claims({ exp: NOW / 1000 + 9999 }))}.${sig}`, [s.jwk], NOW, "token_signature"],
      ["two parts", `${h}.${p}`, [s.jwk], NOW, "token_malformed"],
      ["not base64url", `${h}.${p}+.${sig}`, [s.jwk], NOW, "token_malformed"],
      ["a JSON array payload", `${h}.${enc([1])}.${sig}`, [s.jwk], NOW, "token_malformed"],
      ["short signature", `${h}.${p}.${sig.slice(0, 40)}`, [s.jwk], NOW, "token_signature"],
      ["another issuer", await signAttestationToken(s.key, { kid: "k1", publicJwk: s.jwk }, claims({ iss: "CoCo-Attestation-Service" })), [s.jwk], NOW, "token_issuer"],
      ["issued in the future", await signAttestationToken(s.key, { kid: "k1", publicJwk: s.jwk }, claims({ iat: NOW / 1000 + 3600, exp: NOW / 1000 + 3900 })), [s.jwk], NOW, "token_malformed"],
      ["fractional exp", await signAttestationToken(s.key, { kid: "k1", publicJwk: s.jwk }, claims({ exp: NOW / 1000 + 0.5 })), [s.jwk], NOW, "token_malformed"],
      ["oversized", "a".repeat(70_000), [s.jwk], NOW, "token_malformed"],
    ];
    let checked = 0;
    for (const [name, token, keys, now, reason] of cases) {
      const r = await verifyAttestationToken({ token, keys, issuer: ISSUER, now });
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error.reason, name).toBe(reason);
      checked++;
    }
    expect(checked).toBe(cases.length);
  });

  it("never throws on mutated tokens (2,000 mutations)", async () => {
    const s = await signer();
    const good = await signAttestationToken(s.key, { kid: "k1", publicJwk: s.jwk }, claims());
    expect((await verifyAttestationToken({ token: good, keys: [s.jwk], issuer: ISSUER, now: NOW })).ok).toBe(true);
    let seed = 5;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    let accepted = 0;
    let runs = 0;
    for (let i = 0; i < 2000; i++) {
      runs++;
      const chars = [...good];
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) chars[Math.floor(rand() * chars.length)] = "A.-_x=/"[Math.floor(rand() * 7)]!;
      const r = await verifyAttestationToken({ token: chars.join(""), keys: [s.jwk], issuer: ISSUER, now: NOW });
      if (r.ok) accepted++;
    }
    // A mutation may land on a base64url padding bit of the signature and still verify; never more.
    expect(runs).toBe(2000);
    expect(accepted).toBeLessThan(20);
  });
});
