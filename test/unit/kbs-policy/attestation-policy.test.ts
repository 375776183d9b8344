/**
 * The attestation policy on claims the real verifiers produced from the real vectors: each claim
 * of the trust vector allowing and denying, the restricted defaults (no reference values, debug,
 * sample), policies that come back from storage as plain JSON, and the policy selector.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SnpClaims } from "../../../src/lib/attestation/snp";
import type { TdxClaims } from "../../../src/lib/attestation/tdx";
import type { TeeClaims } from "../../../src/lib/attestation";
import { appraise, initDataMatches, parseAttestationPolicy, selectPolicyId, type Appraisal, type AttestationPolicy } from "../../../src/lib/kbs/attestation-policy";
import type { Profile } from "../../../src/lib/config";
import { prng } from "../../support/prng";
import { fromSnp, fromTdx, sampleClaims, verifiedSample, verifiedSnp, verifiedTdx } from "./claims";
import { mutateJson } from "./mutate-json";

let snp: Record<string, SnpClaims> = {};
let tdx: Record<string, TdxClaims> = {};

beforeAll(async () => {
  snp = await verifiedSnp();
  await verifiedSample();
  tdx = await verifiedTdx();
});

const AZURE = "trustee-azure-milan-v2";
const GSG_DEBUG = "gsg-milan-v2";
const VLEK_VMPL1 = "trustee-milan-vlek-v3";
const TURIN = "oak-turin-v5";
const TD15 = "automata-v5-td15-90c06f-alibaba";
const PHALA = "phala-v4-b0c06f-uptodate";
const OUT_OF_DATE = "automata-v4-00806f050000-col0625";
const DIGEST = "ab".repeat(32);
const H48 = (c: string) => c.repeat(96);

function policy(doc: unknown): AttestationPolicy {
  const p = parseAttestationPolicy(doc);
  if (!p.ok) throw new Error(p.error.detail);
  return p.value;
}

interface Case {
  readonly claims: () => TeeClaims;
  /** A policy document, built from the claims (so reference values can match them). */
  readonly policy?: (c: TeeClaims) => unknown;
  readonly profile?: Profile;
  readonly status: Appraisal["status"];
  readonly vector?: Partial<Record<"hardware" | "executables" | "configuration" | "instance-identity", number>>;
  readonly failures?: readonly string[];
}

const tdxOf = (c: TeeClaims) => c.evidenceClaims as unknown as TdxClaims;
const tdxRefs = (c: TeeClaims) => ({ mr_td: [tdxOf(c).mr_td], rtmr0: [tdxOf(c).rtmr[0]], rtmr1: [tdxOf(c).rtmr[1]], rtmr2: [tdxOf(c).rtmr[2]] });
const attributes = (dir: string, over: Partial<TdxClaims["td_attributes"]>) => () => fromTdx({ ...tdx[dir]!, td_attributes: { ...tdx[dir]!.td_attributes, ...over } });

