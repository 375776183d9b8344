/**
 * TCB evaluation as Intel QVL does it, on real collateral with statuses rewritten in memory (no real
 * vector has SWHardeningNeeded, ConfigurationNeeded, Revoked or a relaunch), plus the QE identity and
 * TDX module identity matches.
 */
import { describe, expect, it } from "vitest";
import { parseTdxCollateral, type TdxCollateral } from "../../../src/lib/attestation/tdx/collateral";
import type { TcbLevelStatus } from "../../../src/lib/attestation/tdx/json-fields";
import { parseTdxQuote, type TdReport, type TdxQuote } from "../../../src/lib/attestation/tdx/quote";
import { readSgxExtension, OID_SGX_EXTENSION, type SgxExtension } from "../../../src/lib/attestation/tdx/sgx-extension";
import { readPckChain } from "../../../src/lib/attestation/tdx/pck-chain";
import {
  checkTdxModule,
  evaluateTcb,
  matchQeIdentity,
  relaunchStatus,
  type TcbInput,
  type TdxTcbStatus,
} from "../../../src/lib/attestation/tdx/tcb-evaluation";
import type { TcbInfo } from "../../../src/lib/attestation/tdx/tcb-info";
import type { QeIdentity } from "../../../src/lib/attestation/tdx/qe-identity";
import { parseTcbInfo } from "../../../src/lib/attestation/tdx/tcb-info";
import { loadVector } from "./tdx-fixtures";

const V5 = "automata-v5-td15-90c06f-alibaba";

async function setup(dir: string): Promise<{ quote: TdxQuote; collateral: TdxCollateral; sgx: SgxExtension }> {
  const v = loadVector(dir);
  const q = parseTdxQuote(v.quote);
  const c = await parseTdxCollateral(v.files);
  if (!q.ok || !c.ok) throw new Error("fixture");
  const chain = readPckChain(q.value.pckChainPem);
  if (!chain.ok) throw new Error("chain");
  const ext = readSgxExtension(chain.value[0]!.extensions.get(OID_SGX_EXTENSION)!.value);
  if (!ext.ok) throw new Error(ext.error);
  return { quote: q.value, collateral: c.value, sgx: ext.value };
}

const base = await setup(V5);
const input = (tcbInfo: TcbInfo = base.collateral.tcbInfo, qeIdentity: QeIdentity = base.collateral.qeIdentity): TcbInput => ({
  sgx: base.sgx,
  qeSvn: base.quote.qeReport.isvSvn,
  tcbInfo,
  qeIdentity,
});

/** V5's TCB Info with the first (matched) platform level's status replaced. */
function withPlatformStatus(status: TcbLevelStatus): TcbInfo {
  const t = base.collateral.tcbInfo;
  return { ...t, tcbLevels: t.tcbLevels.map((l, i) => (i === 0 ? { ...l, tcbStatus: status, advisoryIds: ["INTEL-SA-1"] } : l)) };
}

function withModuleStatus(t: TcbInfo, status: TcbLevelStatus): TcbInfo {
  return {
    ...t,
    tdxModuleIdentities: t.tdxModuleIdentities.map((m) => (m.id === "TDX_01" ? { ...m, tcbLevels: m.tcbLevels.map((l) => ({ ...l, tcbStatus: status, advisoryIds: ["INTEL-SA-M"] })) } : m)),
  };
}

function withQeStatus(status: TcbLevelStatus): QeIdentity {
  const q = base.collateral.qeIdentity;
  return { ...q, tcbLevels: q.tcbLevels.map((l) => ({ ...l, tcbStatus: status, advisoryIds: ["INTEL-SA-Q"] })) };
}

function body(svn: number[], svn2?: number[]): TdReport {
  const pad = (s: number[]) => Uint8Array.from([...s, ...new Array(16 - s.length).fill(0)]);
  return { ...base.quote.body, teeTcbSvn: pad(svn), teeTcbSvn2: svn2 ? pad(svn2) : undefined };
}

function status(i: TcbInput, b: TdReport = base.quote.body): string {
  const r = evaluateTcb(i, b);
  return r.ok ? r.value.status : r.error.reason;
}

