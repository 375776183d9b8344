/**
 * What the agent knows, as the Workload API reads it (issue 10). The sync loop (`sync.ts`) is the only
 * writer; the Workload API server (`workload/`) only reads and subscribes. Keys live in memory only.
 */

/** One X.509-SVID the agent holds for a registration entry. */
export interface X509Identity {
  readonly entryId: string;
  readonly spiffeId: string;
  /** The entry's hint (SPIFFE Workload API `X509SVID.hint`); "" when none. */
  readonly hint: string;
  /** The entry's workload selectors, `type:value`; a caller matches when these ⊆ its own selectors. */
  readonly selectors: readonly string[];
  /** DER certificates, leaf first. */
  readonly chain: readonly Uint8Array[];
  /** PKCS#8 DER of the SVID's private key. */
  readonly privateKeyPkcs8: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  /** Trust domain names (no scheme) the entry federates with. */
  readonly federatesWith: readonly string[];
}

export interface JwtSvid {
  readonly spiffeId: string;
  readonly token: string;
  readonly hint: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** Bundles keyed by trust domain name (no scheme): DER X.509 authorities and the JWT keys as a JWKS. */
export interface TrustBundle {
  readonly trustDomain: string;
  readonly x509Authorities: readonly Uint8Array[];
  /** JSON Web Key Set: `{ "keys": [ { kty, kid, use: "jwt-svid", … } ] }`. */
  readonly jwks: { readonly keys: readonly Record<string, unknown>[] };
}

export type StateChange = "x509" | "bundles";

export interface AgentState {
  /** The agent's own trust domain name. */
  readonly trustDomain: string;
  /** False until the first sync has completed (the Workload API answers Unavailable until then). */
  ready(): boolean;
  /** Every X.509 identity whose entry selectors are a subset of `callerSelectors`. */
  x509IdentitiesFor(callerSelectors: readonly string[]): readonly X509Identity[];
  /** The own trust domain's bundle and every federated bundle the agent holds. */
  bundles(): ReadonlyMap<string, TrustBundle>;
  /**
   * A JWT-SVID for one of the caller's identities (spiffeId, or the first matching when omitted),
   * cached per (SPIFFE ID, sorted audiences) until half its lifetime; undefined when the caller has no
   * such identity. Rejects when the server cannot be reached and nothing usable is cached.
   */
  fetchJwtSvids(callerSelectors: readonly string[], audiences: readonly string[], spiffeId?: string): Promise<readonly JwtSvid[]>;
  /**
   * Optional: a number that changes whenever anything the X.509 and bundle answers are composed from
   * changes (SVIDs, entries behind them, bundles). The Workload API keeps encoded answers per caller
   * selector set while it stays the same; a state without it has every answer composed afresh.
   */
  version?(): number;
  /** Called after every change of SVIDs or bundles; returns the unsubscribe function. */
  subscribe(listener: (change: StateChange) => void): () => void;
}
