/**
 * A small bounded cache of what was computed from exact bytes (one or several byte strings, e.g. a
 * collateral set's files), for inputs that arrive again and again as fresh copies (a Durable Object's
 * RPC answer, a quote's PCK chain). Lookups hash nothing: the key is each part's length and 16 bytes
 * sampled across it, and a hit is confirmed by comparing every byte of every part, so a colliding
 * entry is just a miss. Entries own private copies of their bytes: whatever a caller later does to
 * its arrays cannot change a cached entry. Least recently used entries are evicted first.
 */
import { BoundedCache } from "../../bounded-cache";

const SAMPLES = 16;

interface Entry<V> {
  readonly parts: readonly Uint8Array[];
  readonly value: V;
}

export class BytesCache<V> {
  readonly #lru: BoundedCache<Entry<V>>;

  constructor(max: number) {
    this.#lru = new BoundedCache(max);
  }

  get size(): number {
    return this.#lru.size;
  }

  /** The value computed from exactly these bytes, if cached. */
  get(parts: readonly Uint8Array[]): V | undefined {
    const hit = this.#lru.get(keyOf(parts));
    if (!hit || hit.parts.length !== parts.length) return undefined;
    for (let i = 0; i < parts.length; i++) if (!sameBytes(hit.parts[i]!, parts[i]!)) return undefined;
    return hit.value;
  }

  /**
   * On a miss, copies the parts, runs `compute` on the copies and caches its value when `keep` says
   * so (e.g. successes only): a cached value is computed from bytes no caller holds.
   */
  getOrCompute(parts: readonly Uint8Array[], compute: (own: readonly Uint8Array[]) => V, keep: (v: V) => boolean): V {
    const hit = this.get(parts);
    if (hit !== undefined) return hit;
    const own = parts.map((p) => p.slice());
    const value = compute(own);
    if (keep(value)) this.#lru.set(keyOf(own), { parts: own, value });
    return value;
  }

  /** `getOrCompute` for an asynchronous computation (concurrent misses each compute). */
  async getOrComputeAsync(parts: readonly Uint8Array[], compute: (own: readonly Uint8Array[]) => Promise<V>, keep: (v: V) => boolean): Promise<V> {
    const hit = this.get(parts);
    if (hit !== undefined) return hit;
    const own = parts.map((p) => p.slice());
    const value = await compute(own);
    if (keep(value)) this.#lru.set(keyOf(own), { parts: own, value });
    return value;
  }
}

function keyOf(parts: readonly Uint8Array[]): string {
  let s = "";
  for (const p of parts) {
    s += `${p.length}:`;
    const step = Math.max(1, Math.floor(p.length / SAMPLES));
    for (let i = p.length - 1, n = 0; i >= 0 && n < SAMPLES; i -= step, n++) s += String.fromCharCode(p[i]!);
  }
  return s;
}

/**
 * Byte equality, four bytes at a time. An array that is not 4-byte aligned (a PCK chain inside a
 * quote) is copied first when that is cheaper than comparing it byte by byte.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  if (n >= 64) {
    if ((a.byteOffset & 3) !== 0) a = a.slice();
    if ((b.byteOffset & 3) !== 0) b = b.slice();
  }
  let i = 0;
  if ((a.byteOffset & 3) === 0 && (b.byteOffset & 3) === 0) {
    const words = n >>> 2;
    const x = new Int32Array(a.buffer, a.byteOffset, words);
    const y = new Int32Array(b.buffer, b.byteOffset, words);
    for (let w = 0; w < words; w++) if (x[w] !== y[w]) return false;
    i = words << 2;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
