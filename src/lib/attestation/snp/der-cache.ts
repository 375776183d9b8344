/**
 * A small bounded cache of verification results keyed by the exact DER they were computed from.
 * Lookups hash nothing: the key is the length and the last 32 bytes (inside the issuer's signature,
 * so effectively random), and a hit is confirmed by comparing every byte. A colliding entry is just
 * a miss. Least recently used entries are evicted first.
 */
import { BoundedCache } from "../../bounded-cache";
import { bytesEqual } from "../../x509/der-reader";

export class DerCache<V extends { readonly der: Uint8Array }> {
  readonly #lru: BoundedCache<V>;

  constructor(max: number) {
    this.#lru = new BoundedCache(max);
  }

  get size(): number {
    return this.#lru.size;
  }

  get(scope: string, der: Uint8Array): V | undefined {
    const hit = this.#lru.get(keyOf(scope, der));
    return hit && bytesEqual(hit.der, der) ? hit : undefined;
  }

  set(scope: string, value: V): void {
    this.#lru.set(keyOf(scope, value.der), value);
  }
}

function keyOf(scope: string, der: Uint8Array): string {
  let s = `${scope}:${der.length}:`;
  for (let i = Math.max(0, der.length - 32); i < der.length; i++) s += String.fromCharCode(der[i]!);
  return s;
}
