/**
 * The resource policy on EAR claims built from real appraisals: path patterns with wildcards, the
 * first matching rule deciding, every condition allowing and denying, the profile defaults, and
 * hostile tokens and policies.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SnpClaims } from "../../../src/lib/attestation/snp";
import type { TdxClaims } from "../../../src/lib/attestation/tdx";
import type { TeeClaims } from "../../../src/lib/attestation";
import { appraise, parseAttestationPolicy } from "../../../src/lib/kbs/attestation-policy";
import { earClaims } from "../../../src/lib/kbs/ear";
import { defaultResourcePolicy, evaluateResourcePolicy, parseResourcePolicy, type ResourcePolicy } from "../../../src/lib/kbs/resource-policy";
import type { Profile } from "../../../src/lib/config";
import type { ResourcePathParts as ResourcePath } from "../../../src/lib/kbs/resource-path";
import { prng } from "../../support/prng";
import { fromSnp, fromTdx, sampleClaims, verifiedSample, verifiedSnp, verifiedTdx } from "./claims";
import { mutateJson } from "./mutate-json";

const DIGEST = "ab".repeat(32);
let snp: Record<string, SnpClaims> = {};
let tdx: Record<string, TdxClaims> = {};
const TOKENS: Record<string, unknown> = {};

/** The claims of a token the key broker would issue for `claims` under `doc`. */
function token(claims: TeeClaims, doc: unknown, profile: Profile = "restricted", initData?: string): unknown {
  const p = doc === undefined ? undefined : parseAttestationPolicy(doc);
  if (p && !p.ok) throw new Error(p.error.detail);
  const appraisal = appraise(claims, p?.value, profile);
  return earClaims({
    claims,
    appraisal,
    policyId: "default",
    runtimeData: { nonce: "n", teePubKey: { kty: "EC" } },
    ...(initData ? { initData: { digest: initData, claims: null } } : {}),
    issuer: "https://signet.example.com",
    now: 0,
    lifetimeSeconds: 300,
  });
}

beforeAll(async () => {
  snp = await verifiedSnp();
  await verifiedSample();
  tdx = await verifiedTdx();
  const azure = fromSnp(snp["trustee-azure-milan-v2"]!);
  const oak = fromSnp(snp["oak-milan-v3"]!);
  const td = fromTdx(tdx["phala-v4-b0c06f-uptodate"]!);
  TOKENS.snpAffirming = token(azure, { version: 1, snp: { measurements: [azure.measurement] } });
  TOKENS.snpOtherAffirming = token(oak, { version: 1, snp: { measurements: [oak.measurement] } });
  TOKENS.snpWarning = token(azure, undefined);
  TOKENS.snpInitData = token(fromSnp(snp["trustee-azure-milan-v2"]!, DIGEST), { version: 1, snp: { measurements: [azure.measurement] }, init_data_digests: [DIGEST] }, "restricted", DIGEST.toUpperCase());
  TOKENS.tdxAffirming = token(td, { version: 1, tdx: { mr_td: [td.measurement] } });
  const padded = DIGEST + "00".repeat(16);
  TOKENS.tdxInitData = token(fromTdx(tdx["phala-v4-b0c06f-uptodate"]!, padded), { version: 1, tdx: { mr_td: [td.measurement] }, init_data_digests: [DIGEST] }, "restricted", padded);
  TOKENS.tdxContraindicated = token(td, { version: 1, tdx: { mr_td: ["00".repeat(48)] } });
  TOKENS.sampleWarning = token(sampleClaims(), undefined, "permissive");
  TOKENS.sampleAffirming = token(sampleClaims(), { version: 1, sample: { launch_digests: ["abcde"] } }, "permissive");
  TOKENS.noSubmods = { iss: "https://signet.example.com", exp: 300 };
  TOKENS.noCpu0 = { submods: { gpu0: { "ear.status": "affirming" } } };
  TOKENS.cpu0NotObject = { submods: { cpu0: "affirming" } };
  const base = TOKENS.snpAffirming as { submods: { cpu0: Record<string, unknown> } };
  TOKENS.gpuContraindicated = { submods: { cpu0: base.submods.cpu0, gpu0: { "ear.status": "contraindicated" } } };
  TOKENS.twoTees = { submods: { cpu0: { ...base.submods.cpu0, "ear.veraison.annotated-evidence": { snp: {}, tdx: {} } } } };
  TOKENS.noEvidence = { submods: { cpu0: { "ear.status": "affirming" } } };
  TOKENS.inheritedStatus = { submods: { cpu0: Object.create({ "ear.status": "affirming" }) as object } };
});

