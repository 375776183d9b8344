/**
 * The runtime-data binding of protocol 0.4.0 (since 2025-07-03): the primary evidence's report
 * data is H(JCS({"additional-evidence", "nonce", "tee-pubkey"})) followed by zeros, where JCS is
 * RFC 8785 canonical JSON (the `canonicalize` package; Trustee uses `serde_json_canonicalizer`),
 * `tee-pubkey` is the re-serialized typed key, and H the negotiated hash (sha384). The guest
 * computes the same bytes to ask its TEE for evidence, so both sides call this one function.
 */
import canonicalize from "canonicalize";
import { utf8 } from "../encoding";
import { digestWith, primaryRuntimeData, type HashAlgorithm, type RuntimeDataInput } from "./protocol";

/**
 * The exact text hashed: keys sorted at every level, no whitespace. Throws TypeError for a string
 * with a lone surrogate, which the wire schema refuses before this is reached (as serde_json does).
 */
export function runtimeDataText(runtimeData: RuntimeDataInput): string {
  let text: string | undefined;
  try {
    text = canonicalize(primaryRuntimeData(runtimeData));
  } catch (e) {
    throw new TypeError(`runtime data cannot be canonicalized: ${(e as Error).message}`, { cause: e });
  }
  if (text === undefined) throw new TypeError("runtime data cannot be canonicalized");
  return text;
}

/** H(JCS(runtime data)): the digest the evidence's report data must begin with (48 bytes for sha384). */
export async function expectedReportData(runtimeData: RuntimeDataInput, hash: HashAlgorithm): Promise<Uint8Array> {
  return digestWith(hash, utf8(runtimeDataText(runtimeData)));
}
