/** The only place Durable Object names are derived. */
import type { TrustDomain } from "../lib/spiffe/id";
import type { CertificateAuthority } from "./ca";
import type { CollateralStore } from "./collateral";

/** One certificate authority per trust domain. */
export function caFor(env: Env, trustDomain: TrustDomain): DurableObjectStub<CertificateAuthority> {
  const ns = env.CA as DurableObjectNamespace<CertificateAuthority>;
  return ns.get(ns.idFromName(`ca:${trustDomain}`));
}

/** One collateral store per deployment: vendor collateral is the same for every trust domain. */
export function collateralStore(env: Env): DurableObjectStub<CollateralStore> {
  const ns = env.COLLATERAL as DurableObjectNamespace<CollateralStore>;
  return ns.get(ns.idFromName("collateral"));
}