const at = (p: string): ResourcePath => {
  const [repo, type, tag] = p.split("/");
  return { repo: repo!, type: type!, tag: tag! };
};

function decide(policy: ResourcePolicy, tokenName: string, path: string | ResourcePath): string {
  const d = evaluateResourcePolicy(policy, TOKENS[tokenName], typeof path === "string" ? at(path) : path);
  return d.allowed ? `allow:${d.rule}` : `deny:${d.rule ?? "-"}:${d.reason}`;
}

function policy(doc: unknown): ResourcePolicy {
  const p = parseResourcePolicy(doc);
  if (!p.ok) throw new Error(p.error.detail);
  return p.value;
}

describe("defaultResourcePolicy", () => {
  it.each<[Profile, string, string]>([
    ["restricted", "snpAffirming", "allow:0"],
    ["restricted", "tdxAffirming", "allow:0"],
    ["restricted", "snpWarning", "deny:0:status_not_allowed"],
    ["restricted", "tdxContraindicated", "deny:0:status_not_allowed"],
    ["restricted", "sampleWarning", "deny:0:status_not_allowed"],
    ["restricted", "gpuContraindicated", "deny:0:status_not_allowed"],
    ["restricted", "noSubmods", "deny:0:token_without_submods"],
    ["restricted", "noCpu0", "deny:0:token_without_submods"],
    ["restricted", "cpu0NotObject", "deny:0:token_without_submods"],
    ["restricted", "inheritedStatus", "deny:0:status_not_allowed"],
    ["permissive", "snpAffirming", "allow:0"],
    ["permissive", "sampleWarning", "allow:0"],
    ["permissive", "sampleAffirming", "allow:0"],
    ["permissive", "snpWarning", "deny:0:status_not_allowed"],
    ["permissive", "tdxContraindicated", "deny:0:status_not_allowed"],
    ["permissive", "twoTees", "allow:0"],
    ["permissive", "noSubmods", "deny:0:token_without_submods"],
  ])("%s: %s → %s", (profile, tokenName, expected) => {
    expect(decide(defaultResourcePolicy(profile), tokenName, "default/key/1")).toBe(expected);
  });

  it("are valid policies that survive storage as plain JSON", () => {
    for (const profile of ["restricted", "permissive"] as const) {
      const d = defaultResourcePolicy(profile);
      expect(parseResourcePolicy(JSON.parse(JSON.stringify(d)))).toEqual({ ok: true, value: d });
    }
  });
});

