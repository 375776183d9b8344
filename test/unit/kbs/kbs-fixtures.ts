/**
 * The deterministic vector of shared/specs/kbs-protocol.md §12 and helpers to import raw private
 * scalars into WebCrypto (which takes EC private keys only as JWK with x and y: they are computed
 * here with @noble/curves, tests only).
 */
import { p256, p521 } from "@noble/curves/nist.js";
import { toBase64Url } from "../../../src/lib/encoding";
import type { Result } from "../../../src/lib/result";
import { prng } from "../../support/prng";
import type { EcTeePubKey, TeeCurve } from "../../../src/lib/kbs/tee-pubkey";

export const VECTOR = {
  nonce: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
  teePubKey: {
    kty: "EC",
    crv: "P-256",
    alg: "ECDH-ES+A256KW",
    x: "AhfmF_C2RDkoJ4-WmZ5pojpPLBUr321s32bluAKC1O0",
    y: "GUp968uXcS0t2jyoWqh2Wlb0X8dYWZZS8ol8ZTBuV5Q",
  } satisfies EcTeePubKey,
  jcs:
    '{"additional-evidence":"","nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"AhfmF_C2RDkoJ4-WmZ5pojpPLBUr321s32bluAKC1O0","y":"GUp968uXcS0t2jyoWqh2Wlb0X8dYWZZS8ol8ZTBuV5Q"}}',
  sha384: "1147b1af549c26b6863daf32fc064834beaa470ddb06fd5c57c44363cb2e86f11c4d80906326c2154d2b96d47de1ac62",
  sampleEvidence: { svn: "1", report_data: "EUexr1ScJraGPa8y/AZINL6qRw3bBv1cV8RDY8suhvEcTYCQYybCFU0rltR94axi" },
  plaintext: "shhhhhhh",
  jwe: {
    protected:
      "eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00iLCJlcGsiOnsiY3J2IjoiUC0yNTYiLCJrdHkiOiJFQyIsIngiOiIxbHFUbDN5cVBSc0lHRkxfVjZlZVJsOFdZRmR6QkxycTFRWGRPa2hZblBNIiwieSI6IlVCaGVpVk55MzJJaDZqb1RkVmZrY18zYloxWHdXOVVIdzhVel9PbkpFb1UifX0",
    encrypted_key: "Tv226vhM20rpXNoICDhHf0YT2lYcLlnHvVvuv_Fmpi_nXNRYDlyw1A",
    iv: "RERERERERERERERE",
    ciphertext: "Q_ms-qJu5wM",
    tag: "JLnfz06npH5YGAxxxXEKpw",
  },
} as const;

export const filled = (byte: number, length: number): Uint8Array<ArrayBuffer> => new Uint8Array(length).fill(byte);

const NOBLE = { "P-256": p256, "P-521": p521 } as const;

/** The public point of a raw private scalar, as base64url coordinates. */
export function publicCoordinates(crv: TeeCurve, d: Uint8Array): { x: string; y: string } {
  const size = crv === "P-256" ? 32 : 66;
  const point = NOBLE[crv].getPublicKey(d, false);
  return { x: toBase64Url(point.subarray(1, 1 + size)), y: toBase64Url(point.subarray(1 + size)) };
}

/** An extractable ECDH private key from a raw scalar. */
export async function importEcdhPrivate(crv: TeeCurve, d: Uint8Array): Promise<CryptoKey> {
  const { x, y } = publicCoordinates(crv, d);
  return crypto.subtle.importKey("jwk", { kty: "EC", crv, d: toBase64Url(d), x, y, ext: true }, { name: "ECDH", namedCurve: crv }, true, ["deriveBits"]);
}

/** One random text edit for the fuzzers: insert, delete a run, replace, duplicate a slice, or truncate. */
export function mutateText(s: string, rand: () => number, pool: readonly string[]): string {
  const at = Math.floor(rand() * (s.length + 1));
  const ch = pool[Math.floor(rand() * pool.length)]!;
  switch (Math.floor(rand() * 5)) {
    case 0:
      return s.slice(0, at) + ch + s.slice(at);
    case 1:
      return s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8));
    case 2:
      return s.slice(0, at) + ch + s.slice(at + 1);
    case 3:
      return s.slice(0, at) + s.slice(at, at + 20) + s.slice(at);
    default:
      return s.slice(0, at);
  }
}

export interface FuzzTally {
  /** How many inputs went through (the loop test asserts it). */
  readonly runs: number;
  readonly accepted: number;
  /** Refusals by reason. */
  readonly reasons: ReadonlyMap<string, number>;
}

/** Runs `count` seeded inputs through `step`; `onAccept` may throw to fail the run (plain checks, no expect() in the loop). */
export function fuzz<T>(count: number, seed: number, step: (rand: () => number) => Result<T, { reason: string }>, onAccept: (value: T, i: number) => void): FuzzTally {
  const rand = prng(seed);
  const reasons = new Map<string, number>();
  let accepted = 0;
  let runs = 0;
  for (let i = 0; i < count; i++, runs++) {
    const r = step(rand);
    if (r.ok) {
      accepted++;
      onAccept(r.value, i);
    } else {
      reasons.set(r.error.reason, (reasons.get(r.error.reason) ?? 0) + 1);
    }
  }
  return { runs, accepted, reasons };
}
