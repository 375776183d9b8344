/**
 * Hostile input: 100,000 mutated reports through the parser, and smaller budgets of mutated
 * reports and certificates through full verification. Nothing may throw; every rejection carries a
 * known code; and no changed byte anywhere in a report or certificate may still verify (every byte
 * of a report is signed, part of the signature, or must be zero).
 */
import { describe, expect, it } from "vitest";
import type { SnpFailureReason } from "../../../src/lib/attestation/snp/errors";
import { parseSnpReport, REPORT_SIZE } from "../../../src/lib/attestation/snp/report";
import { SnpVerifier } from "../../../src/lib/attestation/snp/verify";
import { bytesEqual } from "../../../src/lib/x509/der-reader";
import { mutate, prng } from "../x509/x509-test-kit";
import { evidence } from "./snp-fixtures";

const CODES: readonly SnpFailureReason[] = [
  "bad_length", "unsupported_version", "unsupported_signature_algorithm", "bad_guest_policy", "bad_signer_info", "reserved_nonzero",
  "unsupported_signing_key", "unsupported_product", "missing_endorsement_key", "malformed_endorsement_cert", "vcek_chain_invalid",
  "cert_expired", "signer_mismatch", "product_mismatch", "bad_report_signature", "hwid_mismatch", "tcb_mismatch", "malformed_crl",
  "crl_issuer_mismatch", "crl_signature_invalid", "crl_not_yet_valid", "crl_expired", "cert_revoked",
];

/** Offsets where a change hits a parsing rule rather than only the signature. */
const HOT = [0x000, 0x001, 0x003, 0x00a, 0x00b, 0x00c, 0x00f, 0x034, 0x048, 0x049, 0x04c, 0x188, 0x189, 0x18b, 0x1eb, 0x1ef, 0x1f8, 0x208, 0x2d0, 0x318, 0x330, 0x49f];

/** A same-length mutant: 1–4 bytes changed, half of them at parsing-relevant offsets. */
function mutateInPlace(input: Uint8Array, rand: () => number): Uint8Array {
  const out = input.slice();
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = rand() < 0.5 ? HOT[Math.floor(rand() * HOT.length)]! : Math.floor(rand() * out.length);
    out[at] = rand() < 0.5 ? out[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
  }
  return out;
}

function mutant(base: Uint8Array, rand: () => number): Uint8Array {
  const r = rand();
  if (r < 0.3) return mutate(base, rand);
  if (r < 0.32) return crypto.getRandomValues(new Uint8Array(REPORT_SIZE));
  return mutateInPlace(base, rand);
}

const BASES = ["gsg-milan-v2", "oak-milan-v3", "trustee-milan-vlek-v3", "oak-genoa-v5", "oak-turin-v5"].map((name) => evidence(name));

describe("fuzz: the report parser", () => {
  it("never throws on 100,000 mutated reports, and rejects only with known codes", () => {
    const rand = prng(0x5e5);
    const seen = new Map<string, number>();
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      const base = BASES[i % BASES.length]!.report;
      const m = mutant(base, rand);
      const r = parseSnpReport(m);
      // Plain checks in the loop: expect() would dominate the run time.
      if (r.ok) {
        accepted++;
        if (r.value.bytes.length !== REPORT_SIZE || r.value.version < 2 || r.value.version > 5) throw new Error(`bad accept at ${i}`);
        continue;
      }
      seen.set(r.error.reason, (seen.get(r.error.reason) ?? 0) + 1);
      if (!CODES.includes(r.error.reason) || typeof r.error.detail !== "string") throw new Error(`unknown failure ${JSON.stringify(r.error)}`);
    }
    // Every parsing rule was exercised, and mutants of the signed fields still parse (the signature catches them).
    for (const c of ["bad_length", "unsupported_version", "unsupported_signature_algorithm", "bad_guest_policy", "bad_signer_info", "reserved_nonzero", "bad_report_signature"]) {
      expect(seen.get(c) ?? 0, c).toBeGreaterThan(100);
    }
    expect(accepted).toBeGreaterThan(10_000);
  });
});

describe("fuzz: full verification", () => {
  it("rejects 3,000 mutated reports (warm collateral) with known codes, never throwing or accepting a changed report", async () => {
    const verifier = new SnpVerifier();
    const rand = prng(0xc0ffee);
    let changed = 0;
    for (let i = 0; i < 3_000; i++) {
      const base = BASES[i % BASES.length]!;
      const m = mutant(base.report, rand);
      const r = await verifier.verify({ ...base, report: m });
      if (bytesEqual(m, base.report)) {
        expect(r.ok).toBe(true);
        continue;
      }
      changed++;
      if (r.ok) throw new Error(`a mutated report verified (iteration ${i})`);
      expect(CODES).toContain(r.error.reason);
    }
    expect(changed).toBeGreaterThan(2_900);
  });

  it("rejects 400 mutated endorsement certificates (cold chain checks) and never throws", async () => {
    const verifier = new SnpVerifier();
    const rand = prng(42);
    for (let i = 0; i < 400; i++) {
      const base = BASES[i % BASES.length]!;
      const m = rand() < 0.5 ? mutate(base.endorsementCert, rand) : mutateInPlace(base.endorsementCert, rand);
      const r = await verifier.verify({ ...base, endorsementCert: m });
      if (bytesEqual(m, base.endorsementCert)) continue;
      if (r.ok) throw new Error(`a mutated certificate verified (iteration ${i})`);
      expect(CODES).toContain(r.error.reason);
    }
    expect(verifier.stats().certificates).toBeLessThanOrEqual(BASES.length);
  });
});