describe("evaluateResourcePolicy", () => {
  let custom: ResourcePolicy;
  beforeAll(() => {
    custom = policy({
      version: 1,
      rules: [
        { paths: ["default/keys/*"], allow: { status: ["affirming"], tee: ["snp"], measurements: [snp["trustee-azure-milan-v2"]!.measurement.toUpperCase()] } },
        { paths: ["*/*/tdx-only"], allow: { tee: ["tdx"] } },
        { paths: ["tenant/*/*", "other/tenant/*"], allow: [{ init_data_digests: [DIGEST] }, { tee: ["sample"], status: ["affirming"] }] },
        { paths: ["open/*/*"], allow: {} },
      ],
    });
  });

  it.each<[string, string, string]>([
    ["snpAffirming", "default/keys/k1", "allow:0"],
    ["snpAffirming", "default/keys/tdx-only", "allow:0"],
    ["tdxAffirming", "default/keys/tdx-only", "deny:0:tee_not_allowed"],
    ["tdxAffirming", "x/y/tdx-only", "allow:1"],
    ["snpInitData", "tenant/a/b", "allow:2"],
    ["snpInitData", "other/tenant/b", "allow:2"],
    ["sampleAffirming", "tenant/a/b", "allow:2"],
    ["tdxInitData", "tenant/a/b", "allow:2"],
    ["snpWarning", "open/a/b", "allow:3"],
    // Denials.
    ["snpWarning", "default/keys/k1", "deny:0:status_not_allowed"],
    ["tdxAffirming", "default/keys/k1", "deny:0:tee_not_allowed"],
    ["snpOtherAffirming", "default/keys/k1", "deny:0:measurement_not_allowed"],
    ["twoTees", "default/keys/k1", "deny:0:tee_not_allowed"],
    ["noEvidence", "default/keys/k1", "deny:0:tee_not_allowed"],
    ["snpAffirming", "x/y/tdx-only", "deny:1:tee_not_allowed"],
    ["snpAffirming", "tenant/a/b", "deny:2:init_data_not_allowed"],
    ["sampleWarning", "tenant/a/b", "deny:2:init_data_not_allowed"],
    ["noSubmods", "open/a/b", "deny:3:token_without_submods"],
    ["snpAffirming", "default/other/k1", "deny:-:no_matching_rule"],
    ["snpAffirming", "Default/keys/k1", "deny:-:no_matching_rule"],
    ["snpAffirming", "other/tenants/b", "deny:-:no_matching_rule"],
    ["snpAffirming", "open/a", "deny:-:path_invalid"],
    ["snpAffirming", "default/keys/..", "deny:-:path_invalid"],
    ["snpAffirming", "default/keys/*", "deny:-:path_invalid"],
    ["snpAffirming", "default/keys/.hidden", "deny:-:path_invalid"],
    ["snpAffirming", "default/keys/a b", "deny:-:path_invalid"],
  ])("%s reads %s: %s", (tokenName, path, expected) => {
    expect(decide(custom, tokenName, path)).toBe(expected);
  });

  it.each<[string, ResourcePath]>([
    ["a slash inside a segment", { repo: "open", type: "a/b", tag: "c" }],
    ["an empty segment", { repo: "open", type: "", tag: "c" }],
    ["a segment that is not a string", { repo: "open", type: 1 as unknown as string, tag: "c" }],
    ["a segment of 129 characters", { repo: "open", type: "a".repeat(129), tag: "c" }],
  ])("denies %s", (_what, path) => {
    expect(decide(custom, "snpAffirming", path)).toBe("deny:-:path_invalid");
  });

  it.each<[string, unknown]>([
    ["an unknown rule field", { version: 1, rules: [{ paths: ["*/*/*"], allow: {}, deny: {} }] }],
    ["a rule without paths", { version: 1, rules: [{ allow: {} }] }],
    ["not an object", [{ paths: ["*/*/*"], allow: {} }]],
  ])("denies everything with a stored policy that no longer parses (%s)", (_what, stored) => {
    expect(decide(stored as ResourcePolicy, "snpAffirming", "open/a/b")).toBe("deny:-:resource_policy_invalid");
  });

  it("an empty rule list denies everything", () => {
    expect(decide(policy({ version: 1, rules: [] }), "snpAffirming", "default/key/1")).toBe("deny:-:no_matching_rule");
  });
});

