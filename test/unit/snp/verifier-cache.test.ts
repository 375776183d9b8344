/**
 * The warm path: SnpVerifier caches only successful, time-independent chain checks (and verified
 * CRLs) by exact DER; a warm verification must give exactly the answer a cold one gives.
 */
import { describe, expect, it } from "vitest";
import { DerCache } from "../../../src/lib/attestation/snp/der-cache";
import { SnpVerifier, verifySnpEvidence } from "../../../src/lib/attestation/snp/verify";
import { at, bytes, evidence, negatives, SNP, VECTORS } from "./snp-fixtures";

const code = (r: { ok: boolean; error?: { reason: string } }) => (r.ok ? "ok" : r.error!.reason);

describe("SnpVerifier cache", () => {
  it("a warm verification returns the same claims as a cold one", async () => {
    const v = new SnpVerifier();
    for (const { name } of VECTORS) {
      const cold = await new SnpVerifier().verify(evidence(name));
      const first = await v.verify(evidence(name));
      const warm = await v.verify(evidence(name));
      expect(warm).toEqual(cold);
      expect(first).toEqual(cold);
    }
    expect(v.stats().certificates).toBe(VECTORS.length);
    expect(await verifySnpEvidence(evidence("oak-turin-v5"))).toEqual(await v.verify(evidence("oak-turin-v5")));
  });

  it("every negative case gives the same code warm as cold", async () => {
    const warm = new SnpVerifier();
    for (const { name } of VECTORS) await warm.verify(evidence(name));
    for (const vec of VECTORS) {
      for (const n of negatives(vec)) {
        const base = evidence(vec.name);
        const input = {
          report: n.file ? bytes(`${SNP}/${vec.name}/negative/${n.file}`) : base.report,
          endorsementCert: n.ek ? bytes(`${SNP}/${vec.name}/negative/${n.ek}`) : base.endorsementCert,
          now: n.verify_at ? at(n.verify_at) : base.now,
        };
        expect([vec.name, n.name, code(await warm.verify(input))]).toEqual([vec.name, n.name, code(await new SnpVerifier().verify(input))]);
      }
    }
  });

  it("checks validity against now on every call, cached or not", async () => {
    const v = new SnpVerifier();
    const e = evidence("trustee-milan-vlek-v3");
    expect(code(await v.verify(e))).toBe("ok");
    expect(code(await v.verify({ ...e, now: at("2025-12-11T00:00:00Z") }))).toBe("cert_expired");
    expect(code(await v.verify({ ...e, now: at("2024-12-01T00:00:00Z") }))).toBe("cert_expired");
    expect(code(await v.verify(e))).toBe("ok");
    expect(v.stats().certificates).toBe(1);
  });

  it("does not cache failed chain checks", async () => {
    const v = new SnpVerifier();
    const forged = evidence("gsg-milan-v2").endorsementCert.slice();
    forged[forged.length - 1]! ^= 1;
    for (let i = 0; i < 2; i++) expect(code(await v.verify({ ...evidence("gsg-milan-v2"), endorsementCert: forged }))).toBe("vcek_chain_invalid");
    expect(v.stats().certificates).toBe(0);
  });

  it("a certificate cached from one report is bound afresh to the next (product, signer, chip)", async () => {
    const v = new SnpVerifier();
    expect(code(await v.verify(evidence("oak-genoa-v5")))).toBe("ok");
    const genoaVcek = evidence("oak-genoa-v5").endorsementCert;
    expect(code(await v.verify({ ...evidence("oak-milan-v3"), endorsementCert: genoaVcek, now: at("2025-08-08T17:21:41Z") }))).toBe("product_mismatch");
    expect(code(await v.verify({ ...evidence("tinfoil-genoa-v3"), endorsementCert: genoaVcek }))).toBe("bad_report_signature");
  });

  it("is not poisoned when the caller mutates its buffer afterwards", async () => {
    const v = new SnpVerifier();
    const e = evidence("oak-milan-v3");
    expect(code(await v.verify(e))).toBe("ok");
    e.endorsementCert[200]! ^= 1;
    expect(code(await v.verify(e))).toBe("vcek_chain_invalid");
    e.endorsementCert[200]! ^= 1;
    expect(code(await v.verify(e))).toBe("ok");
  });

  it("is bounded (least recently used evicted first) and still correct after eviction", async () => {
    const v = new SnpVerifier({ maxCachedCertificates: 2 });
    for (const name of ["gsg-milan-v2", "oak-milan-v3", "oak-genoa-v5", "oak-turin-v5"]) expect(code(await v.verify(evidence(name)))).toBe("ok");
    expect(v.stats().certificates).toBe(2);
    expect(code(await v.verify(evidence("gsg-milan-v2")))).toBe("ok");
    expect(v.stats().certificates).toBe(2);
  });

  it("a non-finite verification time is a caller bug (TypeError), not a verdict", async () => {
    await expect(new SnpVerifier().verify({ ...evidence("oak-milan-v3"), now: Number.NaN })).rejects.toThrow(TypeError);
    expect(() => new SnpVerifier({ maxCachedCertificates: 0 })).toThrow(TypeError);
  });
});

describe("DerCache", () => {
  it("treats a same-length, same-tail different DER as a miss", () => {
    const cache = new DerCache<{ der: Uint8Array; n: number }>(4);
    const a = new Uint8Array(64).fill(7);
    const b = a.slice();
    b[0] = 8;
    cache.set("", { der: a, n: 1 });
    expect(cache.get("", a)?.n).toBe(1);
    expect(cache.get("", b)).toBeUndefined();
    expect(cache.get("other-scope", a)).toBeUndefined();
    cache.set("", { der: b, n: 2 });
    expect([cache.get("", a), cache.get("", b)?.n]).toEqual([undefined, 2]);
  });

  it("evicts the least recently used entry", () => {
    const cache = new DerCache<{ der: Uint8Array }>(2);
    const d = (n: number) => ({ der: Uint8Array.of(n, n, n) });
    cache.set("", d(1));
    cache.set("", d(2));
    cache.get("", d(1).der);
    cache.set("", d(3));
    expect([!!cache.get("", d(1).der), !!cache.get("", d(2).der), !!cache.get("", d(3).der)]).toEqual([true, false, true]);
  });
});