const CASES: Record<string, Case> = {
  // Affirming: reference values that match, on real evidence.
  "SNP: measurement and TCB match": {
    claims: () => fromSnp(snp[AZURE]!),
    policy: (c) => ({ version: 1, snp: { measurements: [c.measurement.toUpperCase()], min_tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 }, max_vmpl: 0, host_data: "00".repeat(32) } }),
    status: "affirming",
    vector: { hardware: 2, executables: 2, configuration: 2, "instance-identity": 0 },
    failures: [],
  },
  "SNP Turin: fmc in min_tcb": {
    claims: () => fromSnp(snp[TURIN]!),
    policy: (c) => ({ version: 1, snp: { measurements: [c.measurement], min_tcb: { fmc: 0, bootloader: 1, snp: 2, microcode: 71 } } }),
    status: "affirming",
  },
  "SNP: init-data digest matches": {
    claims: () => fromSnp(snp[AZURE]!, DIGEST.toUpperCase()),
    policy: (c) => ({ version: 1, snp: { measurements: [c.measurement] }, init_data_digests: ["00".repeat(48), DIGEST] }),
    status: "affirming",
    vector: { "instance-identity": 2 },
  },
  "SNP: a SHA-384 init-data digest, truncated into HOST_DATA": {
    claims: () => fromSnp(snp[AZURE]!, "ab".repeat(32)),
    policy: (c) => ({ version: 1, snp: { measurements: [c.measurement] }, init_data_digests: ["ab".repeat(48)] }),
    status: "affirming",
    vector: { "instance-identity": 2 },
  },
  "TDX: a SHA-256 init-data digest, zero-padded into MRCONFIGID": {
    claims: () => fromTdx(tdx[PHALA]!, "cd".repeat(32) + "00".repeat(16)),
    policy: (c) => ({ version: 1, tdx: tdxRefs(c), init_data_digests: ["CD".repeat(32)] }),
    status: "affirming",
    vector: { "instance-identity": 2 },
  },
  "sample, permissive: init-data digest as given": {
    claims: () => sampleClaims({ initDataDigest: DIGEST }),
    policy: () => ({ version: 1, sample: { launch_digests: ["abcde"] }, init_data_digests: [DIGEST] }),
    profile: "permissive",
    status: "affirming",
    vector: { "instance-identity": 2 },
  },
  "TDX 1.5: MRTD and RTMRs match, UpToDate": {
    claims: () => fromTdx(tdx[TD15]!),
    policy: (c) => ({ version: 1, tdx: { ...tdxRefs(c), mr_service_td: [tdxOf(c).mr_service_td] } }),
    status: "affirming",
    vector: { hardware: 2, executables: 2, configuration: 2 },
    failures: [],
  },
  "TDX: MRTD alone is a reference value": { claims: () => fromTdx(tdx[PHALA]!), policy: (c) => ({ version: 1, tdx: { mr_td: [tdxOf(c).mr_td] } }), status: "affirming" },
  "TDX: OutOfDate accepted by the policy": {
    claims: () => fromTdx(tdx[OUT_OF_DATE]!),
    policy: (c) => ({ version: 1, tdx: { mr_td: [tdxOf(c).mr_td], accepted_tcb_statuses: ["UpToDate", "OutOfDate"] } }),
    status: "affirming",
  },
  "sample, permissive: launch digest matches": { claims: () => sampleClaims(), policy: () => ({ version: 1, sample: { launch_digests: ["ABCDE"] } }), profile: "permissive", status: "affirming", vector: { hardware: 0, executables: 2 } },

  // Contraindicated: reference values that do not match.
  "SNP: measurement not in the list": {
    claims: () => fromSnp(snp[AZURE]!),
    policy: () => ({ version: 1, snp: { measurements: [H48("0")] } }),
    status: "contraindicated",
    vector: { executables: 96, hardware: 2, configuration: 2 },
    failures: ["policy_denied:measurement"],
  },
  "SNP: guest SVN below the minimum": { claims: () => fromSnp(snp[AZURE]!), policy: (c) => ({ version: 1, snp: { measurements: [c.measurement], min_guest_svn: 6 } }), status: "contraindicated", vector: { executables: 96 }, failures: ["policy_denied:min_guest_svn"] },
  "SNP: VMPL 1 above max 0": { claims: () => fromSnp(snp[VLEK_VMPL1]!), policy: (c) => ({ version: 1, snp: { measurements: [c.measurement], max_vmpl: 0 } }), status: "contraindicated", vector: { configuration: 96, executables: 2 }, failures: ["policy_denied:vmpl"] },
  "SNP: HOST_DATA other": { claims: () => fromSnp(snp[AZURE]!), policy: (c) => ({ version: 1, snp: { measurements: [c.measurement], host_data: "01".repeat(32) } }), status: "contraindicated", vector: { configuration: 96 }, failures: ["policy_denied:host_data"] },
  "SNP: every failing rule is reported": {
    claims: () => fromSnp(snp[AZURE]!),
    policy: () => ({ version: 1, snp: { measurements: [H48("1")], host_data: "01".repeat(32), min_tcb: { snp: 9 } } }),
    status: "contraindicated",
    vector: { hardware: 32, executables: 96, configuration: 96 },
    failures: ["policy_denied:min_tcb.snp", "policy_denied:measurement", "policy_denied:host_data"],
  },
  "SNP: migration agent not allowed": {
    claims: () => fromSnp({ ...snp[AZURE]!, policy: { ...snp[AZURE]!.policy, migrate_ma: true } }),
    policy: (c) => ({ version: 1, snp: { measurements: [c.measurement] } }),
    status: "contraindicated",
    failures: ["policy_denied:migrate_ma"],
  },
  "TDX: MRTD other": { claims: () => fromTdx(tdx[PHALA]!), policy: () => ({ version: 1, tdx: { mr_td: [H48("9")] } }), status: "contraindicated", vector: { executables: 96 }, failures: ["policy_denied:mr_td"] },
  "TDX: RTMR2 other": {
    claims: () => fromTdx(tdx[TD15]!),
    policy: (c) => ({ version: 1, tdx: { ...tdxRefs(c), rtmr2: [H48("7")] } }),
    status: "contraindicated",
    vector: { executables: 96 },
    failures: ["policy_denied:rtmr2"],
  },
  "TDX: MRCONFIGID other": { claims: () => fromTdx(tdx[PHALA]!), policy: (c) => ({ version: 1, tdx: { ...tdxRefs(c), mr_config_id: H48("1") } }), status: "contraindicated", vector: { configuration: 96 }, failures: ["policy_denied:mr_config_id"] },
  "TDX: service TD other": { claims: () => fromTdx(tdx[TD15]!), policy: (c) => ({ version: 1, tdx: { ...tdxRefs(c), mr_service_td: [H48("0")] } }), status: "contraindicated", failures: ["policy_denied:mr_service_td"] },
  "TDX: SEPT_VE_DISABLE missing": {
    claims: attributes(PHALA, { sept_ve_disable: false }),
    policy: (c) => ({ version: 1, tdx: tdxRefs(c) }),
    status: "contraindicated",
    failures: ["policy_denied:sept_ve_disable"],
  },
  "sample, permissive: launch digest other": { claims: () => sampleClaims(), policy: () => ({ version: 1, sample: { launch_digests: ["fedcba"] } }), profile: "permissive", status: "contraindicated", failures: ["policy_denied:launch_digest"] },
  "init-data digest other": {
    claims: () => fromSnp(snp[AZURE]!, "cd".repeat(32)),
    policy: (c) => ({ version: 1, snp: { measurements: [c.measurement] }, init_data_digests: [DIGEST] }),
    status: "contraindicated",
    vector: { "instance-identity": 96, executables: 2 },
    failures: ["policy_denied:init_data"],
  },
  "TDX: MRCONFIGID holds another padded digest": {
    claims: () => fromTdx(tdx[PHALA]!, "cd".repeat(32) + "00".repeat(16)),
    policy: (c) => ({ version: 1, tdx: tdxRefs(c), init_data_digests: ["ce".repeat(32)] }),
    status: "contraindicated",
    vector: { "instance-identity": 96 },
  },
  "sample: no field, so a padded digest is another digest": {
    claims: () => sampleClaims({ initDataDigest: DIGEST + "00".repeat(16) }),
    policy: () => ({ version: 1, sample: { launch_digests: ["abcde"] }, init_data_digests: [DIGEST] }),
    profile: "permissive",
    status: "contraindicated",
    vector: { "instance-identity": 96 },
  },
  "init-data digests required, guest sent none": {
    claims: () => fromTdx(tdx[PHALA]!),
    policy: (c) => ({ version: 1, tdx: tdxRefs(c), init_data_digests: [DIGEST] }),
    status: "contraindicated",
    vector: { "instance-identity": 96 },
  },

  // Restricted defaults: never affirming without reference values; debug never affirming.
  "SNP, no policy at all": { claims: () => fromSnp(snp[AZURE]!), status: "warning", vector: { executables: 33, hardware: 2, configuration: 2 }, failures: ["policy_denied:no_reference_values"] },
  "SNP, empty policy": { claims: () => fromSnp(snp[AZURE]!), policy: () => ({ version: 1 }), status: "warning", vector: { executables: 33 } },
  "SNP, policy for TDX only": { claims: () => fromSnp(snp[AZURE]!), policy: () => ({ version: 1, tdx: { mr_td: [H48("1")] } }), status: "warning", vector: { executables: 33 } },
  "SNP, rules but no measurements": { claims: () => fromSnp(snp[AZURE]!), policy: () => ({ version: 1, snp: { min_tcb: { snp: 8 }, max_vmpl: 0 } }), status: "warning", vector: { executables: 33 } },
  "SNP, init-data matches but no measurements": { claims: () => fromSnp(snp[AZURE]!, DIGEST), policy: () => ({ version: 1, init_data_digests: [DIGEST] }), status: "warning", vector: { executables: 33, "instance-identity": 2 } },
  "TDX, no policy": { claims: () => fromTdx(tdx[TD15]!), status: "warning", vector: { executables: 33, hardware: 2 } },
  "TDX, only MRCONFIGID is not code identity": { claims: () => fromTdx(tdx[TD15]!), policy: () => ({ version: 1, tdx: { mr_config_id: H48("0") } }), status: "warning", vector: { executables: 33 } },
  "TDX, no policy, OutOfDate": { claims: () => fromTdx(tdx[OUT_OF_DATE]!), status: "warning", vector: { executables: 33, hardware: 32 }, failures: ["policy_denied:tcb_status", "policy_denied:no_reference_values"] },
  "SNP debug guest, no policy": { claims: () => fromSnp(snp[GSG_DEBUG]!), status: "contraindicated", vector: { configuration: 96 }, failures: ["policy_denied:debug", "policy_denied:no_reference_values"] },
  "SNP debug guest, measurement matches": { claims: () => fromSnp(snp[GSG_DEBUG]!), policy: (c) => ({ version: 1, snp: { measurements: [c.measurement] } }), status: "contraindicated", vector: { configuration: 96, executables: 2 } },
  "SNP debug guest, debug allowed": {
    claims: () => fromSnp(snp[GSG_DEBUG]!),
    policy: (c) => ({ version: 1, snp: { measurements: [c.measurement], allow_debug: true } }),
    status: "warning",
    vector: { configuration: 32, executables: 2, hardware: 2 },
    failures: [],
  },
  "TDX debug TD, default": { claims: attributes(PHALA, { debug: true }), policy: (c) => ({ version: 1, tdx: tdxRefs(c) }), status: "contraindicated", vector: { configuration: 96 }, failures: ["policy_denied:debug"] },
  "TDX debug TD, debug allowed": { claims: attributes(PHALA, { debug: true }), policy: (c) => ({ version: 1, tdx: { ...tdxRefs(c), allow_debug: true } }), status: "warning", vector: { configuration: 32 } },
  "sample debug, permissive, default": { claims: () => sampleClaims({ debug: true }), policy: () => ({ version: 1, sample: { launch_digests: ["abcde"] } }), profile: "permissive", status: "contraindicated", vector: { configuration: 96 } },
  "sample debug, permissive, debug allowed": { claims: () => sampleClaims({ debug: true }), policy: () => ({ version: 1, sample: { launch_digests: ["abcde"], allow_debug: true } }), profile: "permissive", status: "warning", vector: { configuration: 32 } },

  // TCB rule fails → hardware 32 → warning.
  "TDX: OutOfDate not accepted (default UpToDate)": { claims: () => fromTdx(tdx[OUT_OF_DATE]!), policy: (c) => ({ version: 1, tdx: { mr_td: [tdxOf(c).mr_td] } }), status: "warning", vector: { hardware: 32, executables: 2 }, failures: ["policy_denied:tcb_status"] },
  "TDX: UpToDate not in an explicit list": { claims: () => fromTdx(tdx[PHALA]!), policy: (c) => ({ version: 1, tdx: { ...tdxRefs(c), accepted_tcb_statuses: ["OutOfDate"] } }), status: "warning", vector: { hardware: 32 } },
  "SNP: REPORTED_TCB below min_tcb": { claims: () => fromSnp(snp[AZURE]!), policy: (c) => ({ version: 1, snp: { measurements: [c.measurement], min_tcb: { microcode: 200 } } }), status: "warning", vector: { hardware: 32, executables: 2 }, failures: ["policy_denied:min_tcb.microcode"] },

  // Sample: never in the restricted profile; permissive without reference values is a warning.
  "sample, restricted, with a matching policy": { claims: () => sampleClaims(), policy: () => ({ version: 1, sample: { launch_digests: ["abcde"] } }), profile: "restricted", status: "contraindicated", vector: { hardware: 97 }, failures: ["policy_denied:sample_tee"] },
  "sample, restricted, no policy": { claims: () => sampleClaims(), profile: "restricted", status: "contraindicated" },
  "sample, permissive, no policy": { claims: () => sampleClaims(), profile: "permissive", status: "warning", vector: { executables: 33, hardware: 0 } },

  // Nothing readable.
  "SNP claims without their fields": { claims: () => ({ ...fromSnp(snp[AZURE]!), evidenceClaims: {} }), policy: () => ({ version: 1 }), status: "contraindicated", failures: ["policy_denied:claims_malformed"] },
  "TDX claims without their fields": { claims: () => ({ ...fromTdx(tdx[PHALA]!), evidenceClaims: { td_attributes: null } }), status: "contraindicated", failures: ["policy_denied:claims_malformed"] },
  "an unknown TEE": { claims: () => ({ ...sampleClaims(), tee: "sgx" as "sample" }), profile: "permissive", status: "contraindicated", failures: ["policy_denied:tee_unsupported"] },
};

