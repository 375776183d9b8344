/**
 * What one caller is entitled to see, composed from the agent's state (pure: no I/O, no clock), as
 * SPIRE's Workload API handler composes it (pkg/agent/endpoints/workload/handler.go):
 * - its X.509-SVIDs, each with the own trust domain's authorities as `bundle`; of SVIDs with the same
 *   non-empty hint only the first (the standard: hints are unique within a response);
 * - federated bundles only for the trust domains its identities' entries federate with, and only
 *   while it has an identity;
 * - bundles keyed by the trust domain's SPIFFE ID (`spiffe://<td>`), X.509 ones as concatenated DER,
 *   JWT ones as a plain JWKS (no `use`, no spiffe_* members).
 */
import type { AgentState, TrustBundle, X509Identity } from "../state";
import type { X509SvidMessage } from "./messages";

export function trustDomainKey(trustDomain: string): string {
  return `spiffe://${trustDomain}`;
}

export function concatDer(certs: readonly Uint8Array[]): Buffer {
  return Buffer.concat(certs.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
}

/** The first of each non-empty hint; SVIDs without a hint are all kept. */
export function uniqueHints<T extends { readonly hint: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => {
    if (i.hint === "") return true;
    if (seen.has(i.hint)) return false;
    seen.add(i.hint);
    return true;
  });
}

export interface CallerView {
  readonly identities: readonly X509Identity[];
  /** The own trust domain's bundle (undefined only before the first bundle arrived). */
  readonly own: TrustBundle | undefined;
  /** Federated bundles the caller may see, by trust domain name. */
  readonly federated: ReadonlyMap<string, TrustBundle>;
}

export function callerView(state: AgentState, selectors: readonly string[]): CallerView {
  const identities = uniqueHints(state.x509IdentitiesFor(selectors));
  const all = state.bundles();
  const own = all.get(state.trustDomain);
  const federated = new Map<string, TrustBundle>();
  for (const identity of identities) {
    for (const td of identity.federatesWith) {
      if (td === state.trustDomain || federated.has(td)) continue;
      const bundle = all.get(td);
      if (bundle) federated.set(td, bundle);
    }
  }
  return { identities, own, federated };
}

export function x509Svids(view: CallerView): X509SvidMessage[] {
  const bundle = concatDer(view.own?.x509Authorities ?? []);
  return view.identities.map((i) => ({
    spiffeId: i.spiffeId,
    x509Svid: concatDer(i.chain),
    x509SvidKey: i.privateKeyPkcs8,
    bundle,
    hint: i.hint,
  }));
}

export function federatedX509Bundles(view: CallerView): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [td, b] of view.federated) out.set(trustDomainKey(td), concatDer(b.x509Authorities));
  return out;
}

/** Own trust domain first, then the federated ones the caller may see. */
function allBundles<T>(view: CallerView, render: (b: TrustBundle) => T): Map<string, T> {
  const out = new Map<string, T>();
  if (view.own) out.set(trustDomainKey(view.own.trustDomain), render(view.own));
  for (const [td, b] of view.federated) out.set(trustDomainKey(td), render(b));
  return out;
}

export function x509Bundles(view: CallerView): Map<string, Uint8Array> {
  return allBundles(view, (b) => concatDer(b.x509Authorities));
}

/** A standard JWKS: the keys without `use` (SPIRE's bundleutil.StandardJWKS). */
export function plainJwks(bundle: TrustBundle): { keys: Record<string, unknown>[] } {
  return { keys: bundle.jwks.keys.map(({ use: _use, ...rest }) => rest) };
}

export function jwtBundles(view: CallerView): Map<string, Uint8Array> {
  return allBundles(view, (b) => Buffer.from(JSON.stringify(plainJwks(b)), "utf8"));
}

/** The JWT authorities ValidateJWTSVID may use for this caller: own trust domain and its federated ones. */
export function jwtAuthorities(view: CallerView): ReadonlyMap<string, readonly Record<string, unknown>[]> {
  return allBundles(view, (b) => b.jwks.keys);
}
