import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64, toPem } from "../../../src/lib/encoding";
import { ecdsaP1363ToDer, KEY_TYPES, SIGNATURE_ALGORITHMS, type KeyType } from "../../../src/lib/x509/algorithms";
import { decodeCsr, decodeCsrText, parseAndVerifyCsr, parseCsr } from "../../../src/lib/x509/csr";
import {
  DER_NULL,
  encodeBitString,
  encodeConstructed,
  encodeOid,
  encodeSequence,
  encodeSet,
  encodeSmallInteger,
  encodeUtf8String,
} from "../../../src/lib/x509/der-writer";
import { ALL_KEY_TYPES, hex, mutate, openssl, prng, tempDir, testKey, x509, type TestKey } from "./x509-test-kit";

type Outcome = string;
const outcome = async (input: Uint8Array): Promise<Outcome> => {
  const r = await parseAndVerifyCsr(input);
  return r.ok ? "ok" : r.error.reason;
};

const SUBJECT = encodeSequence(encodeSet(encodeSequence(encodeOid("2.5.4.3"), encodeUtf8String("workload"))));
const NO_ATTRIBUTES = Uint8Array.of(0xa0, 0x00);

interface CraftOptions {
  version?: number;
  subject?: Uint8Array;
  attributes?: Uint8Array | null;
  /** AlgorithmIdentifier placed in the CSR (default: the key type's own). */
  algorithmId?: Uint8Array;
  /** Hash actually used to sign (default: the key type's own). */
  signHash?: "SHA-256" | "SHA-384" | "SHA-512";
  /** Replace the signature BIT STRING. */
  signature?: (sig: Uint8Array) => Uint8Array;
}

/** Builds a PKCS#10 request with our own DER writer, so each field can be bent on purpose. */
async function craftCsr(key: TestKey, o: CraftOptions = {}): Promise<Uint8Array> {
  const info = KEY_TYPES[key.keyType];
  const cri = encodeSequence(encodeSmallInteger(o.version ?? 0), o.subject ?? SUBJECT, key.spki, ...(o.attributes === null ? [] : [o.attributes ?? NO_ATTRIBUTES]));
  let sig: Uint8Array;
  if (info.kind === "ec") {
    sig = ecdsaP1363ToDer(new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: o.signHash ?? info.hash }, key.pair.privateKey, cri)));
  } else {
    sig = new Uint8Array(await crypto.subtle.sign(info.sign, key.pair.privateKey, cri));
  }
  const bits = o.signature ? o.signature(sig) : encodeBitString(sig);
  return encodeSequence(cri, o.algorithmId ?? SIGNATURE_ALGORITHMS[info.signatureAlgorithm].algorithmIdentifier, bits);
}

const dir = tempDir();
const files: Record<string, Uint8Array> = {};
const OPENSSL_CSRS: Record<string, string[]> = {
  "p256-sha256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256"],
  "p384-sha384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-sha384"],
  "p256-sha384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha384"],
  "rsa2048-sha256": ["-newkey", "rsa:2048", "-sha256", "-addext", "subjectAltName=DNS:x.example.org,URI:spiffe://example.org/x"],
  "ed25519": ["-newkey", "ed25519"],
  "secp256k1": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-sha256"],
  "rsa1024": ["-newkey", "rsa:1024", "-sha256"],
};

beforeAll(() => {
  for (const [name, args] of Object.entries(OPENSSL_CSRS)) {
    openssl(["req", "-new", ...args, "-nodes", "-keyout", `${name}.key`, "-subj", "/C=US/O=Acme/CN=workload", "-outform", "DER", "-out", `${name}.der`], dir.path);
    files[name] = new Uint8Array(readFileSync(join(dir.path, `${name}.der`)));
  }
  // Same RSA key, other digests and the PSS padding (an algorithm we do not accept).
  for (const [name, extra] of [
    ["rsa2048-sha512", ["-sha512"]],
    ["rsa2048-sha384", ["-sha384"]],
    ["rsa2048-pss", ["-sha256", "-sigopt", "rsa_padding_mode:pss"]],
    ["p256-sha1", ["-sha1"]],
  ] as const) {
    const keyFile = name.startsWith("rsa") ? "rsa2048-sha256.key" : "p256-sha256.key";
    openssl(["req", "-new", "-key", keyFile, ...extra, "-subj", "/CN=workload", "-outform", "DER", "-out", `${name}.der`], dir.path);
    files[name] = new Uint8Array(readFileSync(join(dir.path, `${name}.der`)));
  }
});
afterAll(() => dir.dispose());