describe("appraise", () => {
  it.each(Object.entries(CASES))("%s", (_name, c) => {
    const claims = c.claims();
    const a = appraise(claims, c.policy ? policy(c.policy(claims)) : undefined, c.profile ?? "restricted");
    expect(a.status).toBe(c.status);
    for (const [k, v] of Object.entries(c.vector ?? {})) expect(a.trustVector[k as keyof typeof a.trustVector], k).toBe(v);
    if (c.failures) expect(a.failures).toEqual(c.failures);
    for (const k of ["file-system", "runtime-opaque", "storage-opaque", "sourced-data"] as const) expect(a.trustVector[k]).toBe(0);
  });

  it("has more negative cases than positive ones", () => {
    const affirming = Object.values(CASES).filter((c) => c.status === "affirming").length;
    expect(affirming).toBeGreaterThan(0);
    expect(Object.keys(CASES).length - affirming).toBeGreaterThan(3 * affirming);
  });

  it("no debug guest is affirming under any policy the format can express", () => {
    const c = fromSnp(snp[GSG_DEBUG]!);
    let tried = 0;
    for (const allow_debug of [undefined, false, true]) {
      for (const measurements of [undefined, [c.measurement]]) {
        const doc = { version: 1, snp: { ...(allow_debug !== undefined ? { allow_debug } : {}), ...(measurements ? { measurements } : {}) } };
        for (const profile of ["restricted", "permissive"] as const) {
          expect(appraise(c, policy(doc), profile).status).not.toBe("affirming");
          tried++;
        }
      }
    }
    expect(tried).toBe(12);
  });

  it("a policy that came back from storage as plain JSON appraises the same", () => {
    const c = fromTdx(tdx[TD15]!);
    const p = policy({ version: 1, tdx: { ...tdxRefs(c), accepted_tcb_statuses: ["UpToDate"] }, init_data_digests: [DIGEST] });
    const stored = JSON.parse(JSON.stringify(p)) as AttestationPolicy;
    expect(structuredClone(p)).toEqual(p);
    expect(appraise(c, stored, "restricted")).toEqual(appraise(c, p, "restricted"));
    expect(parseAttestationPolicy(stored)).toEqual({ ok: true, value: p });
  });

  it.each<[string, unknown]>([
    ["a fixed report_data slipped into storage", { version: 1, snp: { measurements: [H48("a")], report_data: "00".repeat(64) } }],
    ["another version", { version: 2 }],
    ["an unknown rule", { version: 1, tdx: { mrtd: [H48("1")] } }],
    ["not an object", "default"],
  ])("a stored policy that no longer parses (%s) is contraindicated", (_what, stored) => {
    const a = appraise(fromSnp(snp[AZURE]!), stored as AttestationPolicy, "restricted");
    expect(a.status).toBe("contraindicated");
    expect(a.failures).toEqual(["policy_denied:policy_invalid"]);
  });
});

