/**
 * TDX evidence as guest-components sends it (specs/kbs-protocol.md §3.4; Trustee
 * `deps/verifier/src/tdx/mod.rs`): `{"cc_eventlog": "<std base64 CCEL>" | null, "quote": "<std base64
 * TD quote v4/v5>"}`. The quote is decoded here and judged by the quote parser and the verifier.
 * The event log is accepted (a string, null or absent) but not read: nothing in the claims comes from
 * it, and it is not replayed against the RTMRs (a policy that needs event-log claims cannot be
 * written against this verifier yet).
 */
import { toBase64 } from "../../encoding";
import { ok, type Result } from "../../result";
import { decodeStdBase64, isJsonObject, malformedEvidence, type AttestationFailure } from "../verifier";

/** The largest quote accepted (a v4/v5 quote with its PCK chain is about 5 KB). */
export const MAX_QUOTE_BYTES = 1024 * 1024;
const MAX_QUOTE_BASE64 = Math.ceil(MAX_QUOTE_BYTES / 3) * 4;
/** Trustee's CCEL test data is 1 MiB; the log is not read, only bounded. */
const MAX_EVENT_LOG_BASE64 = 16 * 1024 * 1024;

/** The quote bytes of TDX evidence. Never throws. */
export function parseTdxEvidence(evidence: unknown): Result<Uint8Array, AttestationFailure> {
  if (!isJsonObject(evidence)) return malformedEvidence("TDX evidence is a JSON object");
  const quote = evidence.quote;
  if (typeof quote !== "string" || quote.length === 0 || quote.length > MAX_QUOTE_BASE64) return malformedEvidence(`TDX evidence: quote must be a non-empty base64 string of at most ${MAX_QUOTE_BYTES} bytes`);
  const log = evidence.cc_eventlog;
  if (log !== undefined && log !== null && (typeof log !== "string" || log.length > MAX_EVENT_LOG_BASE64)) return malformedEvidence("TDX evidence: cc_eventlog must be a base64 string or null");
  const bytes = decodeStdBase64(quote);
  return bytes ? ok(bytes) : malformedEvidence("TDX evidence: quote is not standard base64");
}

/** A quote in guest-components' JSON form (for tools and the CLI), without an event log. */
export function tdxEvidenceJson(quote: Uint8Array): { readonly cc_eventlog: null; readonly quote: string } {
  return { cc_eventlog: null, quote: toBase64(quote) };
}
