/** Reading the parts of a compact JWS that Signet verifies itself (attestation tokens, agent proofs). */
import { fromBase64, fromUtf8 } from "./encoding";

/** A JWS header or payload: base64url (no padding) of UTF-8 JSON that is an object; else undefined. Never throws. */
export function decodeJwsJsonPart(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  const bytes = fromBase64(part);
  const text = bytes ? fromUtf8(bytes) : undefined;
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