describe("initDataMatches (the HOST_DATA / MRCONFIGID rule)", () => {
  it.each<[string, unknown, string, boolean]>([
    ["snp", "ab".repeat(32), "AB".repeat(32), true],
    ["snp", "ab".repeat(32), "ab".repeat(48), true],
    ["snp", "ab".repeat(32), "ab".repeat(64), true],
    ["tdx", "cd".repeat(32) + "00".repeat(16), "cd".repeat(32), true],
    ["tdx", "cd".repeat(48), "cd".repeat(64), true],
    ["snp", "ab".repeat(31) + "00", "ab".repeat(31), true],
    ["snp", "ab".repeat(32), "ab".repeat(31) + "ac", false],
    ["tdx", "cd".repeat(32) + "01".repeat(16), "cd".repeat(32), false],
    ["tdx", "cd".repeat(32), "cd".repeat(48), false],
    ["sample", DIGEST + "00".repeat(16), DIGEST, false],
    ["sample", DIGEST, DIGEST.toUpperCase(), true],
    ["snp", undefined, DIGEST, false],
    ["snp", 7, DIGEST, false],
    ["snp", "zz".repeat(32), "zz".repeat(32).slice(0, 63), false],
  ])("%s field %s, digest %s: %s", (tee, field, digest, expected) => {
    expect(initDataMatches(tee, field, digest)).toBe(expected);
  });
});