describe("valid CSRs are accepted", () => {
  it.each([
    ["p256-sha256", "ec-p256"],
    ["p384-sha384", "ec-p384"],
    ["p256-sha384", "ec-p256"],
    ["rsa2048-sha256", "rsa-2048"],
    ["rsa2048-sha384", "rsa-2048"],
    ["rsa2048-sha512", "rsa-2048"],
  ])("openssl req %s", async (name, keyType) => {
    const der = files[name]!;
    const r = await parseAndVerifyCsr(der);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.spkiInfo.keyType).toBe(keyType);
    const pub = openssl(["req", "-in", `${name}.der`, "-inform", "DER", "-pubkey", "-noout"], dir.path);
    expect(toPem("PUBLIC KEY", r.value.spki)).toBe(pub);
    expect(r.value.spki.buffer).not.toBe(der.buffer); // a copy, not a view into the request
  });

  it.each(ALL_KEY_TYPES)("@peculiar/x509 %s, with and without extensions", async (keyType) => {
    const key = await testKey(keyType, "csr");
    const info = KEY_TYPES[keyType];
    for (const extensions of [[], [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "a.example.org" }])]]) {
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: "CN=workload, O=Acme",
        keys: key.pair,
        signingAlgorithm: info.kind === "ec" ? { name: "ECDSA", hash: info.hash } : { name: "RSASSA-PKCS1-v1_5" },
        extensions,
      });
      const r = await parseAndVerifyCsr(new Uint8Array(csr.rawData));
      expect(r.ok && hex(r.value.spki)).toBe(hex(key.spki));
    }
  });

  it.each(ALL_KEY_TYPES)("hand-built %s: no attributes field, RSA without NULL parameters", async (keyType) => {
    const key = await testKey(keyType, "csr");
    expect(await outcome(await craftCsr(key))).toBe("ok");
    expect(await outcome(await craftCsr(key, { attributes: null }))).toBe("ok");
    if (keyType === "rsa-2048") {
      expect(await outcome(await craftCsr(key, { algorithmId: encodeSequence(encodeOid("1.2.840.113549.1.1.11")) }))).toBe("ok");
    }
  });
});

describe("invalid CSRs are rejected with a stable reason", () => {
  it.each([
    ["ed25519", "unsupported_key_algorithm"],
    ["secp256k1", "unsupported_curve"],
    ["rsa1024", "unsupported_rsa_modulus_size"],
    ["rsa2048-pss", "unsupported_signature_algorithm"],
    ["p256-sha1", "unsupported_signature_algorithm"],
  ])("openssl req %s → %s", async (name, reason) => {
    expect(await outcome(files[name]!)).toBe(reason);
  });

  it("tampered signature and tampered request info → bad_csr_signature", async () => {
    for (const name of ["p256-sha256", "p384-sha384", "rsa2048-sha256"]) {
      const der = files[name]!;
      const sigFlip = der.slice();
      sigFlip[sigFlip.length - 5]! ^= 0x01;
      expect([name, await outcome(sigFlip)]).toEqual([name, expect.stringMatching(/^(bad_csr_signature|malformed_csr)$/)]);
      const cn = Buffer.from(der).indexOf("workload"); // inside the subject CN
      const infoFlip = der.slice();
      infoFlip[cn]! ^= 0x20; // 'w' → 'W'
      expect([name, await outcome(infoFlip)]).toEqual([name, "bad_csr_signature"]);
    }
  });

  it("truncated, trailing garbage, garbage", async () => {
    const der = files["p256-sha256"]!;
    expect(await outcome(der.subarray(0, der.length - 1))).toBe("malformed_csr");
    expect(await outcome(der.subarray(0, 10))).toBe("malformed_csr");
    expect(await outcome(Uint8Array.of(...der, 0))).toBe("malformed_csr");
    expect(await outcome(new Uint8Array(0))).toBe("malformed_csr");
    expect(await outcome(new TextEncoder().encode("hello, world"))).toBe("malformed_csr");
    expect(await outcome(crypto.getRandomValues(new Uint8Array(300)))).toBe("malformed_csr");
    expect(await outcome(new Uint8Array(70 * 1024).fill(0x30))).toBe("malformed_csr");
  });

  it.each<[string, KeyType, CraftOptions, string]>([
    ["EC key labelled sha256WithRSAEncryption", "ec-p256", { algorithmId: SIGNATURE_ALGORITHMS.sha256WithRSAEncryption.algorithmIdentifier }, "unsupported_signature_algorithm"],
    ["RSA key labelled ecdsa-with-SHA256", "rsa-2048", { algorithmId: SIGNATURE_ALGORITHMS["ecdsa-with-SHA256"].algorithmIdentifier }, "unsupported_signature_algorithm"],
    ["ecdsa-with-SHA512", "ec-p256", { algorithmId: encodeSequence(encodeOid("1.2.840.10045.4.3.4")) }, "unsupported_signature_algorithm"],
    ["ECDSA with NULL parameters", "ec-p256", { algorithmId: encodeSequence(encodeOid("1.2.840.10045.4.3.2"), DER_NULL) }, "malformed_csr"],
    ["RSA with non-NULL parameters", "rsa-2048", { algorithmId: encodeSequence(encodeOid("1.2.840.113549.1.1.11"), encodeSmallInteger(0)) }, "malformed_csr"],
    ["signed with SHA-256, labelled SHA-384", "ec-p384", { signHash: "SHA-256" }, "bad_csr_signature"],
    ["version 1", "ec-p256", { version: 1 }, "malformed_csr"],
    ["an empty RDN", "ec-p256", { subject: encodeSequence(encodeSet()) }, "malformed_csr"],
    ["an AttributeTypeAndValue without value", "ec-p256", { subject: encodeSequence(encodeSet(encodeSequence(encodeOid("2.5.4.3")))) }, "malformed_csr"],
    ["a BER value deep in the subject", "ec-p256", { subject: encodeSequence(encodeSet(encodeSequence(encodeOid("2.5.4.3"), Uint8Array.of(0x30, 0x80, 0, 0)))) }, "malformed_csr"],
    ["an attribute without a value SET", "ec-p256", { attributes: encodeConstructed(0xa0, encodeSequence(encodeOid("1.2.840.113549.1.9.14"))) }, "malformed_csr"],
    ["signature BIT STRING with unused bits", "ec-p256", { signature: (s) => encodeBitString(Uint8Array.of(...s.subarray(0, -1), 0), 1) }, "malformed_csr"],
    ["a P1363 (not DER) ECDSA signature", "ec-p256", { signature: () => encodeBitString(new Uint8Array(64).fill(1)) }, "bad_csr_signature"],
    ["an RSA signature of the wrong length", "rsa-2048", { signature: (s) => encodeBitString(s.subarray(1)) }, "bad_csr_signature"],
  ])("%s", async (_, keyType, options, reason) => {
    expect(await outcome(await craftCsr(await testKey(keyType, "csr"), options))).toBe(reason);
  });

  it("an EC point off the curve → invalid_public_key", async () => {
    const key = await testKey("ec-p256", "csr");
    const spki = key.spki.slice();
    spki[spki.length - 1]! ^= 1;
    expect(await outcome(await craftCsr({ ...key, spki }))).toBe("invalid_public_key");
  });

  it("parseCsr reports the parts without verifying", async () => {
    const r = parseCsr(files["rsa2048-sha512"]!);
    expect(r.ok && r.value.signatureAlgorithm.name).toBe("sha512WithRSAEncryption");
    expect(r.ok && r.value.signature.length).toBe(256);
  });
});