describe("parseResourcePolicy", () => {
  it.each<[string, unknown]>([
    ["null", null],
    ["a Rego policy", { policy: "cGFja2FnZSBwb2xpY3k" }],
    ["no version", { rules: [] }],
    ["version 2", { version: 2, rules: [] }],
    ["rules not a list", { version: 1, rules: {} }],
    ["an unknown top-level field", { version: 1, rules: [], default: "allow" }],
    ["a rule that is not an object", { version: 1, rules: ["*/*/*"] }],
    ["empty paths", { version: 1, rules: [{ paths: [], allow: {} }] }],
    ["a path with two segments", { version: 1, rules: [{ paths: ["a/b"], allow: {} }] }],
    ["a path with four segments", { version: 1, rules: [{ paths: ["a/b/c/d"], allow: {} }] }],
    ["a partial wildcard", { version: 1, rules: [{ paths: ["a/b*/c"], allow: {} }] }],
    ["a regex", { version: 1, rules: [{ paths: ["a/.*/c"], allow: {} }] }],
    ["a double star", { version: 1, rules: [{ paths: ["**/b/c"], allow: {} }] }],
    ["an empty segment", { version: 1, rules: [{ paths: ["a//c"], allow: {} }] }],
    ["a dot segment", { version: 1, rules: [{ paths: ["a/../c"], allow: {} }] }],
    ["a leading slash", { version: 1, rules: [{ paths: ["/a/b/c"], allow: {} }] }],
    ["no allow", { version: 1, rules: [{ paths: ["*/*/*"] }] }],
    ["an empty list of alternatives", { version: 1, rules: [{ paths: ["*/*/*"], allow: [] }] }],
    ["allow as a boolean", { version: 1, rules: [{ paths: ["*/*/*"], allow: true }] }],
    ["an unknown condition", { version: 1, rules: [{ paths: ["*/*/*"], allow: { svn: ["1"] } }] }],
    ["a status that is not one", { version: 1, rules: [{ paths: ["*/*/*"], allow: { status: ["ok"] } }] }],
    ["a status in capitals", { version: 1, rules: [{ paths: ["*/*/*"], allow: { status: ["Affirming"] } }] }],
    ["an empty status list", { version: 1, rules: [{ paths: ["*/*/*"], allow: { status: [] } }] }],
    ["a TEE Signet does not serve", { version: 1, rules: [{ paths: ["*/*/*"], allow: { tee: ["sgx"] } }] }],
    ["a measurement that is not hex", { version: 1, rules: [{ paths: ["*/*/*"], allow: { measurements: ["xyz"] } }] }],
    ["an init-data digest of 20 bytes", { version: 1, rules: [{ paths: ["*/*/*"], allow: { init_data_digests: ["ab".repeat(20)] } }] }],
    ["a bad alternative", { version: 1, rules: [{ paths: ["*/*/*"], allow: [{}, { tee: "snp" }] }] }],
    ["1025 rules", { version: 1, rules: Array.from({ length: 1025 }, () => ({ paths: ["*/*/*"], allow: {} })) }],
  ])("refuses %s", (_what, doc) => {
    const p = parseResourcePolicy(doc);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.reason).toBe("resource_policy_invalid");
  });

  it("normalizes allow to alternatives and hex to lowercase", () => {
    expect(policy({ version: 1, rules: [{ paths: ["Repo/*/tag"], allow: { measurements: ["ABCD"] } }] })).toEqual({
      version: 1,
      rules: [{ paths: ["Repo/*/tag"], allow: [{ measurements: ["abcd"] }] }],
    });
  });
});

describe("fuzz: parseResourcePolicy and evaluateResourcePolicy on mutated policies and tokens", () => {
  it("never throw on 4,000 mutants (a mutated policy with a real token, or the seed policy with a mutated token)", () => {
    const seed = {
      version: 1,
      rules: [
        { paths: ["default/*/*", "a/b/c"], allow: { status: ["affirming"], tee: ["snp", "tdx"], measurements: ["ab"], init_data_digests: [DIGEST] } },
        { paths: ["*/*/*"], allow: [{ tee: ["sample"] }, { status: ["warning"] }] },
      ],
    };
    const rand = prng(0x7e5);
    const names = Object.keys(TOKENS);
    let runs = 0;
    let accepted = 0;
    let allowed = 0;
    for (let i = 0; i < 4000; i++) {
      const real = TOKENS[names[i % names.length]!];
      const doc = i % 2 === 0 ? mutateJson(seed, rand) : seed;
      const p = parseResourcePolicy(doc);
      const tok = i % 2 === 0 ? real : mutateJson(real, rand);
      runs++;
      if (!p.ok) {
        if (p.error.reason !== "resource_policy_invalid") throw new Error(`bad rejection at ${i}`);
        if (evaluateResourcePolicy(doc as ResourcePolicy, tok, at("a/b/c")).allowed) throw new Error(`unparsed policy allowed at ${i}`);
        continue;
      }
      accepted++;
      const d = evaluateResourcePolicy(p.value, tok, at(i % 3 === 0 ? "a/b/c" : "default/x/y"));
      if (d.allowed) allowed++;
      if (d.allowed !== (d.reason === undefined)) throw new Error(`inconsistent decision at ${i}`);
    }
    expect(runs).toBe(4000);
    expect(accepted).toBeGreaterThan(2000);
    expect(allowed).toBeGreaterThan(0);
  });
});