describe("parseAttestationPolicy", () => {
  it("writes defaults out and lowercases hex", () => {
    const p = policy({ version: 1, snp: { measurements: [H48("A")] }, tdx: { mr_td: [H48("B")] }, sample: {}, init_data_digests: [DIGEST.toUpperCase()] });
    expect(p).toEqual({
      version: 1,
      snp: { allow_debug: false, allow_migrate_ma: false, measurements: [H48("a")] },
      tdx: { accepted_tcb_statuses: ["UpToDate"], allow_debug: false, require_sept_ve_disable: true, mr_td: [H48("b")] },
      sample: { allow_debug: false },
      init_data_digests: [DIGEST],
    });
  });

  it.each<[string, unknown]>([
    ["null", null],
    ["an array", [{ version: 1 }]],
    ["a string", '{"version":1}'],
    ["no version", {}],
    ["version 2", { version: 2 }],
    ["version as a string", { version: "1" }],
    ["an unknown top-level field", { version: 1, sgx: {} }],
    ["a Rego policy", { version: 1, policy: "cGFja2FnZSBwb2xpY3k" }],
    ["snp not an object", { version: 1, snp: [] }],
    ["snp unknown field", { version: 1, snp: { measurement: H48("a") } }],
    ["snp.report_data", { version: 1, snp: { report_data: "00".repeat(64) } }],
    ["snp short measurement", { version: 1, snp: { measurements: ["abcd"] } }],
    ["snp empty measurements", { version: 1, snp: { measurements: [] } }],
    ["snp min_tcb component unknown", { version: 1, snp: { min_tcb: { ucode: 1 } } }],
    ["snp allow_debug as a string", { version: 1, snp: { allow_debug: "true" } }],
    ["tdx.report_data", { version: 1, tdx: { report_data: "00".repeat(64) } }],
    ["tdx status that is not one", { version: 1, tdx: { accepted_tcb_statuses: ["Fine"] } }],
    ["tdx Revoked", { version: 1, tdx: { accepted_tcb_statuses: ["Revoked"] } }],
    ["tdx rtmr4", { version: 1, tdx: { rtmr4: [H48("0")] } }],
    ["tdx mr_td not a list", { version: 1, tdx: { mr_td: H48("0") } }],
    ["sample not an object", { version: 1, sample: true }],
    ["sample unknown field", { version: 1, sample: { svn: ["1"] } }],
    ["sample empty launch_digests", { version: 1, sample: { launch_digests: [] } }],
    ["sample empty launch digest", { version: 1, sample: { launch_digests: [""] } }],
    ["sample allow_debug as a number", { version: 1, sample: { allow_debug: 1 } }],
    ["init_data_digests a string", { version: 1, init_data_digests: DIGEST }],
    ["init_data_digests empty", { version: 1, init_data_digests: [] }],
    ["init_data digest of 31 bytes", { version: 1, init_data_digests: ["ab".repeat(31)] }],
    ["init_data digest not hex", { version: 1, init_data_digests: ["zz".repeat(32)] }],
    ["init_data digest a number", { version: 1, init_data_digests: [1] }],
    ["257 init_data digests", { version: 1, init_data_digests: Array.from({ length: 257 }, () => DIGEST) }],
  ])("refuses %s", (_what, doc) => {
    const p = parseAttestationPolicy(doc);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.reason).toBe("attestation_policy_invalid");
  });
});

