/**
 * The real-hardware vectors (test/fixtures/snp/index.json): every positive verifies at its
 * `verify_at` and decodes to every fact in its meta.json; every negative in each
 * negative/manifest.json is rejected with one of its expected codes.
 */
import { describe, expect, it } from "vitest";
import { appraiseSnp } from "../../../src/lib/attestation/snp/policy";
import { SnpVerifier } from "../../../src/lib/attestation/snp/verify";
import type { SnpClaims } from "../../../src/lib/attestation/snp/claims";
import { at, bytes, evidence, meta, negatives, SNP, VECTORS } from "./snp-fixtures";

const verifier = new SnpVerifier();

/** The claim a meta.json `expect` key describes, in the meta.json spelling. */
function factOf(c: SnpClaims, key: string): unknown {
  const tcb = (t: SnpClaims["current_tcb"]) => {
    const { raw: _raw, ...components } = t;
    return components;
  };
  const facts: Record<string, () => unknown> = {
    version: () => c.version,
    product: () => c.product,
    guest_svn: () => c.guest_svn,
    policy: () => c.policy.raw,
    family_id: () => c.family_id,
    image_id: () => c.image_id,
    vmpl: () => c.vmpl,
    signature_algo: () => c.signature_algo,
    platform_info: () => c.platform_info.raw,
    signing_key: () => c.signer.toUpperCase(),
    mask_chip_key: () => (c.mask_chip_key ? 1 : 0),
    author_key_en: () => (c.author_key_en ? 1 : 0),
    report_data: () => c.report_data,
    measurement: () => c.measurement,
    host_data: () => c.host_data,
    id_key_digest: () => c.id_key_digest,
    author_key_digest: () => c.author_key_digest,
    report_id: () => c.report_id,
    report_id_ma: () => c.report_id_ma,
    chip_id: () => c.chip_id,
    current_version: () => c.current_firmware.version,
    committed_version: () => c.committed_firmware.version,
    cpuid_fam_id: () => c.cpuid?.family,
    cpuid_mod_id: () => c.cpuid?.model,
    cpuid_step: () => c.cpuid?.stepping,
    launch_mit_vector: () => c.launch_mit_vector,
    current_mit_vector: () => c.current_mit_vector,
    current_tcb_raw: () => c.current_tcb.raw,
    reported_tcb_raw: () => c.reported_tcb.raw,
    committed_tcb_raw: () => c.committed_tcb.raw,
    launch_tcb_raw: () => c.launch_tcb.raw,
    current_tcb: () => tcb(c.current_tcb),
    reported_tcb: () => tcb(c.reported_tcb),
    committed_tcb: () => tcb(c.committed_tcb),
    launch_tcb: () => tcb(c.launch_tcb),
  };
  const f = facts[key];
  if (!f) throw new Error(`meta.json fact '${key}' has no claim mapping`);
  return f();
}

describe("SNP positive vectors", () => {
  it.each(VECTORS.map((v) => [v.name, v] as const))("%s verifies at verify_at and decodes to its meta.json facts", async (name, v) => {
    const r = await verifier.verify(evidence(name));
    if (!r.ok) throw new Error(`${name}: ${r.error.reason}: ${r.error.detail}`);
    const c = r.value;
    expect(c.product).toBe(v.product);
    expect(c.version).toBe(v.report_version);
    expect(c.signer).toBe(v.signer);
    const facts = meta(v).expect;
    expect(Object.keys(facts).length).toBeGreaterThanOrEqual(30);
    for (const [key, want] of Object.entries(facts)) expect({ key, got: factOf(c, key) }).toEqual({ key, got: want });
    if (v.report_version < 3) expect(c.cpuid).toBeNull();
    if (v.report_version < 5) expect([c.launch_mit_vector, c.current_mit_vector]).toEqual([null, null]);
    // The claims are plain JSON (no bigint, no bytes) and round-trip unchanged.
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
    expect(JSON.stringify(c)).not.toMatch(/[A-F]{2}/);
  });
});

describe("SNP negative vectors (each vector's negative/manifest.json)", () => {
  const cases = VECTORS.flatMap((v) => negatives(v).map((n) => [`${v.name}/${n.name}`, v, n] as const));

  it("covers every manifest case", () => {
    expect(cases.length).toBe(VECTORS.length * 13);
  });

  it.each(cases)("%s is rejected with an expected code", async (_label, v, n) => {
    const base = evidence(v.name);
    const r = await verifier.verify({
      report: n.file ? bytes(`${SNP}/${v.name}/negative/${n.file}`) : base.report,
      endorsementCert: n.ek ? bytes(`${SNP}/${v.name}/negative/${n.ek}`) : base.endorsementCert,
      now: n.verify_at ? at(n.verify_at) : base.now,
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect([n.expect].flat()).toContain(r.error.reason);
  });
});

describe("milestones of issue 3", () => {
  it("gsg-milan-v2 verifies, but a policy that denies debug rejects it", async () => {
    const r = await verifier.verify(evidence("gsg-milan-v2"));
    if (!r.ok) throw new Error(r.error.reason);
    expect(r.value.policy.debug).toBe(true);
    expect(appraiseSnp(r.value, { allow_debug: false })).toEqual({
      ok: false,
      error: { reason: "policy_denied:debug", detail: expect.stringContaining("DEBUG") },
    });
    expect(appraiseSnp(r.value, { allow_debug: true }).ok).toBe(true);
  });

  // The VLEK (trustee-milan-vlek-v3) is valid 2024-12-10T22:14:21Z .. 2025-12-10T22:14:21Z.
  it.each([
    ["2024-12-10T22:14:21Z", true],
    ["2024-12-11T22:14:21Z", true],
    ["2025-06-30T00:00:00Z", true],
    ["2025-12-10T22:14:21Z", true],
    ["2024-12-10T22:14:20Z", false],
    ["2025-12-10T22:14:22Z", false],
    ["2025-12-11T22:14:21Z", false],
    ["2026-11-22T00:00:00Z", false],
  ])("the VLEK vector at %s: verified=%s (else cert_expired)", async (time, verified) => {
    const r = await verifier.verify({ ...evidence("trustee-milan-vlek-v3"), now: at(time) });
    expect(r.ok).toBe(verified);
    if (!r.ok) expect(r.error.reason).toBe("cert_expired");
    if (r.ok) expect([r.value.signer, r.value.vmpl, r.value.endorsement.csp_id]).toEqual(["vlek", 1, "CN=cc-us-east-2.amazonaws.com"]);
  });
});
