/** EAR claims: the tiers at their exact edges, the claims object of §5.1, and where the TEE key is found. */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { SnpClaims } from "../../../src/lib/attestation/snp";
import type { TeeClaims } from "../../../src/lib/attestation";
import { appraise, parseAttestationPolicy, type Appraisal } from "../../../src/lib/kbs/attestation-policy";
import { EAR_PROFILE, EAR_VERIFIER_ID, earClaims, resolveJsonPointer, statusOf, teePubKeyFromClaims, tierOf, TRUST_CLAIMS, type EarClaimsInput, type TrustVector } from "../../../src/lib/kbs/ear";
import { fromSnp, sampleClaims, verifiedSample, verifiedSnp } from "./claims";

const ZERO: TrustVector = Object.fromEntries(TRUST_CLAIMS.map((c) => [c, 0])) as TrustVector;

describe("tiers (rust ear TrustClaim::tier)", () => {
  it.each<[number, string]>([
    [-128, "contraindicated"],
    [-97, "contraindicated"],
    [-96, "warning"],
    [-33, "warning"],
    [-32, "affirming"],
    [-2, "affirming"],
    [-1, "none"],
    [0, "none"],
    [1, "none"],
    [2, "affirming"],
    [3, "affirming"],
    [31, "affirming"],
    [32, "warning"],
    [33, "warning"],
    [36, "warning"],
    [95, "warning"],
    [96, "contraindicated"],
    [97, "contraindicated"],
    [127, "contraindicated"],
    [Number.NaN, "contraindicated"],
  ])("%d is %s", (v, tier) => {
    expect(tierOf(v)).toBe(tier);
  });

  it("ear.status is the worst tier, wherever the value sits in the vector", () => {
    let checked = 0;
    for (const claim of TRUST_CLAIMS) {
      for (const v of [-33, -32, -1, 0, 1, 31, 32, 95, 96]) {
        expect(statusOf({ ...ZERO, [claim]: v })).toBe(tierOf(v));
        expect(statusOf({ ...ZERO, hardware: 2, [claim]: v })).toBe(claim === "hardware" ? tierOf(v) : tierOf(v) === "none" ? "affirming" : tierOf(v));
        checked++;
      }
    }
    expect(checked).toBe(8 * 9);
    expect(statusOf(ZERO)).toBe("none");
    expect(statusOf({ ...ZERO, hardware: 2, executables: 33, configuration: 96 })).toBe("contraindicated");
    expect(statusOf({ ...ZERO, hardware: 32, executables: 2 })).toBe("warning");
  });
});

let snp: Record<string, SnpClaims> = {};
beforeAll(async () => {
  snp = await verifiedSnp();
  await verifiedSample();
});

const TEE_PUBKEY = { kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", x: "AhfmF_C2RDkoJ4-WmZ5pojpPLBUr321s32bluAKC1O0", y: "GUp968uXcS0t2jyoWqh2Wlb0X8dYWZZS8ol8ZTBuV5Q" };
const NONCE = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NOW = Date.parse("2025-06-01T12:00:00.999Z");

function input(claims: TeeClaims, appraisal: Appraisal, over: Partial<EarClaimsInput> = {}): EarClaimsInput {
  return {
    claims,
    appraisal,
    policyId: "default",
    runtimeData: { nonce: NONCE, teePubKey: TEE_PUBKEY, additionalEvidence: "" },
    issuer: "https://signet.example.com",
    now: NOW,
    lifetimeSeconds: 300,
    ...over,
  };
}

describe("earClaims", () => {
  it("is the EAR of §5.1 for a real SNP appraisal", () => {
    const claims = fromSnp(snp["trustee-azure-milan-v2"]!);
    const p = parseAttestationPolicy({ version: 1, snp: { measurements: [claims.measurement] } });
    if (!p.ok) throw new Error(p.error.detail);
    const appraisal = appraise(claims, p.value, "restricted");
    const ear = earClaims(input(claims, appraisal, { policyId: "tenant-a" }));
    expect(ear).toEqual({
      eat_profile: "tag:github.com,2024:confidential-containers/Trustee",
      iat: Math.floor(NOW / 1000),
      exp: Math.floor(NOW / 1000) + 300,
      iss: "https://signet.example.com",
      "ear.verifier-id": { developer: "signet", build: EAR_VERIFIER_ID.build },
      submods: {
        cpu0: {
          "ear.status": "affirming",
          "ear.trustworthiness-vector": {
            "instance-identity": 0,
            configuration: 2,
            executables: 2,
            "file-system": 0,
            hardware: 2,
            "runtime-opaque": 0,
            "storage-opaque": 0,
            "sourced-data": 0,
          },
          "ear.appraisal-policy-id": "tenant-a",
          "ear.veraison.annotated-evidence": {
            snp: snp["trustee-azure-milan-v2"],
            report_data: claims.reportData,
            platform_id: claims.platformId,
            runtime_data_claims: { nonce: NONCE, "tee-pubkey": TEE_PUBKEY },
          },
        },
      },
    });
    expect(ear.eat_profile).toBe(EAR_PROFILE);
    expect(JSON.parse(JSON.stringify(ear))).toEqual(ear);
    expect(Object.keys(ear.submods.cpu0["ear.trustworthiness-vector"])).toEqual([...TRUST_CLAIMS]);
  });

  it("carries init-data only when it was given, and additional-evidence only when verbose", () => {
    const claims = sampleClaims();
    const appraisal = appraise(claims, undefined, "permissive");
    const plain = earClaims(input(claims, appraisal, { runtimeData: { nonce: NONCE, teePubKey: TEE_PUBKEY, additionalEvidence: '{"sampledevice":{}}' } }));
    const evidence = plain.submods.cpu0["ear.veraison.annotated-evidence"];
    expect(Object.keys(evidence)).toEqual(["sample", "report_data", "platform_id", "runtime_data_claims"]);
    expect(evidence.runtime_data_claims).toEqual({ nonce: NONCE, "tee-pubkey": TEE_PUBKEY });
    expect(plain.submods.cpu0["ear.status"]).toBe("warning");

    const verbose = earClaims(input(claims, appraisal, { verbose: true, initData: { digest: "ab".repeat(32), claims: { "aa.toml": { token_configs: {} } } } }));
    const e2 = verbose.submods.cpu0["ear.veraison.annotated-evidence"];
    expect(e2.runtime_data_claims).toEqual({ nonce: NONCE, "tee-pubkey": TEE_PUBKEY, "additional-evidence": "" });
    expect(e2.init_data).toBe("ab".repeat(32));
    expect(e2.init_data_claims).toEqual({ "aa.toml": { token_configs: {} } });
    const nullClaims = earClaims(input(claims, appraisal, { initData: { digest: "cd".repeat(32), claims: null } }));
    expect(nullClaims.submods.cpu0["ear.veraison.annotated-evidence"].init_data_claims).toBeNull();
  });

  it.each<[string, Partial<EarClaimsInput> | ((a: Appraisal) => Partial<EarClaimsInput>)]>([
    ["a status that is not the vector's", (a) => ({ appraisal: { ...a, status: "affirming" } })],
    ["a zero lifetime", { lifetimeSeconds: 0 }],
    ["a fractional lifetime", { lifetimeSeconds: 1.5 }],
    ["a time that is not a number", { now: Number.NaN }],
  ])("refuses %s (caller misuse)", (_what, over) => {
    const claims = sampleClaims();
    const appraisal = appraise(claims, undefined, "permissive");
    expect(() => earClaims(input(claims, appraisal, typeof over === "function" ? over(appraisal) : over))).toThrow(TypeError);
  });

  it("names this build as package.json versions it", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    expect(EAR_VERIFIER_ID.build).toBe(`signet ${pkg.version}`);
  });
});