describe("decodeCsr / decodeCsrText", () => {
  const der = () => files["p256-sha256"]!;

  it("accepts DER, PEM and the NEW CERTIFICATE REQUEST label", () => {
    expect(decodeCsr(der())).toEqual({ ok: true, value: der() });
    const pem = toPem("CERTIFICATE REQUEST", der());
    expect(hex((decodeCsr(pem) as { value: Uint8Array }).value)).toBe(hex(der()));
    expect(hex((decodeCsr(toPem("NEW CERTIFICATE REQUEST", der())) as { value: Uint8Array }).value)).toBe(hex(der()));
    expect(hex((decodeCsr(new TextEncoder().encode(pem)) as { value: Uint8Array }).value)).toBe(hex(der()));
    expect(decodeCsr(`Certificate Request:\n  ...\n${pem}`).ok).toBe(true);
  });

  it.each([
    ["no PEM block", "hello"],
    ["two blocks", toPem("CERTIFICATE REQUEST", Uint8Array.of(0x30, 0)).repeat(2)],
    ["a certificate", toPem("CERTIFICATE", Uint8Array.of(0x30, 0))],
    ["invalid base64", "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n"],
    ["an empty string", ""],
  ])("rejects %s", (_, input) => {
    const r = decodeCsr(input);
    expect(r.ok ? "ok" : r.error.reason).toBe("malformed_csr");
  });

  it("decodeCsrText takes PEM or bare base64 DER", () => {
    expect(hex(decodeCsrText(toPem("CERTIFICATE REQUEST", der()))!)).toBe(hex(der()));
    expect(hex(decodeCsrText(toBase64(der()).replace(/(.{64})/g, "$1\n"))!)).toBe(hex(der()));
    expect(decodeCsrText("not base64 at all!")).toBeUndefined();
    expect(decodeCsrText("")).toBeUndefined();
  });
});

describe("fuzz", () => {
  // P-384 verification is the slowest path; P-256 and RSA exercise the same parser and verifier.
  it("20,000 mutations of valid CSRs never throw and are never accepted", { timeout: 30_000 }, async () => {
    const sources = [files["p256-sha256"]!, files["rsa2048-sha256"]!];
    const rand = prng(0xc5a);
    const reasons = new Map<string, number>();
    for (let batch = 0; batch < 100; batch++) {
      const inputs = Array.from({ length: 200 }, (_, i) => {
        const src = sources[(batch * 200 + i) % sources.length]!;
        return { src, input: mutate(src, rand) };
      });
      const results = await Promise.all(inputs.map(({ input }) => parseAndVerifyCsr(input)));
      results.forEach((r, i) => {
        const { src, input } = inputs[i]!;
        if (input.length === src.length && input.every((b, j) => b === src[j])) return;
        expect(r.ok).toBe(false);
        if (!r.ok) reasons.set(r.error.reason, (reasons.get(r.error.reason) ?? 0) + 1);
      });
    }
    expect([...reasons.keys()].every((k) => /^[a-z_]+$/.test(k))).toBe(true);
    expect(reasons.get("malformed_csr")).toBeGreaterThan(1000);
    expect(reasons.get("bad_csr_signature")).toBeGreaterThan(100);
  });
});
