/** FNV-1a, 32 bits, over a string's UTF-8 bytes: a fast non-cryptographic hash for spreading and tagging (never for secrets). */
import { utf8 } from "./encoding";

export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of utf8(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}
