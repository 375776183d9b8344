/** The only place Durable Object names are derived. */
import type { TrustDomain } from "../lib/spiffe/id";
import type { CertificateAuthority } from "./ca";

/** One certificate authority per trust domain. */
export function caFor(env: Env, trustDomain: TrustDomain): DurableObjectStub<CertificateAuthority> {
  const ns = env.CA as DurableObjectNamespace<CertificateAuthority>;
  return ns.get(ns.idFromName(`ca:${trustDomain}`));
}
