import { createPublicKey, sign as nodeSign, verify as nodeVerify, createPrivateKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ecdsaDerToP1363,
  ecdsaP1363ToDer,
  KEY_TYPES,
  SIGNATURE_ALGORITHMS,
  signatureAlgorithmIdentifier,
  isKeyType,
} from "../../../src/lib/x509/algorithms";
import { ALL_KEY_TYPES, fromHexString as h, hex, prng, testKey } from "./x509-test-kit";

describe("algorithm table", () => {
  it("maps key types to SPIRE/JOSE names", () => {
    expect(ALL_KEY_TYPES.map((k) => [KEY_TYPES[k].jwsAlg, KEY_TYPES[k].signatureAlgorithm, KEY_TYPES[k].hash])).toEqual([
      ["ES256", "ecdsa-with-SHA256", "SHA-256"],
      ["ES384", "ecdsa-with-SHA384", "SHA-384"],
      ["RS256", "sha256WithRSAEncryption", "SHA-256"],
    ]);
    expect(isKeyType("ec-p256") && !isKeyType("rsa-4096")).toBe(true);
  });

  it("emits DER AlgorithmIdentifiers: ECDSA without parameters, RSA with NULL", () => {
    expect(hex(signatureAlgorithmIdentifier("ec-p256"))).toBe("300a06082a8648ce3d040302");
    expect(hex(signatureAlgorithmIdentifier("ec-p384"))).toBe("300a06082a8648ce3d040303");
    expect(hex(signatureAlgorithmIdentifier("rsa-2048"))).toBe("300d06092a864886f70d01010b0500");
    expect(hex(SIGNATURE_ALGORITHMS.sha512WithRSAEncryption.algorithmIdentifier)).toBe("300d06092a864886f70d01010d0500");
  });

  it.each(ALL_KEY_TYPES)("%s params generate, sign and verify with WebCrypto", async (keyType) => {
    const key = await testKey(keyType);
    const data = new TextEncoder().encode("signet");
    const sig = await crypto.subtle.sign(KEY_TYPES[keyType].sign, key.pair.privateKey, data);
    const pub = await crypto.subtle.importKey("spki", key.spki, KEY_TYPES[keyType].import, false, ["verify"]);
    expect(await crypto.subtle.verify(KEY_TYPES[keyType].sign, pub, sig, data)).toBe(true);
  });
});

describe("ECDSA signature formats", () => {
  it.each(["ec-p256", "ec-p384"] as const)("%s: WebCrypto P1363 → DER verifies in node:crypto, node DER → P1363 verifies in WebCrypto", async (keyType) => {
    const key = await testKey(keyType);
    const info = KEY_TYPES[keyType];
    if (info.kind !== "ec") throw new Error("unreachable");
    const nodeHash = info.hash.replace("-", "").toLowerCase();
    const publicKey = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
    const privateKey = createPrivateKey({ key: Buffer.from((await crypto.subtle.exportKey("pkcs8", key.pair.privateKey)) as ArrayBuffer), format: "der", type: "pkcs8" });
    for (let i = 0; i < 50; i++) {
      const data = crypto.getRandomValues(new Uint8Array(32));
      const p1363 = new Uint8Array(await crypto.subtle.sign(info.sign, key.pair.privateKey, data));
      const der = ecdsaP1363ToDer(p1363);
      expect(nodeVerify(nodeHash, data, { key: publicKey, dsaEncoding: "der" }, der)).toBe(true);
      const back = ecdsaDerToP1363(der, info.size);
      expect(back.ok && hex(back.value)).toBe(hex(p1363));

      const nodeDer = nodeSign(nodeHash, data, { key: privateKey, dsaEncoding: "der" });
      const conv = ecdsaDerToP1363(nodeDer, info.size);
      expect(conv.ok).toBe(true);
      if (conv.ok) expect(await crypto.subtle.verify(info.sign, key.pair.publicKey, conv.value, data)).toBe(true);
    }
  });

  it("encodes minimal integers: leading zeros stripped, high bit padded", () => {
    const r = new Uint8Array(32);
    r[31] = 1;
    const s = new Uint8Array(32).fill(0xff);
    const der = ecdsaP1363ToDer(new Uint8Array([...r, ...s]));
    expect(hex(der)).toBe("3026" + "020101" + "022100" + "ff".repeat(32));
    const back = ecdsaDerToP1363(der, 32);
    expect(back.ok && hex(back.value)).toBe(hex(r) + hex(s));
  });

  it("round-trips random values, including short ones", () => {
    const rand = prng(3);
    for (let i = 0; i < 2000; i++) {
      const size = rand() < 0.5 ? 32 : 48;
      const sig = new Uint8Array(size * 2);
      for (let j = 0; j < sig.length; j++) sig[j] = Math.floor(rand() * 256);
      const zeros = Math.floor(rand() * 4);
      sig.fill(0, 0, zeros);
      sig.fill(0, size, size + Math.floor(rand() * 4));
      sig[size - 1]! |= 1;
      sig[sig.length - 1]! |= 1;
      const back = ecdsaDerToP1363(ecdsaP1363ToDer(sig), size);
      expect(back.ok && hex(back.value)).toBe(hex(sig));
    }
  });

  it("throws TypeError on a P1363 input of odd or zero length", () => {
    expect(() => ecdsaP1363ToDer(new Uint8Array(0))).toThrow(TypeError);
    expect(() => ecdsaP1363ToDer(new Uint8Array(63))).toThrow(TypeError);
  });

  it.each([
    ["trailing data", "3006020101020101" + "00"],
    ["trailing element", "3009020101020101020101"],
    ["missing s", "3003020101"],
    ["non-minimal r", "300702020001020101"],
    ["negative r", "3006020181020101"],
    ["zero r", "3006020100020101"],
    ["wrong outer tag", "3106020101020101"],
    ["wrong inner tag", "3006040101020101"],
    ["indefinite length", "3080020101020101" + "0000"],
    ["r wider than the curve", "3026" + "0221" + "01" + "00".repeat(32) + "020101"],
    ["empty", ""],
  ])("rejects %s", (_, input) => {
    const r = ecdsaDerToP1363(h(input), 32);
    expect(r.ok ? "ok" : r.error.reason).toBe("malformed_ecdsa_signature");
  });
});
