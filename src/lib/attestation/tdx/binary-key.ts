/** Exact, compact Map keys for the verifier's caches. */
/** The bytes as a string of char codes 0–255: an exact, compact Map key. */
export function binaryKey(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}
