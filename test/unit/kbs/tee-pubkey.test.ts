/**
 * The tee-pubkey parser: what it accepts, its re-serialization, every refusal with its reason, an
 * agreement check against @noble/curves, and a fuzz over thousands of mutated keys (never throws).
 */
import { p256, p521 } from "@noble/curves/nist.js";
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64Url } from "../../../src/lib/encoding";
import type { KbsFailureReason } from "../../../src/lib/kbs/errors";
import { generateTeeKeyPair } from "../../../src/lib/kbs/resource-jwe";
import { isOnCurve, parseTeePubKey, TEE_CURVES, teePubKeyJwk, type TeeCurve } from "../../../src/lib/kbs/tee-pubkey";
import { fuzz, mutateText, VECTOR } from "./kbs-fixtures";

const EC = VECTOR.teePubKey;
const rsa = (await generateTeeKeyPair("RSA-OAEP-256")).teePubKey as { kty: "RSA"; alg: "RSA-OAEP-256"; n: string; e: string };
const p521Key = (await generateTeeKeyPair("ECDH-ES+A256KW-P521")).teePubKey as { kty: "EC"; crv: "P-521"; alg: string; x: string; y: string };
const n1024 = toBase64Url(new Uint8Array(128).fill(0xff));
const incremented = (b64: string, delta: number): string => {
  const b = fromBase64(b64)!;
  b[b.length - 1] = (b[b.length - 1]! + delta) & 0xff;
  return toBase64Url(b);
};

describe("accepted keys", () => {
  it("the §12 key parses to itself", () => {
    expect(parseTeePubKey(EC)).toEqual({ ok: true, value: EC });
  });

  it("P-521 and RSA-OAEP-256 keys as guest-components makes them", () => {
    expect(parseTeePubKey(p521Key)).toEqual({ ok: true, value: p521Key });
    expect(parseTeePubKey(rsa)).toEqual({ ok: true, value: rsa });
    expect(fromBase64(p521Key.x)!.length).toBe(66);
  });

  it("re-serialization keeps only the typed members, kty first (as Trustee's serde)", () => {
    const r = parseTeePubKey({ use: "enc", kid: "k1", y: EC.y, x: EC.x, alg: EC.alg, crv: EC.crv, kty: "EC", d: "secret?" });
    expect(r.ok).toBe(true);
    const jwk = teePubKeyJwk(r.ok ? r.value : EC);
    expect(JSON.stringify(jwk)).toBe(`{"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":"${EC.x}","y":"${EC.y}"}`);
    const rs = parseTeePubKey({ ...rsa, ext: true, key_ops: ["encrypt"] });
    expect(JSON.stringify(teePubKeyJwk(rs.ok ? rs.value : rsa))).toBe(`{"kty":"RSA","alg":"RSA-OAEP-256","n":"${rsa.n}","e":"${rsa.e}"}`);
  });
});

