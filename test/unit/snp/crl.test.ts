/**
 * Revocation with AMD's real KDS CRLs (./fixtures/PROVENANCE.md): signed by the product's ARK,
 * current at the verification time, the issuing ASK/ASVK not listed. We cannot sign a CRL as AMD,
 * so a revoked ASK is tested with the real Genoa CRL (which revokes serial 0x020001) at the
 * revocation-lookup level, and forged CRLs are tested by their failing signatures.
 */
import { describe, expect, it } from "vitest";
import { checkCrlFreshness, checkNotRevoked, verifyAmdCrl } from "../../../src/lib/attestation/snp/crl";
import { pinnedRoots, type ProductRoots } from "../../../src/lib/attestation/snp/roots";
import { SnpVerifier } from "../../../src/lib/attestation/snp/verify";
import { parseCrl } from "../../../src/lib/x509/crl-reader";
import { at, bytes, CRLS, evidence } from "./snp-fixtures";

const MILAN_CRL = bytes(`${CRLS}/amd-milan-crl.der`);
const GENOA_CRL = bytes(`${CRLS}/amd-genoa-crl.der`);
const verifier = new SnpVerifier();

async function roots(product: string): Promise<ProductRoots> {
  const all = await pinnedRoots();
  if (!all.ok) throw new Error(all.error.detail);
  return all.value.find((r) => r.product === product)!;
}

const code = (r: { ok: boolean; error?: { reason: string } }) => (r.ok ? "ok" : r.error!.reason);

/** Flips the low bit of byte `index` (negative: from the end, inside the signature). */
function flip(der: Uint8Array, index: number): Uint8Array {
  const out = der.slice();
  out[index < 0 ? out.length + index : index]! ^= 0x01;
  return out;
}

describe("full verification with a CRL", () => {
  it.each([
    ["oak-milan-v3", MILAN_CRL, "2025-06-01T00:00:00Z", "ok"],
    ["trustee-milan-vlek-v3", MILAN_CRL, "2025-06-01T00:00:00Z", "ok"],
    ["gsg-milan-v2", MILAN_CRL, "2026-05-12T00:00:00Z", "ok"],
    ["oak-genoa-v5", GENOA_CRL, "2025-08-08T17:21:41Z", "ok"],
    // Stale or early CRLs prove nothing about revocation.
    ["tinfoil-genoa-v3", GENOA_CRL, "2026-01-12T16:38:56Z", "crl_expired"],
    ["oak-milan-v3", MILAN_CRL, "2026-05-12T00:00:01Z", "crl_expired"],
    ["oak-milan-v3", MILAN_CRL, "2025-01-16T21:21:54Z", "crl_not_yet_valid"],
    // Another product's ARK issued it.
    ["oak-milan-v3", GENOA_CRL, "2025-06-01T00:00:00Z", "crl_issuer_mismatch"],
    ["oak-genoa-v5", MILAN_CRL, "2025-08-08T17:21:41Z", "crl_issuer_mismatch"],
    // Forged: the signature (or a signed byte) does not verify under the ARK.
    ["oak-milan-v3", flip(MILAN_CRL, -3), "2025-06-01T00:00:00Z", "crl_signature_invalid"],
    // Byte 241 is the last byte of the revoked serial 0x020001: an attacker "un-revoking" it.
    ["oak-genoa-v5", flip(GENOA_CRL, 241), "2025-08-08T17:21:41Z", "crl_signature_invalid"],
    ["oak-milan-v3", MILAN_CRL.subarray(0, 100), "2025-06-01T00:00:00Z", "malformed_crl"],
    ["oak-milan-v3", new Uint8Array(0), "2025-06-01T00:00:00Z", "malformed_crl"],
  ])("%s with a CRL at %s → %s", async (name, crl, time, expected) => {
    const r = await verifier.verify({ ...evidence(name), crl, now: at(time) });
    expect(code(r)).toBe(expected);
  });

  it("a cached CRL is still checked for freshness and issuer on every call", async () => {
    const v = new SnpVerifier();
    const milan = { ...evidence("oak-milan-v3"), crl: MILAN_CRL };
    expect(code(await v.verify({ ...milan, now: at("2025-06-01T00:00:00Z") }))).toBe("ok");
    expect(code(await v.verify({ ...milan, now: at("2026-06-01T00:00:00Z") }))).toBe("crl_expired");
    expect(code(await v.verify({ ...evidence("oak-genoa-v5"), crl: MILAN_CRL }))).toBe("crl_issuer_mismatch");
    expect(v.stats()).toEqual({ certificates: 2, crls: 1 });
  });
});

describe("the CRL's chain", () => {
  it.each([
    ["oak-milan-v3", "vcek", "ok"],
    ["oak-milan-v3", "vlek", "crl_issuer_mismatch"],
    ["trustee-milan-vlek-v3", "vlek", "ok"],
    ["trustee-milan-vlek-v3", "vcek", "crl_issuer_mismatch"],
  ] as const)("%s with a CRL declared for the %s chain → %s", async (name, crlFor, expected) => {
    const r = await verifier.verify({ ...evidence(name), crl: MILAN_CRL, crlFor, now: at("2025-06-01T00:00:00Z") });
    expect(code(r)).toBe(expected);
  });
});

describe("revocation lookup", () => {
  it("the real Genoa CRL revokes serial 0x020001 but not the pinned SEV-Genoa ASK (0x020002)", async () => {
    const genoa = await roots("Genoa");
    const crl = await verifyAmdCrl(GENOA_CRL, genoa);
    if (!crl.ok) throw new Error(crl.error.detail);
    expect([...crl.value.revokedSerials]).toEqual(["020001"]);
    expect(genoa.ask.serialHex).toBe("020002");
    expect(code(checkNotRevoked(crl.value, genoa.ask.serialHex, "SEV-Genoa"))).toBe("ok");
    const revoked = checkNotRevoked(crl.value, "020001", "SEV-Genoa");
    expect(revoked.ok ? "ok" : revoked.error).toEqual({ reason: "cert_revoked", detail: "SEV-Genoa (serial 0x020001) is revoked by AMD's CRL" });
  });

  it("looks up the issuing ASK or ASVK serial", () => {
    const crl = { revokedSerials: new Set(["010001", "010101"]) };
    expect(code(checkNotRevoked(crl, "010001", "SEV-Milan"))).toBe("cert_revoked");
    expect(code(checkNotRevoked(crl, "010101", "SEV-VLEK-Milan"))).toBe("cert_revoked");
    expect(code(checkNotRevoked(crl, "10001", "x"))).toBe("ok");
    expect(code(checkNotRevoked({ revokedSerials: new Set() }, "010001", "x"))).toBe("ok");
  });

  it("freshness is thisUpdate ≤ now ≤ nextUpdate", () => {
    const crl = { issuer: "ARK-Milan", thisUpdate: 1000, nextUpdate: 2000 };
    expect([999, 1000, 2000, 2001].map((t) => code(checkCrlFreshness(crl, t)))).toEqual(["crl_not_yet_valid", "ok", "ok", "crl_expired"]);
  });

  it("the real Milan CRL parses with no revoked serials and its published dates", () => {
    const crl = parseCrl(MILAN_CRL);
    if (!crl.ok) throw new Error(crl.error.reason);
    expect([crl.value.thisUpdate, crl.value.nextUpdate, crl.value.revokedSerials.size]).toEqual([at("2025-05-06T12:39:06Z"), at("2026-05-12T00:00:00Z"), 0]);
  });
});
