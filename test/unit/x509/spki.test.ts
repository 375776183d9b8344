import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KEY_OIDS } from "../../../src/lib/x509/algorithms";
import { DER_NULL, encodeBitString, encodeOid, encodeSequence, encodeUnsignedInteger } from "../../../src/lib/x509/der-writer";
import { importSpkiForVerify, parseSpki, type SpkiInfo } from "../../../src/lib/x509/spki";
import { ALL_KEY_TYPES, hex, mutate, openssl, prng, tempDir, testKey } from "./x509-test-kit";

const reason = (r: ReturnType<typeof parseSpki>): string => (r.ok ? "ok" : r.error.reason);

function nodeSpki(pair: { publicKey: KeyObject }): Uint8Array {
  return new Uint8Array(pair.publicKey.export({ type: "spki", format: "der" }));
}

function rsaSpki(modulus: Uint8Array, exponent = Uint8Array.of(1, 0, 1), params: Uint8Array[] = [DER_NULL]): Uint8Array {
  const rsaPublicKey = encodeSequence(encodeUnsignedInteger(modulus), encodeUnsignedInteger(exponent));
  return encodeSequence(encodeSequence(KEY_OIDS.rsaEncryption, ...params), encodeBitString(rsaPublicKey));
}

function ecSpki(point: Uint8Array, curve: Uint8Array = KEY_OIDS.p256, unusedBits = 0): Uint8Array {
  return encodeSequence(encodeSequence(KEY_OIDS.ecPublicKey, curve), encodeBitString(point, unusedBits));
}

function oddModulus(bits: number): Uint8Array {
  const m = crypto.getRandomValues(new Uint8Array(Math.ceil(bits / 8)));
  const topBits = bits % 8 === 0 ? 8 : bits % 8;
  m[0] = (m[0]! & ((1 << topBits) - 1)) | (1 << (topBits - 1));
  m[m.length - 1]! |= 1;
  return m;
}

describe("parseSpki accepts the supported keys", () => {
  it.each(ALL_KEY_TYPES)("WebCrypto %s", async (keyType) => {
    const key = await testKey(keyType);
    const r = parseSpki(key.spki);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const expected: Partial<SpkiInfo> =
      keyType === "rsa-2048" ? { kind: "rsa", modulusBits: 2048, keyType } : { kind: "ec", curve: keyType === "ec-p256" ? "P-256" : "P-384", keyType };
    expect(r.value).toMatchObject(expected);
    // subjectPublicKey is the BIT STRING value: the tail of the SPKI.
    expect(hex(key.spki.subarray(key.spki.length - r.value.subjectPublicKey.length))).toBe(hex(r.value.subjectPublicKey));
  });

  it("RSA 3072 (no keyType) and the 2048/8192-bit bounds", () => {
    const r3072 = parseSpki(rsaSpki(oddModulus(3072)));
    expect(r3072.ok && r3072.value).toMatchObject({ kind: "rsa", modulusBits: 3072 });
    expect(r3072.ok && "keyType" in r3072.value).toBe(false);
    const r8192 = parseSpki(rsaSpki(oddModulus(8192)));
    expect(r8192.ok && r8192.value.kind === "rsa" && r8192.value.modulusBits).toBe(8192);
    const r2048 = parseSpki(rsaSpki(oddModulus(2048)));
    expect(r2048.ok && r2048.value.kind === "rsa" && r2048.value.keyType).toBe("rsa-2048");
  });
});

