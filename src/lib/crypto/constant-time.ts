/**
 * Compares two secrets in time independent of where they differ and of their lengths: both are
 * hashed first (SHA-256), then the digests are compared with a full XOR fold.
 */
import { utf8 } from "../encoding";

export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", utf8(a)), crypto.subtle.digest("SHA-256", utf8(b))]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}
