/**
 * What `signet-agent helper` writes, as spiffe-helper writes it (pkg/disk), computed from Workload
 * API answers without touching the disk:
 *
 * - `svid_file_name`: the chosen SVID (by `hint`, else the first/default one), leaf then
 *   intermediates; with `add_intermediates_to_bundle` the leaf only;
 * - `svid_key_file_name`: its PKCS#8 key as a `PRIVATE KEY` PEM;
 * - `svid_bundle_file_name`: its trust domain's CAs (then the intermediates when moved there, then,
 *   with `include_federated_domains`, every other trust domain's CAs in sorted order);
 * - `omit_expired`: certificates already expired are left out of both certificate files;
 * - `jwt_bundle_file_name`: JSON `{"<trust domain>": "<base64 of its JWKS>"}`;
 * - each `jwt_svid_file_name`: the token (by `hint`, else the first).
 *
 * An answer is checked as `api fetch x509` checks it (chain verified against the bundle, key
 * matching the leaf) before anything is written: a set that does not verify is never written.
 */
import type { X509Certificate } from "node:crypto";
import { toBase64, toPem } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import type { FileToWrite } from "../node/files";
import type { JwtSvidEntry, X509SvidResponse } from "./api-messages";
import { checkX509Response } from "./api-x509";
import type { HelperConfig } from "./helper-config";

export interface X509Rendered {
  readonly spiffeId: string;
  readonly files: readonly FileToWrite[];
  /** The leaf's notAfter, ms. */
  readonly expiresAt: number;
}

function pem(certs: readonly X509Certificate[], omitExpired: boolean, now: number): string {
  return certs
    .filter((c) => !omitExpired || Date.parse(c.validTo) >= now)
    .map((c) => toPem("CERTIFICATE", c.raw))
    .join("");
}

function trustDomainOf(spiffeId: string): string {
  return spiffeId.slice("spiffe://".length).split("/")[0]!;
}

export function renderX509(config: HelperConfig, response: X509SvidResponse, now: number): Result<X509Rendered, string> {
  let checked;
  try {
    checked = checkX509Response(response);
  } catch (e) {
    return err((e as Error).message.replace(/^fetch x509: /, ""));
  }
  const svid = config.hint === "" ? checked.svids[0] : checked.svids.find((s) => s.hint === config.hint);
  if (!svid) return err(`no X.509-SVID with hint ${JSON.stringify(config.hint)} (the agent sent ${checked.svids.length})`);
  let certs = [...svid.certificates];
  const bundle = [...svid.bundle];
  if (config.addIntermediatesToBundle) {
    bundle.push(...certs.slice(1));
    certs = certs.slice(0, 1);
  }
  if (config.includeFederatedDomains) {
    const own = trustDomainOf(svid.spiffeId);
    for (const [td, cas] of checked.federated) if (trustDomainOf(td.startsWith("spiffe://") ? td : `spiffe://${td}`) !== own) bundle.push(...cas);
  }
  const files: FileToWrite[] = [
    { name: config.svidFileName, contents: pem(certs, config.omitExpired, now), mode: config.certFileMode },
    { name: config.svidKeyFileName, contents: toPem("PRIVATE KEY", svid.keyPkcs8), mode: config.keyFileMode },
    { name: config.svidBundleFileName, contents: pem(bundle, config.omitExpired, now), mode: config.certFileMode },
  ];
  return ok({ spiffeId: svid.spiffeId, files, expiresAt: Date.parse(svid.certificates[0]!.validTo) });
}

/** `{"example.org": base64(JWKS JSON)}`, keys sorted (Go's json.Marshal of a map). */
export function renderJwtBundles(config: HelperConfig, bundles: ReadonlyMap<string, Uint8Array>): FileToWrite {
  const out: Record<string, string> = {};
  const names = [...bundles.keys()].map((k) => [k.startsWith("spiffe://") ? k.slice("spiffe://".length) : k, k] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, key] of names) out[name] = toBase64(bundles.get(key)!);
  return { name: config.jwtBundleFileName, contents: JSON.stringify(out), mode: config.jwtBundleFileMode };
}

export function pickJwtSvid(config: HelperConfig, svids: readonly JwtSvidEntry[]): Result<JwtSvidEntry, string> {
  if (svids.length === 0) return err("the agent sent no JWT-SVID");
  const svid = config.hint === "" ? svids[0] : svids.find((s) => s.hint === config.hint);
  return svid ? ok(svid) : err(`no JWT-SVID with hint ${JSON.stringify(config.hint)}`);
}

/** A JWT's `exp` in ms (undefined when it does not decode). */
export function jwtExpiry(token: string): number | undefined {
  const part = token.split(".")[1];
  if (part === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** When to fetch a JWT-SVID again: half its remaining life plus a second (spiffe-helper's rule), at least 1 s. */
export function jwtRefreshDelay(expiresAt: number | undefined, now: number): number {
  if (expiresAt === undefined) return 60_000;
  return Math.max(1000, Math.floor((expiresAt - now) / 2) + 1000);
}