describe("parseSpki rejects everything else", () => {
  it.each<[string, string, () => Uint8Array]>([
    ["Ed25519", "unsupported_key_algorithm", () => nodeSpki(generateKeyPairSync("ed25519"))],
    ["X25519", "unsupported_key_algorithm", () => nodeSpki(generateKeyPairSync("x25519"))],
    ["RSA-PSS key", "unsupported_key_algorithm", () => nodeSpki(generateKeyPairSync("rsa-pss", { modulusLength: 1024 }))],
    ["secp256k1", "unsupported_curve", () => nodeSpki(generateKeyPairSync("ec", { namedCurve: "secp256k1" }))],
    ["P-521", "unsupported_curve", () => nodeSpki(generateKeyPairSync("ec", { namedCurve: "P-521" }))],
    ["EC with NULL parameters", "unsupported_curve", () => ecSpki(new Uint8Array(65).fill(4), DER_NULL)],
    ["RSA 1024", "unsupported_rsa_modulus_size", () => nodeSpki(generateKeyPairSync("rsa", { modulusLength: 1024 }))],
    ["RSA 2047 bits", "unsupported_rsa_modulus_size", () => rsaSpki(oddModulus(2047))],
    ["RSA 8193 bits", "unsupported_rsa_modulus_size", () => rsaSpki(oddModulus(8193))],
    ["RSA e=3", "unsupported_rsa_exponent", () => nodeSpki(generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 }))],
    ["RSA e=65539", "unsupported_rsa_exponent", () => rsaSpki(oddModulus(2048), Uint8Array.of(1, 0, 3))],
    ["RSA even modulus", "malformed_spki", () => rsaSpki(oddModulus(2048).map((b, i, a) => (i === a.length - 1 ? b & 0xfe : b)))],
    ["RSA without NULL parameters", "malformed_spki", () => rsaSpki(oddModulus(2048), undefined, [])],
    ["RSA with two parameters", "malformed_spki", () => rsaSpki(oddModulus(2048), undefined, [DER_NULL, DER_NULL])],
    ["EC point of the wrong length", "malformed_spki", () => ecSpki(new Uint8Array(64).fill(4))],
    ["EC P-384 length on P-256", "malformed_spki", () => ecSpki(new Uint8Array(97).fill(4))],
    ["EC compressed prefix", "malformed_spki", () => ecSpki(new Uint8Array(65).fill(2))],
    ["unused bits in the key", "malformed_spki", () => ecSpki(Uint8Array.of(4, ...new Uint8Array(63), 0x80), KEY_OIDS.p256, 7)],
    ["an extra SPKI element", "malformed_spki", () => encodeSequence(encodeSequence(KEY_OIDS.ecPublicKey, KEY_OIDS.p256), encodeBitString(new Uint8Array(65).fill(4)), DER_NULL)],
    ["unknown OID", "unsupported_key_algorithm", () => encodeSequence(encodeSequence(encodeOid("1.2.3.4")), encodeBitString(new Uint8Array(4)))],
    ["empty input", "malformed_spki", () => new Uint8Array(0)],
    ["a bare NULL", "malformed_spki", () => DER_NULL],
  ])("%s → %s", (_, expected, make) => {
    expect(reason(parseSpki(make()))).toBe(expected);
  });

  it("rejects trailing data and BER lengths", async () => {
    const { spki } = await testKey("ec-p256");
    expect(reason(parseSpki(Uint8Array.of(...spki, 0)))).toBe("malformed_spki");
    const ber = Uint8Array.of(0x30, 0x81, spki[1]!, ...spki.subarray(2));
    expect(reason(parseSpki(ber))).toBe("malformed_spki");
    const indefinite = Uint8Array.of(0x30, 0x80, ...spki.subarray(2), 0, 0);
    expect(reason(parseSpki(indefinite))).toBe("malformed_spki");
  });

  it("rejects explicit curve parameters and compressed points made by openssl", () => {
    const dir = tempDir();
    try {
      openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "k.pem"], dir.path);
      openssl(["ec", "-in", "k.pem", "-param_enc", "explicit", "-pubout", "-outform", "DER", "-out", "explicit.der"], dir.path);
      openssl(["ec", "-in", "k.pem", "-conv_form", "compressed", "-pubout", "-outform", "DER", "-out", "compressed.der"], dir.path);
      openssl(["ec", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "plain.der"], dir.path);
      const read = (f: string) => new Uint8Array(readFileSync(`${dir.path}/${f}`));
      expect(reason(parseSpki(read("explicit.der")))).toBe("unsupported_curve");
      expect(reason(parseSpki(read("compressed.der")))).toBe("malformed_spki");
      expect(reason(parseSpki(read("plain.der")))).toBe("ok");
    } finally {
      dir.dispose();
    }
  });
});

describe("importSpkiForVerify", () => {
  it.each(ALL_KEY_TYPES)("imports %s as a verify-only key", async (keyType) => {
    const key = await testKey(keyType);
    const r = await importSpkiForVerify(key.spki, key.info);
    expect(r.ok && r.value.usages).toEqual(["verify"]);
    expect(r.ok && r.value.extractable).toBe(false);
  });

  it.each(["ec-p256", "ec-p384"] as const)("%s: a point off the curve is invalid_public_key", async (keyType) => {
    const { spki } = await testKey(keyType);
    const bad = spki.slice();
    bad[bad.length - 1]! ^= 1;
    const info = parseSpki(bad);
    expect(info.ok).toBe(true);
    if (!info.ok) return;
    const r = await importSpkiForVerify(bad, info.value);
    expect(r.ok ? "ok" : r.error.reason).toBe("invalid_public_key");
  });
});

describe("fuzz", () => {
  it("20,000 mutations of valid SPKIs never throw", async () => {
    const sources = await Promise.all(ALL_KEY_TYPES.map(async (k) => (await testKey(k)).spki));
    const rand = prng(0x5eed);
    let accepted = 0;
    const imports: Promise<unknown>[] = [];
    for (let i = 0; i < 20_000; i++) {
      const input = mutate(sources[i % sources.length]!, rand);
      const r = parseSpki(input);
      expect(typeof r.ok).toBe("boolean");
      if (r.ok) {
        accepted++;
        if (imports.length < 2000) imports.push(importSpkiForVerify(input, r.value).then((x) => expect(typeof x.ok).toBe("boolean")));
      } else {
        expect(r.error.reason).toMatch(/^[a-z_]+$/);
      }
    }
    await Promise.all(imports);
    expect(accepted).toBeLessThan(20_000);
  });
});
