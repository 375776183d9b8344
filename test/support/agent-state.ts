/**
 * An in-memory AgentState (src/agent/state.ts) for the Workload API tests and benchmark, with real
 * trust material: an X.509 CA and an ES256 JWT key per trust domain (made with @peculiar/x509 and
 * WebCrypto), X.509-SVIDs issued under it, and JWT-SVIDs minted by src/lib's signer and cached per
 * (SPIFFE ID, sorted audiences) as the agent's cache does.
 */
import type { SpiffeId } from "../../src/lib/spiffe/id";
import { signJwtSvid } from "../../src/lib/spiffe/jwt-svid";
import type { AgentState, JwtSvid, StateChange, TrustBundle, X509Identity } from "../../src/agent/state";
import { x509 } from "./x509";

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;

export interface TrustDomainMaterial {
  readonly trustDomain: string;
  readonly ca: x509.X509Certificate;
  readonly caKeys: CryptoKeyPair;
  readonly jwtKey: CryptoKeyPair;
  readonly kid: string;
  readonly bundle: TrustBundle;
}

let serial = 1;

export async function trustDomainMaterial(trustDomain: string, now = Date.now()): Promise<TrustDomainMaterial> {
  const caKeys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    name: `CN=${trustDomain} test CA`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    keys: caKeys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${trustDomain}` }]),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const jwtKey = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const kid = `kid-${trustDomain}-${serial++}`;
  const pub = (await crypto.subtle.exportKey("jwk", jwtKey.publicKey)) as JsonWebKey;
  const bundle: TrustBundle = {
    trustDomain,
    x509Authorities: [new Uint8Array(ca.rawData)],
    jwks: { keys: [{ kty: "EC", kid, use: "jwt-svid", crv: pub.crv, x: pub.x, y: pub.y }] },
  };
  return { trustDomain, ca, caKeys, jwtKey, kid, bundle };
}

export interface IdentityInput {
  readonly spiffeId: string;
  readonly selectors: readonly string[];
  readonly hint?: string;
  readonly federatesWith?: readonly string[];
  readonly entryId?: string;
}

export async function issueIdentity(td: TrustDomainMaterial, input: IdentityInput, now = Date.now()): Promise<X509Identity> {
  const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const notAfter = now + 3_600_000;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    subject: "O=SPIRE",
    issuer: td.ca.subject,
    notBefore: new Date(now - 10_000),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: td.caKeys.privateKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: input.spiffeId }]),
    ],
  });
  return {
    entryId: input.entryId ?? `entry-${serial++}`,
    spiffeId: input.spiffeId,
    hint: input.hint ?? "",
    selectors: [...input.selectors],
    chain: [new Uint8Array(leaf.rawData)],
    privateKeyPkcs8: new Uint8Array((await crypto.subtle.exportKey("pkcs8", keys.privateKey)) as ArrayBuffer),
    expiresAt: notAfter,
    federatesWith: [...(input.federatesWith ?? [])],
  };
}

/** Subset match, as the agent's cache matches entry selectors against the caller's. */
function matches(identity: X509Identity, have: ReadonlySet<string>): boolean {
  return identity.selectors.every((s) => have.has(s));
}

export class MemoryAgentState implements AgentState {
  readonly trustDomain: string;
  #ready = true;
  #identities: X509Identity[] = [];
  #bundles = new Map<string, TrustBundle>();
  #listeners = new Set<(change: StateChange) => void>();
  #jwtCache = new Map<string, JwtSvid>();
  /** Set to make fetchJwtSvids reject (the server cannot be reached and nothing is cached). */
  jwtUnavailable = false;
  /** How many JWT-SVIDs were signed (not served from the cache). */
  jwtMinted = 0;

  constructor(readonly own: TrustDomainMaterial) {
    this.trustDomain = own.trustDomain;
    this.#bundles.set(own.trustDomain, own.bundle);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  setIdentities(identities: readonly X509Identity[]): void {
    this.#identities = [...identities];
    this.#emit("x509");
  }

  setBundle(bundle: TrustBundle): void {
    this.#bundles.set(bundle.trustDomain, bundle);
    this.#emit("bundles");
  }

  removeBundle(trustDomain: string): void {
    this.#bundles.delete(trustDomain);
    this.#emit("bundles");
  }

  /** Tells subscribers something changed without changing anything (streams must not resend). */
  touch(): void {
    this.#emit("x509");
  }

  #emit(change: StateChange): void {
    for (const l of [...this.#listeners]) l(change);
  }

  ready(): boolean {
    return this.#ready;
  }

  x509IdentitiesFor(callerSelectors: readonly string[]): readonly X509Identity[] {
    const have = new Set(callerSelectors);
    return this.#identities.filter((i) => matches(i, have));
  }

  bundles(): ReadonlyMap<string, TrustBundle> {
    return this.#bundles;
  }

  async fetchJwtSvids(callerSelectors: readonly string[], audiences: readonly string[], spiffeId?: string): Promise<readonly JwtSvid[]> {
    const identity = this.x509IdentitiesFor(callerSelectors).find((i) => spiffeId === undefined || i.spiffeId === spiffeId);
    if (!identity) return [];
    if (this.jwtUnavailable) throw new Error("server unreachable");
    const aud = [...new Set(audiences)].sort();
    const key = `${identity.spiffeId}\n${aud.join("\n")}`;
    const now = Date.now();
    const hit = this.#jwtCache.get(key);
    if (hit && hit.expiresAt - now > 150_000) return [hit];
    const issuedAt = Math.floor(now / 1000);
    const token = await signJwtSvid(this.own.jwtKey.privateKey, "ES256", this.own.kid, { spiffeId: identity.spiffeId as SpiffeId, audience: aud, issuedAt, expiresAt: issuedAt + 300 });
    this.jwtMinted++;
    const svid: JwtSvid = { spiffeId: identity.spiffeId, token, hint: identity.hint, expiresAt: (issuedAt + 300) * 1000 };
    this.#jwtCache.set(key, svid);
    return [svid];
  }

  subscribe(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** A JWT-SVID signed by a trust domain's key, for ValidateJWTSVID tests. */
export async function mintJwt(td: TrustDomainMaterial, spiffeId: string, audience: readonly string[], lifetimeSeconds = 300, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  return signJwtSvid(td.jwtKey.privateKey, "ES256", td.kid, { spiffeId: spiffeId as SpiffeId, audience, issuedAt: iat, expiresAt: iat + lifetimeSeconds });
}
