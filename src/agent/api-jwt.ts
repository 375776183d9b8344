/**
 * `signet-agent api fetch jwt` and `api validate jwt`: output as spire-agent prints it, or as JSON
 * (protojson with proto field names: `fetch jwt` prints the JWTSVIDResponse and JWTBundlesResponse as
 * a two-element array, bundles base64 as bytes are in protojson; `validate jwt` the
 * ValidateJWTSVIDResponse).
 */
import { toBase64 } from "../lib/encoding";
import type { JwtSvidEntry, ValidateJwtSvidResponse } from "./api-messages";
import type { OutputFormat } from "./api-common";

function sortedEntries<T>(m: ReadonlyMap<string, T>): [string, T][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function formatFetchJwt(format: OutputFormat, svids: readonly JwtSvidEntry[], bundles: ReadonlyMap<string, Uint8Array>): string {
  if (format === "json") {
    const json = [
      { svids: svids.map((s) => ({ spiffe_id: s.spiffeId, svid: s.svid, hint: s.hint })) },
      { bundles: Object.fromEntries(sortedEntries(bundles).map(([td, jwks]) => [td, toBase64(jwks)])) },
    ];
    return `${JSON.stringify(json)}\n`;
  }
  let out = "";
  for (const s of svids) out += `token(${s.spiffeId}):\n\t${s.svid}\n`;
  for (const [td, jwks] of sortedEntries(bundles)) out += `bundle(${td}):\n\t${Buffer.from(jwks).toString("utf8")}\n`;
  return out;
}

export function formatValidateJwt(format: OutputFormat, resp: ValidateJwtSvidResponse): string {
  if (format === "json") return `${JSON.stringify({ spiffe_id: resp.spiffeId, claims: resp.claims })}\n`;
  return `SVID is valid.\nSPIFFE ID : ${resp.spiffeId}\nClaims    : ${JSON.stringify(resp.claims)}\n`;
}

/** `--audience a,b --audience c` → [a, b, c] (spire-agent takes a comma-separated list). */
export function audiences(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((a) => a.trim()).filter((a) => a !== "");
}
