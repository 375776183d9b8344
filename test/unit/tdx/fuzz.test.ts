/**
 * Fuzzing: 100,000 mutated quotes through the parser, and a smaller budget through full verification
 * (quotes and collateral files), with a seeded PRNG so failures reproduce. Nothing may throw; every
 * rejection carries a known code; anything accepted must be indistinguishable from the original.
 */
import { describe, expect, it } from "vitest";
import { parseTdxCollateral, type TdxCollateral } from "../../../src/lib/attestation/tdx/collateral";
import { parseTdxQuote } from "../../../src/lib/attestation/tdx/quote";
import { TdxVerifier } from "../../../src/lib/attestation/tdx/verify";
import { TDX_COLLATERAL_FILES } from "../../../src/lib/attestation/tdx/collateral";
import { mutate, prng } from "../x509/x509-test-kit";
import { CHECK_CODES, loadVector } from "./tdx-fixtures";

const BASES = ["automata-v4-00806f050000-col0625", "automata-v5-td15-90c06f-alibaba", "google-v4-50806f-spr-e4", "phala-v4-b0c06f-uptodate"].map((dir) => {
  const v = loadVector(dir);
  const q = parseTdxQuote(v.quote);
  if (!q.ok) throw new Error("fixture");
  return { dir, v, quote: v.quote.slice(0, q.value.end), signedEnd: q.value.signedData.length };
});

const KNOWN_CODES = new Set<string>([...Object.values(CHECK_CODES).flat(), "collateral_file_missing", "tcb_info_malformed", "qe_identity_malformed", "issuer_chain_malformed"]);

/** Offsets of the quote's type and length fields, to hit them with boundary values. */
function fieldOffsets(b: (typeof BASES)[number]): [number, 2 | 4][] {
  const s = b.signedEnd + 4;
  const c = s + 134;
  const fields: [number, 2 | 4][] = [[0, 2], [2, 2], [4, 4], [b.signedEnd, 4], [s + 128, 2], [s + 130, 4], [c + 448, 2], [c + 450 + 32, 2], [c + 452 + 32, 4]];
  if (b.signedEnd === 702) fields.push([48, 2], [50, 4]);
  return fields;
}

function fieldMutation(b: (typeof BASES)[number], rand: () => number): Uint8Array {
  const fields = fieldOffsets(b);
  const [at, size] = fields[Math.floor(rand() * fields.length)]!;
  const out = b.quote.slice();
  const view = new DataView(out.buffer);
  const current = size === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
  const max = size === 2 ? 0xffff : 0xffffffff;
  const choices = [0, 1, current - 1, current + 1, max, Math.floor(rand() * (max + 1)), out.length, out.length - at];
  const value = Math.min(max, Math.max(0, choices[Math.floor(rand() * choices.length)]!));
  if (size === 2) view.setUint16(at, value, true);
  else view.setUint32(at, value, true);
  return out;
}

/** Mutations concentrated on the structured part (header to QE auth data), 1–3 at a time. */
function structuredMutation(b: (typeof BASES)[number], rand: () => number): Uint8Array {
  const cut = b.signedEnd + 4 + 134 + 450 + 40;
  let head: Uint8Array = b.quote.subarray(0, cut);
  for (let k = 1 + Math.floor(rand() * 3); k > 0 && head.length > 0; k--) head = mutate(head, rand);
  const out = new Uint8Array(head.length + b.quote.length - cut);
  out.set(head);
  out.set(b.quote.subarray(cut), head.length);
  return out;
}

describe("fuzzing the quote parser", () => {
  it("100,000 mutated quotes: no exception, only known codes, sane bounds when accepted", () => {
    const rand = prng(0x7d0c);
    const seen = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      const b = BASES[i % BASES.length]!;
      const mode = rand();
      const input = mode < 0.4 ? structuredMutation(b, rand) : mode < 0.7 ? fieldMutation(b, rand) : mutate(b.quote, rand);
      const r = parseTdxQuote(input);
      const key = r.ok ? "ok" : r.error.reason;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (r.ok) {
        const q = r.value;
        if (q.end > input.length || q.signedData.length > q.end || q.pckChainPem.length === 0 || q.signature.length !== 64) throw new Error(`iteration ${i}: bounds`);
      } else if (!KNOWN_CODES.has(r.error.reason) || !r.error.detail) {
        throw new Error(`iteration ${i}: ${r.error.reason}`);
      }
    }
    // The mutations reach every structural check.
    for (const code of CHECK_CODES.QUOTE_FORMAT) expect(seen.get(code) ?? 0, code).toBeGreaterThan(0);
    expect(seen.get("ok") ?? 0).toBeGreaterThan(0);
  });
});

describe("fuzzing full verification", () => {
  const verifier = new TdxVerifier();

  async function baseline(b: (typeof BASES)[number]): Promise<{ collateral: TdxCollateral; claims: string | undefined }> {
    const c = await parseTdxCollateral(b.v.files);
    if (!c.ok) throw new Error("fixture");
    const r = await verifier.verify({ quote: b.quote, collateral: c.value, now: b.v.now });
    return { collateral: c.value, claims: r.ok ? JSON.stringify(r.value) : undefined };
  }

  it("5,000 mutated quotes with warm collateral: rejected with a known code, or verified unchanged", async () => {
    const rand = prng(0x51d);
    const bases = await Promise.all(BASES.map(baseline));
    for (let i = 0; i < 5000; i++) {
      const k = i % BASES.length;
      const b = BASES[k]!;
      const mode = rand();
      const input = mode < 0.5 ? structuredMutation(b, rand) : mode < 0.7 ? fieldMutation(b, rand) : mutate(b.quote, rand);
      const r = await verifier.verify({ quote: input, collateral: bases[k]!.collateral, now: b.v.now });
      if (r.ok) {
        expect(JSON.stringify(r.value), `iteration ${i}`).toBe(bases[k]!.claims);
      } else if (!KNOWN_CODES.has(r.error.reason)) {
        throw new Error(`iteration ${i}: ${r.error.reason}`);
      }
    }
  });

  it("700 mutated collateral files: rejected with a known code, or verified unchanged", async () => {
    const rand = prng(0xc011);
    const names = Object.values(TDX_COLLATERAL_FILES);
    const b = BASES[0]!;
    const base = await baseline(b);
    for (let i = 0; i < 700; i++) {
      const name = names[i % names.length]!;
      const files = { ...b.v.files, [name]: mutate(b.v.files[name]!, rand) };
      const c = await parseTdxCollateral(files);
      if (!c.ok) {
        if (!KNOWN_CODES.has(c.error.reason)) throw new Error(`iteration ${i}: ${c.error.reason}`);
        continue;
      }
      const r = await verifier.verify({ quote: b.quote, collateral: c.value, now: b.v.now });
      if (r.ok) expect(JSON.stringify(r.value), `iteration ${i} (${name})`).toBe(base.claims);
      else if (!KNOWN_CODES.has(r.error.reason)) throw new Error(`iteration ${i}: ${r.error.reason}`);
    }
  });
});