describe("teePubKeyFromClaims", () => {
  const ear = (key: unknown) => ({ submods: { cpu0: { "ear.veraison.annotated-evidence": { runtime_data_claims: { "tee-pubkey": key } } } } });
  it.each<[string, unknown, unknown]>([
    ["an EAR token", ear(TEE_PUBKEY), TEE_PUBKEY],
    ["the top level", { "tee-pubkey": "top" }, "top"],
    ["EAR before the top level", { ...ear("ear"), "tee-pubkey": "top" }, "ear"],
    ["Intel TA before EAR", { ...ear("ear"), tdx: { attester_runtime_data: { "tee-pubkey": "ita" } } }, "ita"],
    ["attester_user_data before the legacy token", { tdx: { attester_user_data: { "tee-pubkey": "user" } }, customized_claims: { runtime_data: { "tee-pubkey": "coco" } } }, "user"],
    ["the legacy CoCo token before EAR", { ...ear("ear"), customized_claims: { runtime_data: { "tee-pubkey": "coco" } } }, "coco"],
    ["a null key at the first pointer that resolves", { ...ear(null), "tee-pubkey": "top" }, null],
    ["no key", { submods: { cpu0: {} } }, undefined],
    ["a token without submods", { iss: "x" }, undefined],
    ["submods as an array", { submods: [{ "ear.veraison.annotated-evidence": {} }] }, undefined],
    ["a dotted key split into objects", { submods: { cpu0: { ear: { veraison: { "annotated-evidence": { runtime_data_claims: { "tee-pubkey": "k" } } } } } } }, undefined],
    ["not an object", "tee-pubkey", undefined],
    ["null", null, undefined],
  ])("%s", (_what, claims, expected) => {
    expect(teePubKeyFromClaims(claims)).toEqual(expected);
  });

  it("follows only own properties", () => {
    const inherited = Object.create({ "tee-pubkey": "inherited" }) as object;
    expect(teePubKeyFromClaims(inherited)).toBeUndefined();
  });
});

describe("resolveJsonPointer (RFC 6901)", () => {
  const doc = { "a/b": 1, "m~n": 2, "ear.status": 3, arr: [10, 20], "": 4, "~1": 5 };
  it.each<[string, unknown]>([
    ["", doc],
    ["/a~1b", 1],
    ["/m~0n", 2],
    ["/ear.status", 3],
    ["/arr/1", 20],
    ["/", 4],
    ["/~01", 5],
    ["/a/b", undefined],
    ["/arr/01", undefined],
    ["/arr/2", undefined],
    ["/arr/-", undefined],
    ["/~2", undefined],
    ["/m~", undefined],
    ["ear.status", undefined],
    ["/__proto__", undefined],
    ["/constructor", undefined],
    ["/arr/length", undefined],
  ])("%s", (pointer, expected) => {
    expect(resolveJsonPointer(doc, pointer)).toEqual(expected);
  });
});
