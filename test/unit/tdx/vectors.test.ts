/** Every real-hardware vector in test/fixtures/tdx/index.json, positive and negative. */
import { describe, expect, it } from "vitest";
import { parseTdxCollateral } from "../../../src/lib/attestation/tdx/collateral";
import { TdxVerifier } from "../../../src/lib/attestation/tdx/verify";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CHECK_CODES, codesFor, decoded, FIXTURES, INDEX, loadVector } from "./tdx-fixtures";

async function verifyVector(dir: string) {
  const v = loadVector(dir);
  const collateral = await parseTdxCollateral(v.files);
  if (!collateral.ok) return collateral;
  return new TdxVerifier({ trustedRoot: v.trustedRoot }).verify({ quote: v.quote, collateral: collateral.value, now: v.now });
}

describe("positive vectors", () => {
  it.each(INDEX.positive.map((e) => [e.dir, e] as const))("%s", async (_dir, entry) => {
    const r = await verifyVector(entry.dir);
    if (entry.expected.failed_checks.length === 0) {
      if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
      expect(r.value.tcb_status).toBe(entry.expected.tcb_status);
      // Claims agree with the independent decoding and transcript (decoded.json, vector.json).
      const d = decoded(entry.dir) as {
        td_report: Record<string, string>;
        verification: { pck: { fmspc: string }; tcb_detail: { launch: { advisoryIDs: string[] } } };
      };
      const t = d.td_report;
      const c = r.value;
      expect([c.tee_tcb_svn, c.mr_seam, c.mr_signer_seam, c.seam_attributes, c.td_attributes.raw, c.xfam, c.mr_td]).toEqual([
        t.tee_tcb_svn, t.mr_seam, t.mr_signer_seam, t.seam_attributes, t.td_attributes, t.xfam, t.mr_td,
      ]);
      expect([c.mr_config_id, c.mr_owner, c.mr_owner_config, ...c.rtmr, c.report_data, c.mr_service_td]).toEqual([
        t.mr_config_id, t.mr_owner, t.mr_owner_config, t.rtmr0, t.rtmr1, t.rtmr2, t.rtmr3, t.report_data, t.mr_service_td,
      ]);
      expect(c.fmspc).toBe(d.verification.pck.fmspc);
      expect(c.advisory_ids).toEqual(d.verification.tcb_detail.launch.advisoryIDs);
      const manifest = JSON.parse(readFileSync(join(FIXTURES, entry.dir, "vector.json"), "utf8")) as { valid_window: { not_after: string } };
      expect(c.collateral_expires_at).toBe(new Date(manifest.valid_window.not_after).toISOString());
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(CHECK_CODES.TCB_LEVEL).toContain(r.error.reason);
    }
  });
});

describe("negative vectors", () => {
  it.each(INDEX.negative.map((e) => [e.dir, e] as const))("%s", async (_dir, entry) => {
    const r = await verifyVector(entry.dir);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const allowed = entry.expected.failed_checks.flatMap(codesFor);
    expect(allowed, `${r.error.reason}: ${r.error.detail}`).toContain(r.error.reason);
  });
});
