/**
 * Shared helpers for the lib/x509 tests: key generation (cached per process), an issuing CA,
 * OpenSSL in a temp dir, and a seeded PRNG for the fuzz tests.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toPem } from "../../../src/lib/encoding";
import { KEY_TYPES, type KeyType } from "../../../src/lib/x509/algorithms";
import { caSubjectName, computeKeyId, encodeCaTbs, signTbs } from "../../../src/lib/x509/certificate";
import { parseSpki, type SpkiInfo } from "../../../src/lib/x509/spki";

x509.cryptoProvider.set(crypto);
export { x509 };

export const ALL_KEY_TYPES: readonly KeyType[] = ["ec-p256", "ec-p384", "rsa-2048"];

export interface TestKey {
  readonly keyType: KeyType;
  readonly pair: CryptoKeyPair;
  readonly spki: Uint8Array;
  readonly info: SpkiInfo;
  readonly keyId: Uint8Array;
}

const keyCache = new Map<string, Promise<TestKey>>();

/** A fresh key per (keyType, label), generated once per test file. */
export function testKey(keyType: KeyType, label = "default"): Promise<TestKey> {
  const cacheKey = `${keyType}/${label}`;
  let p = keyCache.get(cacheKey);
  if (!p) {
    p = (async () => {
      const pair = (await crypto.subtle.generateKey(KEY_TYPES[keyType].generate, true, ["sign", "verify"])) as CryptoKeyPair;
      const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
      const info = parseSpki(spki);
      if (!info.ok) throw new Error(`generated key did not parse: ${info.error.reason}`);
      return { keyType, pair, spki, info: info.value, keyId: computeKeyId(info.value.subjectPublicKey) };
    })();
    keyCache.set(cacheKey, p);
  }
  return p;
}

export interface TestCa {
  readonly key: TestKey;
  readonly serial: Uint8Array;
  readonly name: Uint8Array;
  readonly der: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
}

export const TRUST_DOMAIN = "example.org";

export async function testCa(keyType: KeyType, now = Date.now(), trustDomain = TRUST_DOMAIN): Promise<TestCa> {
  const key = await testKey(keyType, "ca");
  const serial = crypto.getRandomValues(new Uint8Array(16));
  const notBefore = now - 60_000;
  const notAfter = now + 24 * 3600_000;
  const tbs = encodeCaTbs({ trustDomain, serial, notBefore, notAfter, keyType, spki: key.spki, subjectKeyId: key.keyId });
  const der = await signTbs(tbs, key.pair.privateKey, keyType);
  return { key, serial, name: caSubjectName(trustDomain, serial), der, notBefore, notAfter };
}

/** Runs `openssl` with `args`; returns stdout (stderr folded in on failure via the thrown error). */
export function openssl(args: readonly string[], cwd?: string): string {
  return execFileSync("openssl", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A temp dir with helpers to write PEM/DER files; call `dispose()` when done. */
export function tempDir(): { path: string; pem: (name: string, label: string, der: Uint8Array) => string; file: (name: string, data: Uint8Array | string) => string; dispose: () => void } {
  const path = mkdtempSync(join(tmpdir(), "signet-x509-"));
  const file = (name: string, data: Uint8Array | string): string => {
    const p = join(path, name);
    writeFileSync(p, data);
    return p;
  };
  return {
    path,
    file,
    pem: (name, label, der) => file(name, toPem(label, der)),
    dispose: () => rmSync(path, { recursive: true, force: true }),
  };
}

export { prng } from "../../support/prng";

/** One random mutation: flip, truncate, insert, delete, duplicate a slice, or set a length byte. */
export function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  const n = input.length;
  const at = Math.floor(rand() * n);
  const byte = Math.floor(rand() * 256);
  switch (Math.floor(rand() * 6)) {
    case 0: {
      const out = input.slice();
      out[at] = out[at]! ^ (1 + Math.floor(rand() * 255));
      return out;
    }
    case 1:
      return input.slice(0, at);
    case 2: {
      const out = new Uint8Array(n + 1);
      out.set(input.subarray(0, at));
      out[at] = byte;
      out.set(input.subarray(at), at + 1);
      return out;
    }
    case 3: {
      const out = new Uint8Array(n - 1);
      out.set(input.subarray(0, at));
      out.set(input.subarray(at + 1), at);
      return out;
    }
    case 4: {
      const len = Math.min(1 + Math.floor(rand() * 8), n - at);
      const out = new Uint8Array(n + len);
      out.set(input.subarray(0, at + len));
      out.set(input.subarray(at), at + len);
      return out;
    }
    default: {
      const out = input.slice();
      out[at] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff][Math.floor(rand() * 7)]!;
      return out;
    }
  }
}

export function hex(bytes: Uint8Array | ArrayBuffer): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString("hex");
}

export function fromHexString(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));
}