describe("refusals, each with its reason", () => {
  const cases: [string, unknown, KbsFailureReason][] = [
    ["RSA1_5", { ...rsa, alg: "RSA1_5" }, "rsa1_5_refused"],
    ["RSA-OAEP (SHA-1)", { ...rsa, alg: "RSA-OAEP" }, "unsupported_key_algorithm"],
    ["ECDH-ES (direct)", { ...EC, alg: "ECDH-ES" }, "unsupported_key_algorithm"],
    ["ECDH-ES+A128KW", { ...EC, alg: "ECDH-ES+A128KW" }, "unsupported_key_algorithm"],
    ["RSA1_5 on an EC key", { ...EC, alg: "RSA1_5" }, "unsupported_key_algorithm"],
    ["unknown kty", { ...EC, kty: "OKP" }, "unsupported_key_type"],
    ["lowercase kty", { ...EC, kty: "ec" }, "unsupported_key_type"],
    ["AKP (ML-KEM)", { kty: "AKP", alg: "ML-KEM-768+A192KW", pub: "AAAA" }, "unsupported_key_type"],
    ["P-384", { ...EC, crv: "P-384" }, "unsupported_curve"],
    ["secp256k1", { ...EC, crv: "secp256k1" }, "unsupported_curve"],
    ["x one byte short", { ...EC, x: toBase64Url(fromBase64(EC.x)!.subarray(1)) }, "bad_coordinate"],
    ["y one byte long", { ...EC, y: toBase64Url(new Uint8Array([0, ...fromBase64(EC.y)!])) }, "bad_coordinate"],
    ["P-256 coordinates on a P-521 key", { ...EC, crv: "P-521" }, "bad_coordinate"],
    ["padded base64url", { ...EC, x: `${EC.x}=` }, "bad_coordinate"],
    ["standard base64 alphabet", { ...EC, x: EC.x.replace("-", "+").replace("_", "/") }, "bad_coordinate"],
    ["non-canonical trailing bits", { ...EC, x: EC.x.slice(0, -1) + "1" }, "bad_coordinate"],
    ["whitespace", { ...EC, y: ` ${EC.y}` }, "bad_coordinate"],
    ["a point off the curve", { ...EC, y: incremented(EC.y, 1) }, "point_not_on_curve"],
    ["(0, 0)", { ...EC, x: toBase64Url(new Uint8Array(32)), y: toBase64Url(new Uint8Array(32)) }, "point_not_on_curve"],
    ["x ≥ p", { ...EC, x: toBase64Url(new Uint8Array(32).fill(0xff)) }, "point_not_on_curve"],
    ["a P-521 point off the curve", { ...p521Key, x: incremented(p521Key.x, 1) }, "point_not_on_curve"],
    ["RSA 1024-bit", { ...rsa, n: n1024 }, "bad_rsa_key"],
    ["RSA modulus with a leading zero", { ...rsa, n: toBase64Url(new Uint8Array([0, ...fromBase64(rsa.n)!])) }, "bad_rsa_key"],
    ["RSA even modulus", { ...rsa, n: incremented(rsa.n, 1) }, "bad_rsa_key"],
    ["RSA 4104-bit", { ...rsa, n: toBase64Url(new Uint8Array(513).fill(0xff)) }, "bad_rsa_key"],
    ["RSA e = 1", { ...rsa, e: "AQ" }, "bad_rsa_key"],
    ["RSA even e", { ...rsa, e: "AQAA" }, "bad_rsa_key"],
    ["RSA e of 5 bytes", { ...rsa, e: toBase64Url(new Uint8Array([1, 0, 0, 0, 1])) }, "bad_rsa_key"],
    ["RSA empty e", { ...rsa, e: "" }, "bad_rsa_key"],
    ["missing x", { kty: "EC", crv: "P-256", alg: EC.alg, y: EC.y }, "malformed_tee_pubkey"],
    ["numeric y", { ...EC, y: 1 }, "malformed_tee_pubkey"],
    ["missing n", { kty: "RSA", alg: "RSA-OAEP-256", e: "AQAB" }, "malformed_tee_pubkey"],
    ["missing kty", { crv: EC.crv, alg: EC.alg, x: EC.x, y: EC.y }, "malformed_tee_pubkey"],
    ["kty inherited, not own", Object.assign(Object.create({ kty: "EC" }) as object, { crv: EC.crv, alg: EC.alg, x: EC.x, y: EC.y }), "malformed_tee_pubkey"],
    ["an array", [EC], "malformed_tee_pubkey"],
    ["a string", JSON.stringify(EC), "malformed_tee_pubkey"],
    ["null", null, "malformed_tee_pubkey"],
  ];

  it.each(cases)("%s → %s", (_, key, reason) => {
    const r = parseTeePubKey(key);
    expect(r.ok ? "accepted" : r.error.reason).toBe(reason);
  });
});