describe("selectPolicyId", () => {
  const MAPPING = { alice: "policy-alice", bob: "policy-bob" };
  it.each<[string, unknown, string]>([
    ["absent extra-params", undefined, "ok:default"],
    ["Trustee's empty string", "", "ok:default"],
    ["null", null, "ok:default"],
    ["an object without a selector", { "supported-hash-algorithms": ["sha384"] }, "ok:default"],
    ["a mapped selector", { "policy-selector": "alice" }, "ok:policy-alice"],
    ["upstream's renamed member", { "attestation-policy-selector": "bob" }, "ok:policy-bob"],
    ["both members, agreeing", { "policy-selector": "bob", "attestation-policy-selector": "bob" }, "ok:policy-bob"],
    ["both members, disagreeing", { "policy-selector": "alice", "attestation-policy-selector": "bob" }, "policy_selector_invalid"],
    ["an unmapped selector", { "policy-selector": "carol" }, "policy_selector_unmapped"],
    ["'default' when the mapping has none", { "policy-selector": "default" }, "policy_selector_unmapped"],
    ["a prototype name", { "policy-selector": "__proto__" }, "policy_selector_unmapped"],
    ["an inherited method name", { "policy-selector": "toString" }, "policy_selector_unmapped"],
    ["constructor", { "policy-selector": "constructor" }, "policy_selector_unmapped"],
    ["a case variant", { "policy-selector": "Alice" }, "policy_selector_unmapped"],
    ["an empty selector", { "policy-selector": "" }, "policy_selector_invalid"],
    ["a number", { "policy-selector": 1 }, "policy_selector_invalid"],
    ["null selector", { "policy-selector": null }, "policy_selector_invalid"],
    ["a list", { "policy-selector": ["alice"] }, "policy_selector_invalid"],
    ["an object", { "policy-selector": { id: "alice" } }, "policy_selector_invalid"],
    ["257 characters", { "policy-selector": "a".repeat(257) }, "policy_selector_invalid"],
  ])("%s", (_what, extra, expected) => {
    const r = selectPolicyId(extra, MAPPING);
    expect(r.ok ? `ok:${r.value}` : r.error.reason).toBe(expected);
  });

  it("does not follow a mapping's prototype", () => {
    const mapping = Object.create({ inherited: "policy-x" }) as Record<string, string>;
    const r = selectPolicyId({ "policy-selector": "inherited" }, mapping);
    expect(r.ok ? r.value : r.error.reason).toBe("policy_selector_unmapped");
  });
});

