/**
 * The resource JWE: the §12 vector byte for byte, decryption the way guest-components does it,
 * interoperability with jose in both directions, and every refusal of the guest-side decryption.
 */
import { flattenedDecrypt, FlattenedEncrypt, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import { fromBase64, fromUtf8, toBase64Url, utf8 } from "../../../src/lib/encoding";
import type { KbsFailureReason } from "../../../src/lib/kbs/errors";
import { concatKdf } from "../../../src/lib/kbs/key-wrap";
import {
  decryptResource,
  encryptResource,
  generateTeeKeyPair,
  guestProtectedHeaderText,
  type FlattenedJwe,
  type TeeKeyAlgorithm,
} from "../../../src/lib/kbs/resource-jwe";
import { parseTeePubKey, type TeePubKey } from "../../../src/lib/kbs/tee-pubkey";
import { filled, importEcdhPrivate, publicCoordinates, VECTOR } from "./kbs-fixtures";

const KINDS: readonly TeeKeyAlgorithm[] = ["ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521", "RSA-OAEP-256"];
const decodeHeader = (b64: string): Record<string, unknown> => JSON.parse(fromUtf8(fromBase64(b64)!)!) as Record<string, unknown>;

async function vectorJwe(): Promise<FlattenedJwe> {
  const epkPrivate = await importEcdhPrivate("P-256", filled(0x22, 32));
  return encryptResource(VECTOR.teePubKey, utf8(VECTOR.plaintext), { epkPrivate, cek: filled(0x33, 32), iv: filled(0x44, 12) });
}

describe("§12 vector", () => {
  it("the TEE key of scalar 0x11…11 is the vector's tee-pubkey", () => {
    expect(publicCoordinates("P-256", filled(0x11, 32))).toEqual({ x: VECTOR.teePubKey.x, y: VECTOR.teePubKey.y });
  });

  it("encryptResource reproduces the JWE byte for byte", async () => {
    const jwe = await vectorJwe();
    expect(jwe).toStrictEqual(VECTOR.jwe);
    expect(Object.keys(jwe)).toEqual(["protected", "encrypted_key", "iv", "ciphertext", "tag"]);
  });

  it("the protected header is the compact text guests rebuild (alg, enc, epk{crv,kty,x,y})", () => {
    const text = fromUtf8(fromBase64(VECTOR.jwe.protected)!)!;
    expect(text).toBe(
      '{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":"1lqTl3yqPRsIGFL_V6eeRl8WYFdzBLrq1QXdOkhYnPM","y":"UBheiVNy32Ih6joTdVfkc_3bZ1XwW9UHw8Uz_OnJEoU"}}',
    );
    expect(guestProtectedHeaderText(decodeHeader(VECTOR.jwe.protected) as never)).toBe(text);
    expect(publicCoordinates("P-256", filled(0x22, 32))).toEqual({ x: "1lqTl3yqPRsIGFL_V6eeRl8WYFdzBLrq1QXdOkhYnPM", y: "UBheiVNy32Ih6joTdVfkc_3bZ1XwW9UHw8Uz_OnJEoU" });
  });

  it("the guest's decryption recovers the plaintext with the TEE private key", async () => {
    const tee = await importEcdhPrivate("P-256", filled(0x11, 32));
    const r = await decryptResource(VECTOR.jwe, tee, VECTOR.teePubKey);
    expect(r.ok && fromUtf8(r.value)).toBe(VECTOR.plaintext);
  });

  it("jose decrypts the vector too (standard AAD = the protected string)", async () => {
    const tee = await importEcdhPrivate("P-256", filled(0x11, 32));
    const { plaintext, protectedHeader } = await flattenedDecrypt(VECTOR.jwe, tee);
    expect(fromUtf8(plaintext)).toBe(VECTOR.plaintext);
    expect(protectedHeader).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A256GCM" });
  });

  it("Concat KDF is one SHA-256 over the RFC 7518 §4.6.2 layout", async () => {
    const z = filled(0x5a, 32);
    const info = new Uint8Array([0, 0, 0, 1, ...z, 0, 0, 0, 14, ...utf8("ECDH-ES+A256KW"), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(await concatKdf(z)).toEqual(new Uint8Array(await crypto.subtle.digest("SHA-256", info)));
  });
});

describe("round trips and jose interoperability, for every key kind", () => {
  it.each(KINDS)("%s: our decrypt and jose's flattenedDecrypt both open what we encrypt", async (alg) => {
    const { keyPair, teePubKey } = await generateTeeKeyPair(alg);
    expect(parseTeePubKey(teePubKey)).toEqual({ ok: true, value: teePubKey });
    const plaintext = crypto.getRandomValues(new Uint8Array(1000));
    const jwe = await encryptResource(teePubKey, plaintext);
    const header = decodeHeader(jwe.protected);
    expect(Object.keys(header)).toEqual(teePubKey.kty === "EC" ? ["alg", "enc", "epk"] : ["alg", "enc"]);
    if (teePubKey.kty === "EC") expect(Object.keys(header.epk as object)).toEqual(["crv", "kty", "x", "y"]);
    const ours = await decryptResource(jwe, keyPair.privateKey, teePubKey);
    expect(ours.ok && ours.value).toEqual(plaintext);
    const theirs = await flattenedDecrypt(jwe, keyPair.privateKey);
    expect(theirs.plaintext).toEqual(plaintext);
  });

  it.each(KINDS)("%s: our decrypt opens jose's JWE exactly when jose's header is in the guests' order", async (alg) => {
    const { keyPair, teePubKey } = await generateTeeKeyPair(alg);
    const jwk = teePubKey.kty === "EC" ? { kty: "EC", crv: teePubKey.crv, x: teePubKey.x, y: teePubKey.y } : { kty: "RSA", n: teePubKey.n, e: teePubKey.e };
    const joseKey = await importJWK(jwk, teePubKey.alg);
    const jwe = await new FlattenedEncrypt(utf8("from jose")).setProtectedHeader({ alg: teePubKey.alg, enc: "A256GCM" }).encrypt(joseKey);
    const received = fromUtf8(fromBase64(jwe.protected!)!)!;
    const inGuestOrder = guestProtectedHeaderText(decodeHeader(jwe.protected!) as never) === received;
    // jose writes epk as {x, crv, kty, y}: a real guest could not open its ECDH JWEs either (§4.2).
    expect(inGuestOrder).toBe(teePubKey.kty === "RSA");
    const r = await decryptResource(jwe, keyPair.privateKey, teePubKey);
    if (inGuestOrder) expect(r.ok && fromUtf8(r.value)).toBe("from jose");
    else expect(!r.ok && r.error.reason).toBe("jwe_decrypt_failed");
  });

  it("an empty resource round-trips", async () => {
    const { keyPair, teePubKey } = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
    const r = await decryptResource(await encryptResource(teePubKey, new Uint8Array(0)), keyPair.privateKey, teePubKey);
    expect(r.ok && r.value.length).toBe(0);
  });

  it("generated private keys are non-extractable unless asked", async () => {
    expect((await generateTeeKeyPair("ECDH-ES+A256KW-P256")).keyPair.privateKey.extractable).toBe(false);
    expect((await generateTeeKeyPair("RSA-OAEP-256", { extractable: true })).keyPair.privateKey.extractable).toBe(true);
  });
});

describe("encryptResource: caller misuse throws TypeError", () => {
  it.each([
    ["a short CEK", { cek: filled(1, 16) }],
    ["a long IV", { iv: filled(1, 16) }],
  ])("%s", async (_, random) => {
    await expect(encryptResource(VECTOR.teePubKey, utf8("x"), random)).rejects.toThrow(TypeError);
  });

  it("an epk on another curve, or not extractable", async () => {
    const p521 = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-521" }, true, ["deriveBits"])) as CryptoKeyPair;
    await expect(encryptResource(VECTOR.teePubKey, utf8("x"), { epkPrivate: p521.privateKey })).rejects.toThrow(TypeError);
    const fixed = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"])) as CryptoKeyPair;
    await expect(encryptResource(VECTOR.teePubKey, utf8("x"), { epkPrivate: fixed.privateKey })).rejects.toThrow(TypeError);
  });

  it("a key that was never parsed (off the curve)", async () => {
    const bad = { ...VECTOR.teePubKey, y: VECTOR.teePubKey.x } as TeePubKey;
    await expect(encryptResource(bad, utf8("x"))).rejects.toThrow(TypeError);
  });
});

describe("decryptResource: refusals (never throws)", async () => {
  const tee = await importEcdhPrivate("P-256", filled(0x11, 32));
  const header = decodeHeader(VECTOR.jwe.protected);
  const withHeader = (h: Record<string, unknown>): FlattenedJwe => ({ ...VECTOR.jwe, protected: toBase64Url(utf8(JSON.stringify(h))) });
  const flip = (s: string): string => toBase64Url(fromBase64(s)!.map((b, i) => (i === 0 ? b ^ 1 : b)));
  const rsa = await generateTeeKeyPair("RSA-OAEP-256");
  const p521 = await generateTeeKeyPair("ECDH-ES+A256KW-P521");

  const cases: [string, unknown, KbsFailureReason][] = [
    ["not an object", "eyJ9", "malformed_jwe"],
    ["null", null, "malformed_jwe"],
    ["a member missing", { ...VECTOR.jwe, tag: undefined }, "malformed_jwe"],
    ["padded base64url", { ...VECTOR.jwe, iv: "RERERERERERERERE=" }, "malformed_jwe"],
    ["standard base64 characters", { ...VECTOR.jwe, encrypted_key: VECTOR.jwe.encrypted_key.replace(/_/g, "/") }, "malformed_jwe"],
    ["an aad member", { ...VECTOR.jwe, aad: "eHl6" }, "malformed_jwe"],
    ["an 8-byte iv", { ...VECTOR.jwe, iv: toBase64Url(filled(0x44, 8)) }, "malformed_jwe"],
    ["a 12-byte tag", { ...VECTOR.jwe, tag: toBase64Url(filled(0, 12)) }, "malformed_jwe"],
    ["a header that is not JSON", { ...VECTOR.jwe, protected: toBase64Url(utf8("{alg")) }, "malformed_jwe"],
    ["a header that is an array", withHeader([] as never), "malformed_jwe"],
    ["a header without enc", withHeader({ alg: "ECDH-ES+A256KW", epk: header.epk }), "malformed_jwe"],
    ["no epk", withHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM" }), "malformed_jwe"],
    ["epk off the curve", withHeader({ ...header, epk: { ...(header.epk as object), y: VECTOR.teePubKey.x } }), "malformed_jwe"],
    ["RSA1_5", withHeader({ alg: "RSA1_5", enc: "A256GCM" }), "unsupported_jwe_algorithm"],
    ["dir", withHeader({ alg: "dir", enc: "A256GCM" }), "unsupported_jwe_algorithm"],
    ["A128GCM", withHeader({ ...header, enc: "A128GCM" }), "unsupported_jwe_algorithm"],
    ["epk on P-521 for our P-256 key", withHeader({ ...header, epk: { ...(header.epk as object), crv: "P-521" } }), "jwe_key_mismatch"],
    ["an RSA JWE for our EC key", withHeader({ alg: "RSA-OAEP-256", enc: "A256GCM" }), "jwe_key_mismatch"],
    ["a tampered ciphertext", { ...VECTOR.jwe, ciphertext: flip(VECTOR.jwe.ciphertext) }, "jwe_decrypt_failed"],
    ["a tampered tag", { ...VECTOR.jwe, tag: flip(VECTOR.jwe.tag) }, "jwe_decrypt_failed"],
    ["a tampered wrapped key", { ...VECTOR.jwe, encrypted_key: flip(VECTOR.jwe.encrypted_key) }, "jwe_decrypt_failed"],
    ["a tampered iv", { ...VECTOR.jwe, iv: flip(VECTOR.jwe.iv) }, "jwe_decrypt_failed"],
    ["an extra header member (authenticated, so the tag fails)", withHeader({ ...header, kid: "x" }), "jwe_decrypt_failed"],
  ];

  it.each(cases)("%s → %s", async (_, jwe, reason) => {
    const r = await decryptResource(jwe, tee, VECTOR.teePubKey);
    expect(r.ok ? "accepted" : r.error.reason).toBe(reason);
  });

  it("the same header members in another order still decrypt (guests rebuild the order)", async () => {
    const { alg, enc, epk } = header as { alg: string; enc: string; epk: Record<string, string> };
    const reordered = withHeader({ epk: { y: epk.y, x: epk.x, kty: epk.kty, crv: epk.crv }, enc, alg });
    // The GCM tag covers the header as guests rebuild it, which is the original text.
    const r = await decryptResource(reordered, tee, VECTOR.teePubKey);
    expect(r.ok && fromUtf8(r.value)).toBe(VECTOR.plaintext);
  });

  it("an ECDH JWE for our RSA key, and a P-256 JWE for our P-521 key", async () => {
    const forRsa = await decryptResource(VECTOR.jwe, rsa.keyPair.privateKey, rsa.teePubKey);
    expect(!forRsa.ok && forRsa.error.reason).toBe("jwe_key_mismatch");
    const forP521 = await decryptResource(VECTOR.jwe, p521.keyPair.privateKey, p521.teePubKey);
    expect(!forP521.ok && forP521.error.reason).toBe("jwe_key_mismatch");
  });

  it("an RSA JWE for another RSA key", async () => {
    const other = await generateTeeKeyPair("RSA-OAEP-256");
    const jwe = await encryptResource(other.teePubKey, utf8("x"));
    const r = await decryptResource(jwe, rsa.keyPair.privateKey, rsa.teePubKey);
    expect(!r.ok && r.error.reason).toBe("jwe_decrypt_failed");
  });
});
