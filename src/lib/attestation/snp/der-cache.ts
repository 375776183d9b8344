/**
 * A small bounded cache of verification results keyed by the exact DER they were computed from.
 * Lookups hash nothing: the key is the length and the last 32 bytes (inside the issuer's signature,
 * so effectively random), and a hit is confirmed by comparing every byte. A colliding entry is just
 * a miss. Least recently used entries are evicted first.
 */
import { bytesEqual } from "../../x509/der-reader";

export class DerCache<V extends { readonly der: Uint8Array }> {
  readonly #map = new Map<string, V>();
  readonly #max: number;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new TypeError("cache size must be a positive integer");
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  get(scope: string, der: Uint8Array): V | undefined {
    const key = keyOf(scope, der);
    const hit = this.#map.get(key);
    if (!hit || !bytesEqual(hit.der, der)) return undefined;
    this.#map.delete(key);
    this.#map.set(key, hit);
    return hit;
  }

  set(scope: string, value: V): void {
    const key = keyOf(scope, value.der);
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#map.delete(oldest.value);
    }
  }

  clear(): void {
    this.#map.clear();
  }
}

function keyOf(scope: string, der: Uint8Array): string {
  let s = `${scope}:${der.length}:`;
  for (let i = Math.max(0, der.length - 32); i < der.length; i++) s += String.fromCharCode(der[i]!);
  return s;
}
