/** JWT-SVID validation, clause by clause (SPIFFE JWT-SVID §3, §5; specs/spiffe.md §1.3), and a fuzz. */
import { describe, expect, it, beforeAll } from "vitest";
import { CompactSign, exportJWK, generateKeyPair } from "jose";
import { validateJwtSvid, type JwtAuthorityKey } from "../../../src/lib/spiffe/jwt-svid-verify";
import { toBase64Url, utf8 } from "../../../src/lib/encoding";
import { prng } from "../../support/prng";

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const T = NOW / 1000;
let es: CryptoKeyPair;
let rs: CryptoKeyPair;
let ps: CryptoKeyPair;
let keys: JwtAuthorityKey[];

beforeAll(async () => {
  es = (await generateKeyPair("ES256", { extractable: true })) as CryptoKeyPair;
  rs = (await generateKeyPair("RS256", { extractable: true, modulusLength: 2048 })) as CryptoKeyPair;
  ps = (await generateKeyPair("PS256", { extractable: true, modulusLength: 2048 })) as CryptoKeyPair;
  keys = [
    { ...(await exportJWK(ps.publicKey)), kid: "rsa-pss", use: "jwt-svid" },
    { ...(await exportJWK(es.publicKey)), kid: "ec-1", use: "jwt-svid" },
    { ...(await exportJWK(rs.publicKey)), kid: "rsa-1", use: "jwt-svid" },
  ];
});

async function token(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: "ES256", kid: "ec-1", typ: "JWT" }, key?: CryptoKey): Promise<string> {
  const k = key ?? (String(header.alg).startsWith("ES") ? es.privateKey : rs.privateKey);
  return new CompactSign(utf8(JSON.stringify(claims))).setProtectedHeader(header as never).sign(k);
}

const good = { sub: "spiffe://example.org/web", aud: ["vault"], exp: T + 300, iat: T };
const validate = (t: string, audience = "vault", now = NOW) => validateJwtSvid({ token: t, audience, now, authorities: (td) => (td === "example.org" ? keys : undefined) });

describe("validateJwtSvid", () => {
  it("accepts an ES256 and an RS256 JWT-SVID for its audience (aud as an array or one string)", async () => {
    expect(await validate(await token(good))).toMatchObject({ ok: true, value: { spiffeId: "spiffe://example.org/web", expiresAt: T + 300 } });
    expect((await validate(await token({ ...good, aud: "vault" }, { alg: "RS256", kid: "rsa-1" }))).ok).toBe(true);
    expect((await validate(await token(good, { alg: "PS256", kid: "rsa-pss", typ: "JOSE" }, ps.privateKey))).ok).toBe(true);
  });

  it.each([
    ["an algorithm outside the list (HS256)", async () => `${toBase64Url(utf8('{"alg":"HS256","kid":"ec-1"}'))}.${toBase64Url(utf8(JSON.stringify(good)))}.AAAA`, "jwt_algorithm"],
    ["alg none", async () => `${toBase64Url(utf8('{"alg":"none","kid":"ec-1"}'))}.${toBase64Url(utf8(JSON.stringify(good)))}.`, "jwt_algorithm"],
    ["an extra header parameter", () => token(good, { alg: "ES256", kid: "ec-1", jku: "https://evil" }), "jwt_header"],
    ["typ other than JWT/JOSE", () => token(good, { alg: "ES256", kid: "ec-1", typ: "at+jwt" }), "jwt_header"],
    ["no kid", () => token(good, { alg: "ES256" }), "jwt_header"],
    ["an unknown kid", () => token(good, { alg: "ES256", kid: "ec-2" }), "jwt_unknown_key"],
    ["an RSA alg with an EC kid", () => token(good, { alg: "RS256", kid: "ec-1" }), "jwt_algorithm"],
    ["a subject of another trust domain (no bundle)", () => token({ ...good, sub: "spiffe://other.org/web" }), "jwt_unknown_key"],
    ["a subject that is no SPIFFE ID", () => token({ ...good, sub: "web" }), "jwt_subject"],
    ["another audience", () => token({ ...good, aud: ["aws"] }), "jwt_audience"],
    ["an empty audience", () => token({ ...good, aud: [] }), "jwt_audience"],
    ["no exp", () => token({ sub: good.sub, aud: good.aud }), "jwt_expired"],
    ["expired beyond the leeway", () => token({ ...good, exp: T - 31 }), "jwt_expired"],
    ["nbf in the future beyond the leeway", () => token({ ...good, nbf: T + 31 }), "jwt_not_yet_valid"],
    ["a signature by another key", async () => token(good, undefined, ((await generateKeyPair("ES256")) as CryptoKeyPair).privateKey), "jwt_signature"],
  ] as const)("refuses %s", async (_name, make, reason) => {
    const r = await validate(await make());
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.reason).toBe(reason);
  });

  it("tolerates 30 s of skew on exp and nbf", async () => {
    expect((await validate(await token({ ...good, exp: T - 29 }))).ok).toBe(true);
    expect((await validate(await token({ ...good, nbf: T + 29 }))).ok).toBe(true);
  });

  it("never throws on mutated tokens, and accepts none of them unless unchanged", async () => {
    const base = await token(good);
    const rand = prng(9);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    for (let i = 0; i < 2000; i++) {
      const chars = [...base];
      const n = 1 + Math.floor(rand() * 4);
      for (let j = 0; j < n; j++) chars[Math.floor(rand() * chars.length)] = alphabet[Math.floor(rand() * alphabet.length)]!;
      const mutated = chars.join("");
      const r = await validate(mutated);
      if (r.ok) expect(mutated.split(".").slice(0, 2).join(".")).toBe(base.split(".").slice(0, 2).join("."));
    }
  });
});
