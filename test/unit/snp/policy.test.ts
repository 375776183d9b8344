/** Appraisal against a policy given as data: each rule allowing and denying, and policy validation. */
import { beforeAll, describe, expect, it } from "vitest";
import type { SnpClaims } from "../../../src/lib/attestation/snp/claims";
import { appraiseSnp, parseSnpPolicy, type SnpPolicy } from "../../../src/lib/attestation/snp/policy";
import { SnpVerifier } from "../../../src/lib/attestation/snp/verify";
import { evidence } from "./snp-fixtures";

const verifier = new SnpVerifier();
const claims: Record<string, SnpClaims> = {};

beforeAll(async () => {
  for (const name of ["gsg-milan-v2", "trustee-azure-milan-v2", "oak-milan-v3", "trustee-milan-vlek-v3", "oak-turin-v5"]) {
    const r = await verifier.verify(evidence(name));
    if (!r.ok) throw new Error(r.error.reason);
    claims[name] = r.value;
  }
});

const verdict = (c: SnpClaims, p: unknown) => {
  const r = appraiseSnp(c, p as SnpPolicy);
  return r.ok ? "allowed" : r.error.reason;
};

const AZURE_MEASUREMENT = "9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315";
const AZURE_REPORT_DATA = "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac0000000000000000000000000000000000000000000000000000000000000000";

describe("appraiseSnp rules", () => {
  it.each<[string, string, unknown, string]>([
    ["debug denied by default", "gsg-milan-v2", {}, "policy_denied:debug"],
    ["debug denied explicitly", "gsg-milan-v2", { allow_debug: false }, "policy_denied:debug"],
    ["debug allowed", "gsg-milan-v2", { allow_debug: true }, "allowed"],
    ["no debug, nothing required", "trustee-azure-milan-v2", {}, "allowed"],
    ["min_tcb met exactly", "trustee-azure-milan-v2", { min_tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 } }, "allowed"],
    ["min_tcb.snp above", "trustee-azure-milan-v2", { min_tcb: { snp: 9 } }, "policy_denied:min_tcb.snp"],
    ["min_tcb.microcode above (REPORTED, not CURRENT 210)", "trustee-azure-milan-v2", { min_tcb: { microcode: 200 } }, "policy_denied:min_tcb.microcode"],
    ["min_tcb.bootloader above", "trustee-azure-milan-v2", { min_tcb: { bootloader: 4 } }, "policy_denied:min_tcb.bootloader"],
    ["min_tcb.tee above", "trustee-azure-milan-v2", { min_tcb: { tee: 1 } }, "policy_denied:min_tcb.tee"],
    ["min_tcb.fmc does not apply to Milan", "trustee-azure-milan-v2", { min_tcb: { fmc: 9 } }, "allowed"],
    ["min_tcb.fmc applies to Turin", "oak-turin-v5", { min_tcb: { fmc: 1 } }, "policy_denied:min_tcb.fmc"],
    ["Turin TCB met", "oak-turin-v5", { min_tcb: { fmc: 0, bootloader: 1, tee: 0, snp: 2, microcode: 71 } }, "allowed"],
    ["measurement in the allowlist", "trustee-azure-milan-v2", { measurements: ["00".repeat(48), AZURE_MEASUREMENT] }, "allowed"],
    ["measurement in the allowlist, uppercase", "trustee-azure-milan-v2", { measurements: [AZURE_MEASUREMENT.toUpperCase()] }, "allowed"],
    ["measurement not in the allowlist", "trustee-azure-milan-v2", { measurements: ["00".repeat(48)] }, "policy_denied:measurement"],
    ["host_data expected", "trustee-azure-milan-v2", { host_data: "00".repeat(32) }, "allowed"],
    ["host_data other", "trustee-azure-milan-v2", { host_data: "01".repeat(32) }, "policy_denied:host_data"],
    ["report_data expected", "trustee-azure-milan-v2", { report_data: AZURE_REPORT_DATA }, "allowed"],
    ["report_data other", "trustee-azure-milan-v2", { report_data: "00".repeat(64) }, "policy_denied:report_data"],
    ["VMPL 1 within max 1", "trustee-milan-vlek-v3", { max_vmpl: 1 }, "allowed"],
    ["VMPL 1 above max 0", "trustee-milan-vlek-v3", { max_vmpl: 0 }, "policy_denied:vmpl"],
    ["guest_svn 5 meets 5", "trustee-azure-milan-v2", { min_guest_svn: 5 }, "allowed"],
    ["guest_svn 5 below 6", "trustee-azure-milan-v2", { min_guest_svn: 6 }, "policy_denied:min_guest_svn"],
  ])("%s", (_what, name, policy, expected) => {
    expect(verdict(claims[name]!, policy)).toBe(expected);
  });

  it("migrate_ma is denied unless allowed", () => {
    const c = { ...claims["oak-milan-v3"]!, policy: { ...claims["oak-milan-v3"]!.policy, migrate_ma: true } };
    expect(verdict(c, {})).toBe("policy_denied:migrate_ma");
    expect(verdict(c, { allow_migrate_ma: true })).toBe("allowed");
  });

  it("a full production-style policy allows the Azure vector", () => {
    const policy = {
      allow_debug: false,
      allow_migrate_ma: false,
      min_tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
      measurements: [AZURE_MEASUREMENT],
      host_data: "00".repeat(32),
      report_data: AZURE_REPORT_DATA,
      max_vmpl: 0,
      min_guest_svn: 5,
    };
    expect(verdict(claims["trustee-azure-milan-v2"]!, policy)).toBe("allowed");
    const parsed = parseSnpPolicy(policy);
    expect(parsed.ok && appraiseSnp(claims["trustee-azure-milan-v2"]!, parsed.value).ok).toBe(true);
  });
});

describe("parseSnpPolicy rejects malformed policies", () => {
  it.each<[string, unknown]>([
    ["not an object", "allow_debug"],
    ["an array", []],
    ["null", null],
    ["an unknown field", { allow_debug: false, measurment: [] }],
    ["allow_debug as a string", { allow_debug: "false" }],
    ["min_tcb as a number", { min_tcb: 3 }],
    ["an unknown TCB component", { min_tcb: { ucode: 1 } }],
    ["a TCB minimum above 255", { min_tcb: { snp: 256 } }],
    ["a negative TCB minimum", { min_tcb: { snp: -1 } }],
    ["a fractional TCB minimum", { min_tcb: { snp: 1.5 } }],
    ["an empty measurement allowlist", { measurements: [] }],
    ["a short measurement", { measurements: ["00"] }],
    ["a non-hex measurement", { measurements: ["zz".repeat(48)] }],
    ["measurements as a string", { measurements: "00".repeat(48) }],
    ["host_data of 31 bytes", { host_data: "00".repeat(31) }],
    ["report_data of 32 bytes", { report_data: "00".repeat(32) }],
    ["max_vmpl 4", { max_vmpl: 4 }],
    ["min_guest_svn 2^32", { min_guest_svn: 2 ** 32 }],
  ])("%s → invalid_policy", (_what, policy) => {
    const r = parseSnpPolicy(policy);
    expect(r.ok ? "ok" : r.error.reason).toBe("invalid_policy");
    expect(verdict(claims["oak-milan-v3"]!, policy)).toBe("invalid_policy");
  });

  it("names the offending field", () => {
    const r = parseSnpPolicy({ allow_debug: false, measurment: [] });
    expect(r.ok ? "" : r.error.detail).toMatch(/unknown field 'measurment'/);
  });
});
