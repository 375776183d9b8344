/** Appraisal of TDX claims against a policy given as data: each rule allows and denies. */
import { describe, expect, it } from "vitest";
import type { TdxClaims } from "../../../src/lib/attestation/tdx/claims";
import { appraiseTdx, parseTdxPolicy, type TdxPolicy } from "../../../src/lib/attestation/tdx/policy";

const H48 = (c: string) => c.repeat(96);
const CLAIMS: TdxClaims = {
  quote_version: 4,
  tee_tcb_svn: "04010700000000000000000000000000",
  mr_seam: H48("a"),
  mr_signer_seam: H48("0"),
  seam_attributes: "0000000000000000",
  td_attributes: { debug: false, sept_ve_disable: true, pks: false, kl: false, perfmon: false, raw: "0000001000000000" },
  xfam: "e700060000000000",
  mr_td: H48("1"),
  mr_config_id: H48("0"),
  mr_owner: H48("0"),
  mr_owner_config: H48("0"),
  rtmr: [H48("2"), H48("3"), H48("4"), H48("5")],
  report_data: "6".repeat(128),
  fmspc: "00806f050000",
  tcb_status: "UpToDate",
  advisory_ids: [],
  collateral_expires_at: "2025-07-04T09:19:31.000Z",
};

function policy(doc: unknown): TdxPolicy {
  const p = parseTdxPolicy(doc);
  if (!p.ok) throw new Error(p.error.detail);
  return p.value;
}

function appraise(doc: unknown, claims: Partial<TdxClaims> = {}): string {
  const r = appraiseTdx({ ...CLAIMS, ...claims }, policy(doc));
  return r.ok ? "allow" : r.error.reason;
}

describe("appraiseTdx", () => {
  it("an empty policy accepts an UpToDate, non-debug TD with SEPT_VE_DISABLE", () => {
    expect(appraise({})).toBe("allow");
  });

  it.each([
    ["tcb_status", { accepted_tcb_statuses: ["UpToDate", "OutOfDate"] }, { tcb_status: "OutOfDate" }, { tcb_status: "SWHardeningNeeded" }],
    ["tcb_status (default: UpToDate only)", {}, { tcb_status: "UpToDate" }, { tcb_status: "OutOfDate" }],
    ["debug", { allow_debug: true }, { td_attributes: { ...CLAIMS.td_attributes, debug: true } }, {}],
    ["sept_ve_disable", { require_sept_ve_disable: false }, { td_attributes: { ...CLAIMS.td_attributes, sept_ve_disable: false } }, {}],
    ["mr_td", { mr_td: [H48("9"), H48("1").toUpperCase()] }, {}, { mr_td: H48("8") }],
    ["rtmr0", { rtmr0: [H48("2")] }, {}, { rtmr: [H48("7"), H48("3"), H48("4"), H48("5")] }],
    ["rtmr3", { rtmr3: [H48("5"), H48("6")] }, { rtmr: [H48("0"), H48("0"), H48("0"), H48("6")] }, { rtmr: [H48("2"), H48("3"), H48("4"), H48("7")] }],
    ["mr_config_id", { mr_config_id: H48("0") }, {}, { mr_config_id: H48("1") }],
    ["report_data", { report_data: "6".repeat(128) }, {}, { report_data: "7".repeat(128) }],
    ["mr_service_td (zeros admit a TD 1.0 quote)", { mr_service_td: [H48("0")] }, {}, { mr_service_td: H48("c") }],
    ["mr_service_td (a bound service TD)", { mr_service_td: [H48("c")] }, { mr_service_td: H48("c") }, { mr_service_td: H48("d") }],
  ] as [string, unknown, Partial<TdxClaims>, Partial<TdxClaims>][])("%s allows and denies", (rule, doc, allowed, denied) => {
    expect(appraise(doc, allowed)).toBe("allow");
    const ruleName = rule.split(" ")[0]!;
    expect(appraise(doc, denied)).toBe(Object.keys(denied).length === 0 ? "allow" : `policy_denied:${ruleName}`);
  });

  it("denies debug and a missing SEPT_VE_DISABLE by default", () => {
    expect(appraise({}, { td_attributes: { ...CLAIMS.td_attributes, debug: true } })).toBe("policy_denied:debug");
    expect(appraise({}, { td_attributes: { ...CLAIMS.td_attributes, sept_ve_disable: false } })).toBe("policy_denied:sept_ve_disable");
  });

  it("reports the first denying rule in a fixed order", () => {
    expect(appraise({ mr_td: [H48("9")] }, { tcb_status: "OutOfDate" })).toBe("policy_denied:tcb_status");
  });
});

describe("parseTdxPolicy", () => {
  it.each([
    ["not an object", []],
    ["null", null],
    ["an unknown field", { allow_debug: false, mrtd: [] }],
    ["a status that is not one", { accepted_tcb_statuses: ["Fine"] }],
    ["Revoked, which never verifies", { accepted_tcb_statuses: ["Revoked"] }],
    ["an empty status list", { accepted_tcb_statuses: [] }],
    ["a non-boolean switch", { allow_debug: "yes" }],
    ["short hex in an allowlist", { mr_td: ["abcd"] }],
    ["non-hex", { rtmr1: ["z".repeat(96)] }],
    ["an allowlist that is not a list", { rtmr2: H48("0") }],
    ["a report_data of the wrong size", { report_data: H48("0") }],
  ])("rejects %s as policy_invalid", (_name, doc) => {
    const r = parseTdxPolicy(doc);
    expect(r.ok || r.error.reason).toBe("policy_invalid");
  });

  it("normalises hex to lowercase", () => {
    const p = policy({ mr_config_id: H48("A"), report_data: "B".repeat(128) });
    expect(p.mrConfigId).toBe(H48("a"));
    expect(p.reportData).toBe("b".repeat(128));
  });
});