describe("evaluateTcb", () => {
  it("the real V5 quote is UpToDate with no advisories", () => {
    const r = evaluateTcb(input(), base.quote.body);
    expect(r.ok && r.value).toEqual({ status: "UpToDate", tcbDate: Date.parse("2024-03-13T00:00:00Z"), advisoryIds: [] });
  });

  it.each(["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"] as const)(
    "a platform level %s with current module and QE is reported as is",
    (s) => {
      expect(status(input(withPlatformStatus(s)))).toBe(s);
    },
  );

  it.each([
    ["UpToDate", "OutOfDate"],
    ["SWHardeningNeeded", "OutOfDate"],
    ["ConfigurationNeeded", "OutOfDateConfigurationNeeded"],
    ["ConfigurationAndSWHardeningNeeded", "OutOfDateConfigurationNeeded"],
    ["OutOfDate", "OutOfDate"],
    ["OutOfDateConfigurationNeeded", "OutOfDateConfigurationNeeded"],
  ] as const)("an OutOfDate TDX module converges platform %s to %s", (platform, expected) => {
    expect(status(input(withModuleStatus(withPlatformStatus(platform), "OutOfDate")))).toBe(expected);
  });

  it.each([
    ["UpToDate", "OutOfDate"],
    ["ConfigurationNeeded", "OutOfDateConfigurationNeeded"],
  ] as const)("an OutOfDate QE converges platform %s to %s", (platform, expected) => {
    expect(status(input(withPlatformStatus(platform), withQeStatus("OutOfDate")))).toBe(expected);
  });

  it("a Revoked module or QE revokes the platform", () => {
    expect(status(input(withModuleStatus(base.collateral.tcbInfo, "Revoked")))).toBe("Revoked");
    expect(status(input(undefined, withQeStatus("Revoked")))).toBe("Revoked");
  });

  it("a ConfigurationNeeded QE leaves the platform status alone", () => {
    expect(status(input(undefined, withQeStatus("ConfigurationNeeded")))).toBe("UpToDate");
  });

  it("statuses QVL does not allow for a module or a QE level are tcb_status_unrecognized", () => {
    expect(status(input(withModuleStatus(base.collateral.tcbInfo, "SWHardeningNeeded")))).toBe("tcb_status_unrecognized");
    expect(status(input(undefined, withQeStatus("ConfigurationAndSWHardeningNeeded")))).toBe("tcb_status_unrecognized");
  });

  it("advisories are platform, then QE, then module; tcbDate is the earliest", () => {
    const r = evaluateTcb(input(withModuleStatus(withPlatformStatus("SWHardeningNeeded"), "UpToDate"), withQeStatus("UpToDate")), base.quote.body);
    expect(r.ok && r.value.advisoryIds).toEqual(["INTEL-SA-1", "INTEL-SA-Q", "INTEL-SA-M"]);
  });

  it("no matching platform, module or QE level is tcb_not_supported", () => {
    // TDX module 1.x with late microcode SVN 1 < 2 (TEE_TCB_SVN[2]).
    expect(status(input(), body([5, 1, 1], [5, 1, 2]))).toBe("tcb_not_supported");
    // Module minor SVN 1 is below TDX_01's lowest level (2).
    expect(status(input(), body([1, 1, 2], [5, 1, 2]))).toBe("tcb_not_supported");
    // Module version 2 has no TDX_02 identity.
    expect(status(input(), body([5, 2, 2], [5, 2, 2]))).toBe("tcb_not_supported");
    // The QE's ISVSVN is below every QE level.
    expect(status({ ...input(), qeSvn: 3 })).toBe("tcb_not_supported");
  });

  it("with module version 0, TEE_TCB_SVN[0..1] are compared with tdxtcbcomponents too", () => {
    // tdxtcbcomponents[0] is 5: an SVN of 4 matches no level, 5 does (module identity is not used).
    expect(status(input(), body([4, 0, 2], [5, 0, 2]))).toBe("tcb_not_supported");
    expect(status(input(), body([5, 0, 2], [5, 0, 2]))).toBe("UpToDate");
  });

  it("TD 1.5: an out-of-date launch TCB with a current TEE_TCB_SVN2 advises a relaunch", () => {
    expect(status(input(), body([3, 1, 2], [5, 1, 2]))).toBe("TDRelaunchAdvised");
    expect(status(input(withPlatformStatus("ConfigurationNeeded")), body([3, 1, 2], [5, 1, 2]))).toBe("TDRelaunchAdvisedConfigurationNeeded");
    expect(status(input(), body([3, 1, 2], [3, 1, 2]))).toBe("OutOfDate");
    expect(status(input(), body([5, 1, 2], [3, 1, 2]))).toBe("UpToDate");
    // TEE_TCB_SVN2 must itself match a level.
    expect(status(input(), body([5, 1, 2], [5, 1, 1]))).toBe("tcb_not_supported");
  });

  it("relaunchStatus follows QVL's table", () => {
    const cases: [TdxTcbStatus, TdxTcbStatus, TdxTcbStatus][] = [
      ["OutOfDate", "UpToDate", "TDRelaunchAdvised"],
      ["OutOfDate", "SWHardeningNeeded", "TDRelaunchAdvised"],
      ["OutOfDate", "ConfigurationNeeded", "TDRelaunchAdvisedConfigurationNeeded"],
      ["OutOfDateConfigurationNeeded", "UpToDate", "TDRelaunchAdvisedConfigurationNeeded"],
      ["OutOfDate", "OutOfDate", "OutOfDate"],
      ["OutOfDate", "Revoked", "OutOfDate"],
      ["UpToDate", "UpToDate", "UpToDate"],
      ["Revoked", "UpToDate", "Revoked"],
    ];
    for (const [launch, current, expected] of cases) expect(relaunchStatus(launch, current)).toBe(expected);
  });
});