describe("curve arithmetic agrees with @noble/curves", () => {
  const NOBLE = { "P-256": p256, "P-521": p521 } as const;

  it("the curve constants are the standard ones", () => {
    for (const crv of ["P-256", "P-521"] as const) {
      const c = NOBLE[crv].Point.CURVE();
      expect([TEE_CURVES[crv].p, TEE_CURVES[crv].b]).toEqual([c.p, c.b]);
    }
  });

  it.each(["P-256", "P-521"] as const)("%s: 150 random points are on the curve, each with y+1 and y+2 off it", (crv: TeeCurve) => {
    const size = TEE_CURVES[crv].size;
    let checked = 0;
    for (let i = 0; i < 150; i++) {
      const point = NOBLE[crv].getPublicKey(NOBLE[crv].utils.randomSecretKey(), false);
      const x = point.subarray(1, 1 + size);
      const y = point.subarray(1 + size);
      if (!isOnCurve(crv, x, y)) throw new Error(`valid point ${i} refused`);
      for (const delta of [1, 2]) {
        const bad = y.slice();
        bad[size - 1] = (bad[size - 1]! + delta) & 0xff;
        let nobleOk = true;
        try {
          NOBLE[crv].Point.fromBytes(new Uint8Array([4, ...x, ...bad])).assertValidity();
        } catch {
          nobleOk = false;
        }
        if (isOnCurve(crv, x, bad) !== nobleOk) throw new Error(`disagreement at ${i}`);
        checked++;
      }
    }
    expect(checked).toBe(300);
  });
});

describe("fuzz: parseTeePubKey never throws", () => {
  const BASES: readonly Record<string, unknown>[] = [EC, p521Key, rsa];
  const VALUES: readonly unknown[] = [null, 0, -1, 1e308, true, "", "EC", "RSA", "P-256", "RSA1_5", [], {}, "A".repeat(5000), "\ud800", EC.x, rsa.n];

  const POOL = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

  function mutant(rand: () => number): unknown {
    const base: Record<string, unknown> = { ...BASES[Math.floor(rand() * BASES.length)]! };
    const keys = [...Object.keys(base), "kty", "crv", "alg", "x", "y", "n", "e", "pub", "__proto__"];
    const edits = 1 + Math.floor(rand() * 3);
    for (let j = 0; j < edits; j++) {
      const k = keys[Math.floor(rand() * keys.length)]!;
      const r = rand();
      if (r < 0.2) delete base[k];
      else if (r < 0.5) base[k] = VALUES[Math.floor(rand() * VALUES.length)];
      else if (typeof base[k] === "string") base[k] = mutateText(base[k], rand, POOL);
      else base[k] = mutateText(String(base[k] ?? ""), rand, POOL);
    }
    if (rand() < 0.1) {
      try {
        return JSON.parse(mutateText(JSON.stringify(base), rand, POOL));
      } catch {
        return mutateText(JSON.stringify(base), rand, POOL);
      }
    }
    return base;
  }

  it("5,000 mutated keys: every answer is a Result, every refusal a known reason, every acceptance re-parses to itself", () => {
    const t = fuzz(5000, 0x7ee, (rand) => parseTeePubKey(mutant(rand)), (key, i) => {
      const again = parseTeePubKey(JSON.parse(JSON.stringify(teePubKeyJwk(key))));
      if (!again.ok || JSON.stringify(again.value) !== JSON.stringify(key)) throw new Error(`unstable acceptance at ${i}`);
    });
    expect(t.runs).toBe(5000);
    expect([...t.reasons.keys()]).toEqual(
      expect.arrayContaining(["bad_coordinate", "malformed_tee_pubkey", "unsupported_curve", "unsupported_key_algorithm", "unsupported_key_type"]),
    );
    for (const reason of t.reasons.keys()) {
      expect([
        "malformed_tee_pubkey", "unsupported_key_type", "unsupported_key_algorithm", "rsa1_5_refused", "unsupported_curve", "bad_coordinate", "point_not_on_curve", "bad_rsa_key",
      ]).toContain(reason);
    }
    expect(t.accepted).toBeGreaterThan(0);
    expect(t.accepted + [...t.reasons.values()].reduce((a, b) => a + b, 0)).toBe(5000);
  });
});
