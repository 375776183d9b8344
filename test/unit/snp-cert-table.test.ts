import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildCertTable, CERT_TABLE_GUIDS, parseCertTable } from "../../src/lib/attestation/collateral/snp-cert-table";
import { mutate, prng } from "./x509/x509-test-kit";

const vcek = new Uint8Array(readFileSync("test/fixtures/snp/gsg-milan-v2/vcek.der"));

describe("SNP extended report certificate table", () => {
  it("round-trips entries by GUID", () => {
    const ask = new Uint8Array([1, 2, 3]);
    const table = buildCertTable([
      [CERT_TABLE_GUIDS.vcek, vcek],
      [CERT_TABLE_GUIDS.ask, ask],
    ]);
    // The GUID's first field is little-endian on the wire.
    expect(Array.from(table.subarray(0, 4))).toEqual([0x8d, 0x75, 0xda, 0x63]);
    const parsed = parseCertTable(table);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.get(CERT_TABLE_GUIDS.vcek)).toEqual(vcek);
    expect(parsed.value.get(CERT_TABLE_GUIDS.ask)).toEqual(ask);
  });

  it.each([
    ["an empty buffer", new Uint8Array(0)],
    ["no terminator", buildCertTable([[CERT_TABLE_GUIDS.vcek, vcek]]).subarray(0, 24)],
    ["an offset past the end", (() => { const t = buildCertTable([[CERT_TABLE_GUIDS.vcek, vcek]]); new DataView(t.buffer).setUint32(20, 1e6, true); return t; })()],
    ["an entry pointing into the header", (() => { const t = buildCertTable([[CERT_TABLE_GUIDS.vcek, vcek]]); new DataView(t.buffer).setUint32(16, 0, true); return t; })()],
    ["duplicate GUIDs", buildCertTable([[CERT_TABLE_GUIDS.vcek, vcek], [CERT_TABLE_GUIDS.vcek, vcek]])],
  ])("rejects %s", (_name, table) => {
    expect(parseCertTable(table)).toMatchObject({ ok: false, error: { reason: "malformed_cert_table" } });
  });

  it("never throws on 20,000 mutated tables", () => {
    const table = buildCertTable([[CERT_TABLE_GUIDS.vcek, vcek], [CERT_TABLE_GUIDS.ark, vcek.subarray(0, 100)]]);
    const rand = prng(11);
    for (let i = 0; i < 20_000; i++) parseCertTable(mutate(table, rand));
  });
});
