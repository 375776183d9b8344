/**
 * The certificate table of an SNP extended guest request (GHCB spec #56421 §4.1.8.1; specs/sev-snp.md
 * §2): entries of { GUID (16 bytes, mixed-endian as RFC 4122 text), offset u32 LE, length u32 LE },
 * terminated by an all-zero entry; offsets are from the start of the table. The guest hands this to
 * the verifier with its report, so air-gapped verification needs no KDS. Certificates from it are
 * endorsement candidates only: the verifier still checks them against the pinned AMD roots.
 */
import { err, ok, type Result } from "../../result";

export const CERT_TABLE_GUIDS = {
  vcek: "63da758d-e664-4564-adc5-f4b93be8accd",
  vlek: "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
  ask: "4ab7b379-bbac-4fe4-a02f-05aef327c782",
  ark: "c0b406a4-a803-4952-9743-3fb6014cd0ae",
} as const;

export interface CertTableError {
  readonly reason: "malformed_cert_table";
  readonly detail: string;
}

const ENTRY = 24;
const MAX_ENTRIES = 64;

function guidText(b: Uint8Array, o: number): string {
  const h = (i: number) => b[o + i]!.toString(16).padStart(2, "0");
  const le = (idx: number[]) => idx.map(h).join("");
  return `${le([3, 2, 1, 0])}-${le([5, 4])}-${le([7, 6])}-${le([8, 9])}-${le([10, 11, 12, 13, 14, 15])}`;
}

/** GUID (lowercase text) → entry bytes (views into `table`). Never throws. */
export function parseCertTable(table: Uint8Array): Result<Map<string, Uint8Array>, CertTableError> {
  const bad = (detail: string) => err<CertTableError>({ reason: "malformed_cert_table", detail });
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; ; i++) {
    const at = i * ENTRY;
    if (i >= MAX_ENTRIES) return bad(`more than ${MAX_ENTRIES} entries`);
    if (at + ENTRY > table.length) return bad("no terminating entry");
    let zero = true;
    for (let j = 0; j < ENTRY; j++) if (table[at + j] !== 0) zero = false;
    if (zero) break;
    const guid = guidText(table, at);
    const offset = view.getUint32(at + 16, true);
    const length = view.getUint32(at + 20, true);
    if (length === 0 || offset < (i + 1) * ENTRY || offset + length > table.length) return bad(`entry ${guid} points outside the table`);
    if (out.has(guid)) return bad(`duplicate entry ${guid}`);
    out.set(guid, table.subarray(offset, offset + length));
  }
  return ok(out);
}

/** Builds a table (for tests and for tools that package evidence). */
export function buildCertTable(entries: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  const header = (entries.length + 1) * ENTRY;
  const total = header + entries.reduce((n, [, b]) => n + b.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = header;
  entries.forEach(([guid, bytes], i) => {
    const hex = guid.replace(/-/g, "");
    const g = Array.from({ length: 16 }, (_, k) => parseInt(hex.slice(k * 2, k * 2 + 2), 16));
    const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    order.forEach((src, dst) => (out[i * ENTRY + dst] = g[src]!));
    view.setUint32(i * ENTRY + 16, offset, true);
    view.setUint32(i * ENTRY + 20, bytes.length, true);
    out.set(bytes, offset);
    offset += bytes.length;
  });
  return out;
}