describe("matchQeIdentity", () => {
  const report = base.quote.qeReport;
  const identity = base.collateral.qeIdentity;
  const reason = (id: QeIdentity, r = report) => {
    const m = matchQeIdentity(r, id);
    return m.ok ? "ok" : m.error.reason;
  };
  it("accepts the genuine TD QE", () => expect(reason(identity)).toBe("ok"));
  it.each([
    ["an SGX QE identity", { ...identity, id: "QE" as const }],
    ["QE identity version 1", { ...identity, version: 1 }],
    ["another MRSIGNER", { ...identity, mrSigner: new Uint8Array(32) }],
    ["another ISVPRODID", { ...identity, isvProdId: 1 }],
    ["MISCSELECT outside the mask", { ...identity, miscselect: Uint8Array.of(1, 0, 0, 0) }],
    ["ATTRIBUTES outside the mask", { ...identity, attributes: new Uint8Array(16) }],
  ])("rejects %s as qe_identity_mismatch", (_name, id) => {
    expect(reason(id)).toBe("qe_identity_mismatch");
  });
  it("ignores report bits the masks clear", () => {
    const attrs = report.attributes.slice();
    attrs[15] = 0xff; // outside attributesMask (upper 8 bytes are 00)
    expect(reason(identity, { ...report, attributes: attrs })).toBe("ok");
  });
});

describe("checkTdxModule", () => {
  const t = base.collateral.tcbInfo;
  const reason = (b: TdReport, info: TcbInfo = t) => {
    const r = checkTdxModule(b, info);
    return r.ok ? "ok" : r.error.reason;
  };
  it("accepts Intel's module identity (TDX_01 for module version 1)", () => expect(reason(base.quote.body)).toBe("ok"));
  it("rejects a non-Intel MRSIGNERSEAM, non-zero SEAMATTRIBUTES and unknown module versions", () => {
    expect(reason({ ...base.quote.body, mrSignerSeam: new Uint8Array(48).fill(1) })).toBe("tdx_module_mismatch");
    expect(reason({ ...base.quote.body, seamAttributes: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1) })).toBe("tdx_module_mismatch");
    expect(reason(body([5, 2, 2]))).toBe("tdx_module_mismatch");
    expect(reason(body([5, 0, 2]))).toBe("ok");
    expect(reason(body([5, 0, 2]), { ...t, tdxModule: undefined })).toBe("tdx_module_mismatch");
  });
});

describe("TCB Info parsing", () => {
  it("sorts TCB levels descending as QVL does, whatever the served order", () => {
    const text = new TextDecoder().decode(loadVector(V5).files["tcb_info.json"]!);
    const doc = JSON.parse(text) as { tcbInfo: { tcbLevels: unknown[] }; signature: string };
    doc.tcbInfo.tcbLevels.reverse();
    const r = parseTcbInfo(new TextEncoder().encode(JSON.stringify(doc)));
    expect(r.ok && r.value.tcbLevels.map((l) => l.pceSvn)).toEqual([13, 5]);
  });
  it("rejects duplicate levels, unknown statuses and wrong-length hex", () => {
    const text = new TextDecoder().decode(loadVector(V5).files["tcb_info.json"]!);
    const mutate = (f: (d: { tcbInfo: Record<string, unknown> & { tcbLevels: Record<string, unknown>[] } }) => void) => {
      const d = JSON.parse(text) as { tcbInfo: Record<string, unknown> & { tcbLevels: Record<string, unknown>[] } };
      f(d);
      const r = parseTcbInfo(new TextEncoder().encode(JSON.stringify(d)));
      return r.ok ? "ok" : r.error;
    };
    expect(mutate((d) => d.tcbInfo.tcbLevels.push(d.tcbInfo.tcbLevels[0]!))).toMatch(/duplicated level/);
    expect(mutate((d) => (d.tcbInfo.tcbLevels[0]!.tcbStatus = "Fine"))).toMatch(/tcbStatus/);
    expect(mutate((d) => (d.tcbInfo.fmspc = "90c06f"))).toMatch(/fmspc/);
    expect(mutate((d) => (d.tcbInfo.version = 4))).toMatch(/version/);
    expect(mutate((d) => (d.tcbInfo.issueDate = "2025-02-30T00:00:00Z"))).toMatch(/issueDate/);
    expect(mutate((d) => (d.tcbInfo.tcbLevels = []))).toMatch(/empty/);
    expect(mutate((d) => (d.tcbInfo.tcbType = 1))).toMatch(/tcbType/);
  });
});
