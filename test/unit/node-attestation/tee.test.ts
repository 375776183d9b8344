/* eslint-disable @typescript-eslint/no-explicit-any -- token claims are probed by path in assertions */
/**
 * `tee` node attestation from verified attestation-token claims: agent IDs stable per guest and
 * platform, node selectors only from the verified claims, and the CSR key bound by the evidence.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { appraise, parseAttestationPolicy } from "../../../src/lib/kbs/attestation-policy";
import { earClaims } from "../../../src/lib/kbs/ear";
import { generateTeeKeyPair, teePubKeyJwk } from "../../../src/lib/kbs";
import { csrKeyIsBound, teeNodeIdentity } from "../../../src/lib/node-attestation/tee";
import type { TeeClaims } from "../../../src/lib/attestation";
import { fromSnp, fromTdx, sampleClaims, verifiedSample, verifiedSnp, verifiedTdx } from "../kbs-policy/claims";

async function token(claims: TeeClaims, policy: unknown = { version: 1 }, teePubKey: Record<string, unknown> = { kty: "EC" }, initData?: string): Promise<Record<string, unknown>> {
  const p = parseAttestationPolicy(policy);
  if (!p.ok) throw new Error(p.error.detail);
  return earClaims({
    claims,
    appraisal: appraise(claims, p.value, "permissive"),
    policyId: "default",
    runtimeData: { nonce: "n", teePubKey },
    ...(initData ? { initData: { digest: initData, claims: null } } : {}),
    issuer: "i",
    now: Date.UTC(2026, 0, 1),
    lifetimeSeconds: 300,
  }) as unknown as Record<string, unknown>;
}

let snp: TeeClaims;
let tdx: TeeClaims;

beforeAll(async () => {
  await verifiedSample();
  snp = fromSnp((await verifiedSnp())["oak-milan-v3"]!);
  tdx = fromTdx((await verifiedTdx())["automata-v5-td15-90c06f-alibaba"]!);
});

describe("teeNodeIdentity", () => {
  it("SNP: selectors from the verified report, an ID stable across re-attestations", async () => {
    const claims = snp.evidenceClaims as Record<string, any>;
    const r = await teeNodeIdentity(await token(snp, { version: 1, snp: { measurements: [claims.measurement] } }));
    if (!r.ok) throw new Error(r.error.detail);
    expect(r.value.agentPath).toMatch(/^\/signet\/agent\/tee\/[0-9a-f]{32}$/);
    expect(r.value.selectors).toEqual([
      "tee:type:snp",
      `tee:status:${(await token(snp, { version: 1, snp: { measurements: [claims.measurement] } }) as any).submods.cpu0["ear.status"]}`,
      `snp:measurement:${claims.measurement}`,
      `snp:chip_id:${claims.chip_id}`,
      `snp:host_data:${claims.host_data}`,
      `snp:policy:debug:${claims.policy.debug}`,
    ]);
    // Same guest, another attestation (another nonce and key): the same agent ID.
    const again = await teeNodeIdentity(await token(snp, { version: 1 }, { kty: "EC", other: 1 }));
    expect(again.ok && again.value.agentPath).toBe(r.value.agentPath);
    // Another init-data: another agent, with its initdata selector.
    const withInit = await teeNodeIdentity(await token(snp, { version: 1 }, { kty: "EC" }, "ab".repeat(48)));
    expect(withInit.ok && withInit.value.agentPath).not.toBe(r.value.agentPath);
    expect(withInit.ok && withInit.value.selectors).toContain(`initdata:sha384:${"ab".repeat(48)}`);
  });

  it("TDX: MRTD, MRCONFIGID, the four RTMRs and the TCB status; the platform (PPID) is part of the ID", async () => {
    const c = tdx.evidenceClaims as Record<string, any>;
    const r = await teeNodeIdentity(await token(tdx));
    if (!r.ok) throw new Error(r.error.detail);
    expect(r.value.selectors).toEqual(expect.arrayContaining([`tdx:mrtd:${c.mr_td}`, `tdx:mrconfigid:${c.mr_config_id}`, `tdx:rtmr0:${c.rtmr[0]}`, `tdx:rtmr3:${c.rtmr[3]}`, `tdx:tcb_status:${c.tcb_status}`]));
    const otherPlatform = await teeNodeIdentity(await token({ ...tdx, platformId: "00".repeat(16) }));
    expect(otherPlatform.ok && otherPlatform.value.agentPath).not.toBe(r.value.agentPath);
  });

  it("sample: a dev identity from the launch digest", async () => {
    const r = await teeNodeIdentity(await token(sampleClaims()));
    expect(r).toMatchObject({ ok: true, value: { tee: "sample", selectors: expect.arrayContaining(["tee:type:sample", "sample:launch_digest:abcde"]) } });
  });

  it("refuses contraindicated tokens and claims that do not parse", async () => {
    const claims = snp.evidenceClaims as Record<string, any>;
    const bad = await token(snp, { version: 1, snp: { measurements: ["00".repeat(48)] } });
    expect(await teeNodeIdentity(bad)).toMatchObject({ ok: false, error: { reason: "token_contraindicated" } });
    const good = (await token(snp)) as any;
    const cases: [string, (t: any) => void][] = [
      ["no submods", (t) => delete t.submods],
      ["no status", (t) => delete t.submods.cpu0["ear.status"]],
      ["two TEEs", (t) => (t.submods.cpu0["ear.veraison.annotated-evidence"].tdx = {})],
      ["a measurement that is not hex", (t) => (t.submods.cpu0["ear.veraison.annotated-evidence"].snp.measurement = "zz")],
      ["a short chip id", (t) => (t.submods.cpu0["ear.veraison.annotated-evidence"].snp.chip_id = "ab")],
      ["no debug bit", (t) => delete t.submods.cpu0["ear.veraison.annotated-evidence"].snp.policy],
      ["init-data of an odd length", (t) => (t.submods.cpu0["ear.veraison.annotated-evidence"].init_data = "abc")],
      ["init-data of no digest length", (t) => (t.submods.cpu0["ear.veraison.annotated-evidence"].init_data = "ab".repeat(20))],
    ];
    let checked = 0;
    for (const [name, tamper] of cases) {
      const t = structuredClone(good);
      tamper(t);
      expect(await teeNodeIdentity(t), name).toMatchObject({ ok: false, error: { reason: "token_claims_malformed" } });
      checked++;
    }
    expect(checked).toBe(cases.length);
    expect(claims.measurement).toBeDefined();
  });
});

describe("csrKeyIsBound", () => {
  it("the CSR key must be the tee-pubkey the evidence bound (same point)", async () => {
    const signing = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", signing.publicKey)) as ArrayBuffer);
    const { x, y } = (await crypto.subtle.exportKey("jwk", signing.publicKey)) as JsonWebKey;
    const bound = await token(sampleClaims(), { version: 1 }, { kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", x, y });
    expect((await csrKeyIsBound(bound, spki)).ok).toBe(true);
    const other = await token(sampleClaims(), { version: 1 }, { ...teePubKeyJwk((await generateTeeKeyPair("ECDH-ES+A256KW-P256")).teePubKey) });
    expect(await csrKeyIsBound(other, spki)).toMatchObject({ ok: false, error: { reason: "csr_key_not_bound" } });
    expect(await csrKeyIsBound(await token(sampleClaims()), spki)).toMatchObject({ ok: false, error: { reason: "csr_key_not_bound" } });
    expect(await csrKeyIsBound(bound, new Uint8Array([0x30, 0x00]))).toMatchObject({ ok: false, error: { reason: "csr_key_not_bound" } });
  });
});
