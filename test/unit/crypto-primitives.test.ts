import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { p256, p384 } from "@noble/curves/nist.js";
import { sha1 } from "../../src/lib/crypto/sha1";
import { isValidUncompressedPoint } from "../../src/lib/x509/ec-point";
import { importKek, importPrivateKey, generateSigningKey, randomKeyId, unwrapPrivateKey, wrapPrivateKey } from "../../src/lib/crypto/keys";
import { secretsEqual } from "../../src/lib/crypto/constant-time";

describe("sha1 (key identifiers)", () => {
  it.each([0, 1, 55, 56, 63, 64, 65, 97, 119, 120, 1000])("matches node:crypto for %i bytes", (len) => {
    const data = randomBytes(len);
    expect(Buffer.from(sha1(data)).toString("hex")).toBe(createHash("sha1").update(data).digest("hex"));
  });
});

describe("isValidUncompressedPoint", () => {
  it.each([
    ["P-256", p256],
    ["P-384", p384],
  ] as const)("%s: agrees with @noble/curves on valid and invalid points", (curve, noble) => {
    const size = curve === "P-256" ? 32 : 48;
    for (let i = 0; i < 50; i++) {
      const point = noble.getPublicKey(noble.utils.randomSecretKey(), false);
      expect(isValidUncompressedPoint(curve, point)).toBe(true);
      const bad = point.slice();
      bad[1 + (i % (2 * size))]! ^= 1 << i % 8;
      let nobleOk = true;
      try {
        noble.Point.fromBytes(bad).assertValidity();
      } catch {
        nobleOk = false;
      }
      expect(isValidUncompressedPoint(curve, bad)).toBe(nobleOk);
    }
  });

  it("rejects wrong prefixes, lengths, and coordinates ≥ p", () => {
    const point = p256.getPublicKey(p256.utils.randomSecretKey(), false);
    expect(isValidUncompressedPoint("P-256", point.subarray(0, 64))).toBe(false);
    expect(isValidUncompressedPoint("P-384", point)).toBe(false);
    const compressed = point.slice();
    compressed[0] = 0x02;
    expect(isValidUncompressedPoint("P-256", compressed)).toBe(false);
    const big = new Uint8Array(65).fill(0xff);
    big[0] = 4;
    expect(isValidUncompressedPoint("P-256", big)).toBe(false);
    expect(isValidUncompressedPoint("P-256", new Uint8Array([4, ...new Uint8Array(64)]))).toBe(false);
  });
});

describe("private keys at rest", () => {
  it("wraps under the KEK bound to its context; other contexts, other KEKs and tampering fail", async () => {
    const kek = await importKek(randomBytes(32));
    const key = await generateSigningKey("ec-p256");
    const wrapped = await wrapPrivateKey(kek, key.pkcs8, "authority-1");
    expect(wrapped).not.toContain(Buffer.from(key.pkcs8).toString("base64").slice(0, 20));
    const opened = await unwrapPrivateKey(kek, wrapped, "authority-1");
    expect(opened.ok && Buffer.from(opened.value).equals(Buffer.from(key.pkcs8))).toBe(true);
    expect((await unwrapPrivateKey(kek, wrapped, "authority-2")).ok).toBe(false);
    expect((await unwrapPrivateKey(await importKek(randomBytes(32)), wrapped, "authority-1")).ok).toBe(false);
    const raw = Buffer.from(wrapped, "base64");
    raw[raw.length - 1]! ^= 1;
    expect((await unwrapPrivateKey(kek, raw.toString("base64"), "authority-1")).ok).toBe(false);
    expect((await unwrapPrivateKey(kek, "!!", "authority-1")).ok).toBe(false);
    expect((await unwrapPrivateKey(kek, "AAAA", "authority-1")).ok).toBe(false);
  });

  it.each(["ec-p256", "ec-p384", "rsa-2048"] as const)("%s keys are re-imported non-extractable", async (keyType) => {
    const key = await generateSigningKey(keyType);
    await expect(crypto.subtle.exportKey("pkcs8", key.privateKey)).rejects.toThrow();
    const again = await importPrivateKey(keyType, key.pkcs8);
    expect(again.extractable).toBe(false);
    expect(Object.keys(key.publicJwk).sort()).toEqual(keyType === "rsa-2048" ? ["e", "kty", "n"] : ["crv", "kty", "x", "y"]);
  });

  it("refuses a KEK that is not 32 bytes", async () => {
    await expect(importKek(new Uint8Array(16))).rejects.toThrow(TypeError);
  });

  it("key ids are 32 characters of [A-Za-z0-9] and distinct", () => {
    const ids = new Set(Array.from({ length: 200 }, randomKeyId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{32}$/);
  });
});

describe("secretsEqual", () => {
  it.each([
    ["same", "a".repeat(40), "a".repeat(40), true],
    ["different last char", "a".repeat(40), "a".repeat(39) + "b", false],
    ["prefix", "a".repeat(40), "a".repeat(39), false],
    ["empty", "", "a", false],
  ])("%s", async (_n, x, y, expected) => {
    expect(await secretsEqual(x, y)).toBe(expected);
  });
});
