/** The pinned AMD roots: the compiled-in PEMs are exactly the certificates PROVENANCE.md fingerprints. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromPemAll } from "../../../src/lib/encoding";
import { SNP_PRODUCTS } from "../../../src/lib/attestation/snp/product";
import { isAmdName, PINNED_ROOT_PEMS, pinnedRoots } from "../../../src/lib/attestation/snp/roots";
import { commonName } from "../../../src/lib/x509/cert-reader";
import { pemCerts, SNP } from "./snp-fixtures";

/** The fingerprint table of test/fixtures/snp/PROVENANCE.md: product, cert, CN, serial, SHA-256. */
function provenanceFingerprints(): { product: string; cert: string; cn: string; serial: string; sha256: string }[] {
  const text = readFileSync(`${SNP}/PROVENANCE.md`, "utf8");
  const rows = [...text.matchAll(/^\| (Milan|Genoa|Turin) \| (ARK|ASK|ASVK) \| (\S+) \| (0x[0-9a-f]+) \| [^|]+ \| [^|]+ \| `([0-9a-f]{64})` \|/gm)];
  return rows.map((m) => ({ product: m[1]!, cert: m[2]!.toLowerCase(), cn: m[3]!, serial: m[4]!, sha256: m[5]! }));
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("pinned AMD roots", () => {
  const table = provenanceFingerprints();

  it("PROVENANCE.md lists all nine certificates", () => {
    expect(table.length).toBe(9);
  });

  it.each(table.map((row) => [`${row.product} ${row.cert}`, row] as const))("%s: the pinned PEM has the PROVENANCE.md fingerprint", (_label, row) => {
    const pems = PINNED_ROOT_PEMS[row.product as "Milan"];
    const ders = fromPemAll(pems[row.cert as "ark"], "CERTIFICATE");
    expect(ders?.length).toBe(1);
    expect(sha256(ders![0]!)).toBe(row.sha256);
    // And equal to the fixture chain the vectors were checked with.
    expect(ders![0]).toEqual(pemCerts(`${SNP}/amd_chains/${row.product.toLowerCase()}/${row.cert}.pem`)[0]);
  });

  it("parse and verify: ARK self-signed, ASK and ASVK under the ARK, AMD names, serials", async () => {
    const roots = await pinnedRoots();
    if (!roots.ok) throw new Error(roots.error.detail);
    expect(roots.value.map((r) => r.product)).toEqual([...SNP_PRODUCTS]);
    for (const r of roots.value) {
      expect([r.ark, r.ask, r.asvk].map((c) => commonName(c.subject))).toEqual([`ARK-${r.product}`, `SEV-${r.product}`, `SEV-VLEK-${r.product}`]);
      for (const [role, c] of [["ark", r.ark], ["ask", r.ask], ["asvk", r.asvk]] as const) {
        const row = table.find((t) => t.product === r.product && t.cert === role)!;
        expect(`0x${c.serialHex.replace(/^0+/, "")}`).toBe(row.serial);
      }
    }
    expect(await pinnedRoots()).toBe(await pinnedRoots());
  });

  it("isAmdName wants exactly the AMD location attributes and the CN", async () => {
    const roots = await pinnedRoots();
    if (!roots.ok) throw new Error(roots.error.detail);
    const name = roots.value[0]!.ask.subject;
    expect(isAmdName(name, "SEV-Milan")).toBe(true);
    expect(isAmdName(name, "SEV-Genoa")).toBe(false);
    const extra = new Map(name);
    extra.set("2.5.4.5", ["1"]);
    expect(isAmdName(extra, "SEV-Milan")).toBe(false);
    const twice = new Map(name);
    twice.set("2.5.4.10", ["Advanced Micro Devices", "Advanced Micro Devices"]);
    expect(isAmdName(twice, "SEV-Milan")).toBe(false);
    const other = new Map(name);
    other.set("2.5.4.7", ["Austin"]);
    expect(isAmdName(other, "SEV-Milan")).toBe(false);
  });
});
