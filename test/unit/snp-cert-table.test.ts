import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildCertTable, CERT_TABLE_GUIDS, parseCertTable } from "../../src/lib/attestation/collateral/snp-cert-table";
import { fromPemAll } from "../../src/lib/encoding";
import { commonName, parseCertificate } from "../../src/lib/x509/cert-reader";
import { hex, mutate, prng } from "./x509/x509-test-kit";

const FIXTURE = "test/fixtures/snp/gsg-milan-v2";
const vcek = new Uint8Array(readFileSync(`${FIXTURE}/vcek.der`));
const pemDer = (name: string) => fromPemAll(readFileSync(`${FIXTURE}/${name}`, "utf8"), "CERTIFICATE")![0]!;
const ask = pemDer("ask.pem");
const ark = pemDer("ark.pem");

/** The GUIDs as they are on the wire (GHCB spec: the first three fields little-endian). */
const WIRE_GUIDS = {
  vcek: "8d75da6364e66445adc5f4b93be8accd",
  ask: "79b3b74aacbbe44fa02f05aef327c782",
  ark: "a406b4c003a8524997433fb6014cd0ae",
} as const;

/** Subject and issuer CN of a DER certificate, as Signet's own reader sees them. */
function names(der: Uint8Array): [string | undefined, string | undefined] {
  const c = parseCertificate(der);
  if (!c.ok) throw new Error(`not a certificate: ${c.error.detail}`);
  return [commonName(c.value.subject), commonName(c.value.issuer)];
}

describe("SNP extended report certificate table", () => {
  it("lays out a VCEK, ASK and ARK table as the GHCB spec does, and parses it back entry by entry", () => {
    const table = buildCertTable([
      [CERT_TABLE_GUIDS.vcek, vcek],
      [CERT_TABLE_GUIDS.ask, ask],
      [CERT_TABLE_GUIDS.ark, ark],
    ]);
    const header = 4 * 24; // three entries and the all-zero terminator
    expect([vcek.length, ask.length, ark.length]).toEqual([1360, 1677, 1639]);
    expect(table.length).toBe(header + 1360 + 1677 + 1639);
    const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
    const entry = (i: number) => [hex(table.subarray(i * 24, i * 24 + 16)), view.getUint32(i * 24 + 16, true), view.getUint32(i * 24 + 20, true)];
    expect(entry(0)).toEqual([WIRE_GUIDS.vcek, header, 1360]);
    expect(entry(1)).toEqual([WIRE_GUIDS.ask, header + 1360, 1677]);
    expect(entry(2)).toEqual([WIRE_GUIDS.ark, header + 1360 + 1677, 1639]);
    expect(table.subarray(3 * 24, header).every((b) => b === 0)).toBe(true);

    const parsed = parseCertTable(table);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    expect([...parsed.value.keys()]).toEqual([CERT_TABLE_GUIDS.vcek, CERT_TABLE_GUIDS.ask, CERT_TABLE_GUIDS.ark]);
    // Each entry is a view of the table at its offset, not a copy.
    const at = (guid: string) => {
      const bytes = parsed.value.get(guid)!;
      return [bytes.buffer === table.buffer, bytes.byteOffset - table.byteOffset, bytes.length];
    };
    expect(at(CERT_TABLE_GUIDS.vcek)).toEqual([true, header, 1360]);
    expect(at(CERT_TABLE_GUIDS.ask)).toEqual([true, header + 1360, 1677]);
    expect(at(CERT_TABLE_GUIDS.ark)).toEqual([true, header + 1360 + 1677, 1639]);
    expect(hex(parsed.value.get(CERT_TABLE_GUIDS.vcek)!)).toBe(hex(vcek));
    expect(names(parsed.value.get(CERT_TABLE_GUIDS.vcek)!)).toEqual(["SEV-VCEK", "SEV-Milan"]);
    expect(names(parsed.value.get(CERT_TABLE_GUIDS.ask)!)).toEqual(["SEV-Milan", "ARK-Milan"]);
    expect(names(parsed.value.get(CERT_TABLE_GUIDS.ark)!)).toEqual(["ARK-Milan", "ARK-Milan"]);
  });

  it("parses a table written by hand (not by buildCertTable): unknown GUIDs kept, offsets honoured, padding ignored", () => {
    const other = "00112233445566778899aabbccddeeff"; // wire bytes of an unknown GUID
    const table = new Uint8Array(3 * 24 + 8 + vcek.length + 4);
    const view = new DataView(table.buffer);
    table.set(Buffer.from(WIRE_GUIDS.vcek, "hex"), 0);
    view.setUint32(16, 3 * 24 + 8, true); // 8 bytes of padding after the header
    view.setUint32(20, vcek.length, true);
    table.set(Buffer.from(other, "hex"), 24);
    view.setUint32(24 + 16, 3 * 24 + 8 + vcek.length, true);
    view.setUint32(24 + 20, 4, true);
    table.set(vcek, 3 * 24 + 8);
    table.set([0xde, 0xad, 0xbe, 0xef], 3 * 24 + 8 + vcek.length);

    const parsed = parseCertTable(table);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    expect([...parsed.value.keys()]).toEqual([CERT_TABLE_GUIDS.vcek, "33221100-5544-7766-8899-aabbccddeeff"]);
    expect(names(parsed.value.get(CERT_TABLE_GUIDS.vcek)!)).toEqual(["SEV-VCEK", "SEV-Milan"]);
    expect(hex(parsed.value.get("33221100-5544-7766-8899-aabbccddeeff")!)).toBe("deadbeef");
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

  it("20,000 mutated tables: each is rejected with a reason, or parses into entries that lie inside it and build back to the same table", () => {
    const table = buildCertTable([[CERT_TABLE_GUIDS.vcek, vcek], [CERT_TABLE_GUIDS.ark, vcek.subarray(0, 100)]]);
    const rand = prng(11);
    const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    let accepted = 0;
    let rejected = 0;
    let vcekIntact = 0;
    for (let i = 0; i < 20_000; i++) {
      const input = mutate(table, rand);
      const r = parseCertTable(input);
      if (!r.ok) {
        rejected++;
        expect(r.error.reason).toBe("malformed_cert_table");
        expect(r.error.detail.length).toBeGreaterThan(0);
        continue;
      }
      accepted++;
      const header = (r.value.size + 1) * 24;
      for (const [id, bytes] of r.value) {
        expect(id).toMatch(guid);
        expect(bytes.buffer).toBe(input.buffer);
        const offset = bytes.byteOffset - input.byteOffset;
        expect(bytes.length).toBeGreaterThan(0);
        expect(offset).toBeGreaterThanOrEqual(header);
        expect(offset + bytes.length).toBeLessThanOrEqual(input.length);
      }
      const rebuilt = parseCertTable(buildCertTable([...r.value]));
      expect(rebuilt.ok && [...rebuilt.value].map(([id, b]) => [id, hex(b)])).toEqual([...r.value].map(([id, b]) => [id, hex(b)]));
      const ek = r.value.get(CERT_TABLE_GUIDS.vcek);
      if (ek && hex(ek) === hex(vcek)) vcekIntact++;
    }
    // Both outcomes are common (seed 11: 12,888 accepted, 7,112 rejected); most mutations land in the
    // VCEK's 1,360 bytes, yet some accepted tables still carry it whole (999).
    expect(accepted + rejected).toBe(20_000);
    expect(accepted).toBeGreaterThan(5000);
    expect(rejected).toBeGreaterThan(5000);
    expect(vcekIntact).toBeGreaterThan(500);
  });
});