describe("fuzz: parseAttestationPolicy and appraise on mutated policies", () => {
  it("never throw on 5,000 mutants; what parses is plain data and appraises to a status", () => {
    const seeds: unknown[] = [
      { version: 1, snp: { measurements: [snp[AZURE]!.measurement], min_tcb: { snp: 8, fmc: 0 }, max_vmpl: 0, host_data: "00".repeat(32), min_guest_svn: 1 }, init_data_digests: [DIGEST] },
      { version: 1, tdx: { mr_td: [tdx[TD15]!.mr_td], rtmr1: [tdx[TD15]!.rtmr[1]], accepted_tcb_statuses: ["UpToDate", "OutOfDate"], mr_service_td: [H48("0")], mr_config_id: H48("0") } },
      { version: 1, sample: { launch_digests: ["abcde"], allow_debug: true } },
    ];
    const claims = [fromSnp(snp[AZURE]!, DIGEST), fromTdx(tdx[TD15]!), sampleClaims()];
    const rand = prng(0xa11ce);
    const statuses = new Set(["none", "affirming", "warning", "contraindicated"]);
    let runs = 0;
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 5000; i++) {
      const doc = mutateJson(seeds[i % seeds.length], rand);
      const p = parseAttestationPolicy(doc);
      runs++;
      if (!p.ok) {
        if (p.error.reason !== "attestation_policy_invalid" || typeof p.error.detail !== "string") throw new Error(`bad rejection at ${i}`);
        rejected++;
        // A stored document that does not parse is never affirming.
        if (appraise(claims[i % 3]!, doc as AttestationPolicy, "permissive").status !== "contraindicated") throw new Error(`unparsed policy appraised at ${i}`);
        continue;
      }
      accepted++;
      const again = parseAttestationPolicy(JSON.parse(JSON.stringify(p.value)));
      if (!again.ok || JSON.stringify(again.value) !== JSON.stringify(p.value)) throw new Error(`not plain data at ${i}`);
      for (const c of claims) {
        const a = appraise(c, p.value, "permissive");
        if (!statuses.has(a.status)) throw new Error(`bad status at ${i}`);
      }
    }
    expect(runs).toBe(5000);
    expect(accepted).toBeGreaterThan(250);
    expect(rejected).toBeGreaterThan(2500);
  });
});
