/**
 * A fake of Signet's agent API for the agent's unit tests: the Registry's cursor sync (no cursor or
 * an unknown one: a full sync; else the delta since the cursor's snapshot, removed ids on the first
 * page; pages in id order, each sync's pages from one snapshot), a real CA (lib/ca: the CSRs are parsed and their
 * signatures checked, the SVIDs are real DER) that can rotate, bundles, JWT-SVIDs, and injectable
 * faults per call.
 */
import type { Clock } from "../../../src/lib/clock";
import { toBase64, toBase64Url, utf8 } from "../../../src/lib/encoding";
import { err, ok, type Result } from "../../../src/lib/result";
import { buildCaCertificate, readCaCertificate } from "../../../src/lib/ca/ca-certificate";
import { issueX509Svids, type X509Issuer } from "../../../src/lib/ca/issue";
import { parseTrustDomain, type TrustDomain } from "../../../src/lib/spiffe/id";
import { decodeCsrText, parseAndVerifyCsr } from "../../../src/lib/x509/csr";
import type { AgentApi, AttestBody, ServerError, SyncInput } from "../../../src/agent/server-client";
import type { AgentSvidAnswer, BundlesAnswer, JwtSvidAnswer, SyncAnswer, WireEntry, X509PopChallengeAnswer, X509SvidsAnswer } from "../../../src/agent/wire";
import { x509 } from "../../support/x509";

export const TD = "example.org";
export const SERVER_ID = `spiffe://${TD}/signet/server`;
export const AGENT_ID = `spiffe://${TD}/signet/agent/tee/0123456789abcdef0123456789abcdef`;
const td = (parseTrustDomain(TD) as { value: TrustDomain }).value;

export type Method = "attest" | "renew" | "syncEntries" | "signX509Svids" | "signJwtSvid" | "bundles";
export type Fault = "unreachable" | "unavailable" | "garbage" | "unauthorized" | "banned" | "bad_request";

interface Ca {
  readonly issuer: X509Issuer;
  readonly der: Uint8Array;
}

async function makeCa(now: number, ttlMs: number): Promise<Ca> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  const notBefore = Math.floor(now / 1000) * 1000 - 60_000;
  const notAfter = Math.floor((now + ttlMs) / 1000) * 1000;
  const der = await buildCaCertificate({ trustDomain: td, keyType: "ec-p256", spki, privateKey: pair.privateKey, notBefore, notAfter });
  const info = await readCaCertificate(der, "ec-p256");
  if (!info.ok) throw new Error("test CA");
  return { der, issuer: { key: pair.privateKey, ca: info.value, notBefore, notAfter } };
}

export function entry(id: string, over: Partial<WireEntry> = {}): WireEntry {
  return {
    id,
    spiffe_id: `spiffe://${TD}/w/${id}`,
    parent_id: AGENT_ID,
    selectors: [{ type: "unix", value: `uid:${id.length}` }],
    x509_svid_ttl: 3600,
    jwt_svid_ttl: 300,
    federates_with: [],
    dns_names: [],
    admin: false,
    downstream: false,
    hint: "",
    expires_at: 0,
    revision_number: 0,
    created_at: 1_700_000_000,
    ...over,
  };
}

export class FakeAgentApi implements AgentApi {
  readonly clock: Clock;
  /** What the agent is authorized for (node entries included: the agent must ignore them). */
  readonly authorized = new Map<string, WireEntry>();
  /** `delta`: cursors are honoured; `full`: every sync is a full one (a server that lost its history). */
  mode: "delta" | "full" = "delta";
  readonly #snapshots = new Map<number, Map<string, WireEntry>>();
  /** Faults for the next calls of a method, used up in order. */
  readonly faults = new Map<Method, Fault[]>();
  /** Every call to a method fails this way while set. */
  readonly down = new Map<Method, Fault>();
  /** Per-entry refusals of the signing call (`entry_not_authorized`, …). */
  readonly refuseEntry = new Map<string, string>();
  readonly calls: { method: Method; body?: unknown }[] = [];
  reattestable = true;
  agentTtlMs = 3600_000;
  acceptsWaitMs = true;
  #cas: Ca[] = [];
  federated: Record<string, BundlesAnswer["bundle"]> = {};

  private constructor(clock: Clock) {
    this.clock = clock;
  }

  static async create(clock: Clock): Promise<FakeAgentApi> {
    const api = new FakeAgentApi(clock);
    api.#cas = [await makeCa(clock.now(), 7 * 86_400_000)];
    return api;
  }

  /** A new CA, published beside the old one; `dropOld` removes the others from the bundle. */
  async rotateCa(dropOld: boolean): Promise<void> {
    const next = await makeCa(this.clock.now(), 7 * 86_400_000);
    this.#cas = dropOld ? [next] : [...this.#cas, next];
  }

  get activeCa(): Ca {
    return this.#cas[this.#cas.length - 1]!;
  }

  /** The entries the agent should hold: authorized, not node entries, unexpired. */
  workloadSet(): Map<string, WireEntry> {
    const now = this.clock.now() / 1000;
    return new Map([...this.authorized].filter(([, e]) => e.parent_id !== SERVER_ID && (e.expires_at === 0 || e.expires_at > now)));
  }

  setCredential(): void {}

  #fault(method: Method): ServerError | undefined {
    const queued = this.faults.get(method)?.shift();
    const f = queued ?? this.down.get(method);
    if (!f) return undefined;
    const path = `/agent/v1/${method}`;
    switch (f) {
      case "unreachable":
        return { reason: "unreachable", detail: "connection refused", path };
      case "unavailable":
        return { reason: "unavailable", detail: "HTTP 503", path, status: 503 };
      case "garbage":
        return { reason: "bad_response", detail: "not JSON", path, status: 200 };
      case "unauthorized":
        return { reason: "refused", detail: "HTTP 401 agent_unauthorized", path, status: 401, code: "agent_unauthorized" };
      case "banned":
        return { reason: "refused", detail: "HTTP 403 agent_banned", path, status: 403, code: "agent_banned" };
      case "bad_request":
        return { reason: "refused", detail: "HTTP 400 invalid_request", path, status: 400, code: "invalid_request" };
    }
  }

  async #agentSvid(csr: string): Promise<Result<AgentSvidAnswer, ServerError>> {
    const parsed = await parseAndVerifyCsr(decodeCsrText(csr)!);
    if (!parsed.ok) return err({ reason: "refused", detail: "bad csr", path: "/agent/v1/attest", status: 400, code: "invalid_csr" });
    const now = this.clock.now();
    const publicKey = await crypto.subtle.importKey("spki", parsed.value.spki as Uint8Array<ArrayBuffer>, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const signer = this.activeCa;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: "01",
      subject: "O=agent",
      issuer: new x509.X509Certificate(signer.der).subject,
      notBefore: new Date(now - 10_000),
      notAfter: new Date(now + this.agentTtlMs),
      publicKey,
      signingKey: signer.issuer.key,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: AGENT_ID }])],
    });
    return ok({ spiffe_id: AGENT_ID, svid: [toBase64(new Uint8Array(cert.rawData))], expires_at: Math.floor((now + this.agentTtlMs) / 1000), bundle: this.#cas.map((c) => toBase64(c.der)), reattestable: this.reattestable });
  }

  async attest(body: AttestBody): Promise<Result<AgentSvidAnswer, ServerError>> {
    this.calls.push({ method: "attest", body });
    const f = this.#fault("attest");
    if (f) return err(f);
    return this.#agentSvid(body.csr);
  }

  async x509PopChallenge(): Promise<Result<X509PopChallengeAnswer, ServerError>> {
    return err({ reason: "refused", detail: "x509pop is not faked", path: "/agent/v1/attest", status: 400 });
  }

  async renew(csr: string): Promise<Result<AgentSvidAnswer, ServerError>> {
    this.calls.push({ method: "renew" });
    const f = this.#fault("renew");
    if (f) return err(f);
    return this.#agentSvid(csr);
  }

  async syncEntries(input: SyncInput): Promise<Result<SyncAnswer, ServerError>> {
    this.calls.push({ method: "syncEntries", body: input });
    const f = this.#fault("syncEntries");
    if (f) return err(f);
    if (input.waitMs !== undefined && !this.acceptsWaitMs) return err({ reason: "refused", detail: "HTTP 400 invalid_request: wait_ms", path: "/agent/v1/entries/sync", status: 400, code: "invalid_request" });
    const size = input.pageSize ?? 500;
    // A page token: [full?, the snapshot the sync started from, the cursor it started at, the last id sent].
    let token: { full: boolean; snapshot: number; since: number | undefined; after: string };
    if (input.pageToken !== undefined) {
      const t = JSON.parse(input.pageToken) as [boolean, number, number | null, string];
      token = { full: t[0], snapshot: t[1], since: t[2] ?? undefined, after: t[3] };
    } else {
      const since = input.cursor !== undefined && this.mode === "delta" ? Number(input.cursor.slice(1)) : undefined;
      const usable = since !== undefined && this.#snapshots.has(since);
      this.#snapshots.set(this.#snapshots.size, this.#live());
      token = { full: !usable, snapshot: this.#snapshots.size - 1, since: usable ? since : undefined, after: "" };
    }
    const now = this.#snapshots.get(token.snapshot)!;
    let candidates: WireEntry[];
    let removed: string[] = [];
    if (token.full) candidates = [...now.values()];
    else {
      const before = this.#snapshots.get(token.since!)!;
      candidates = [...now.values()].filter((e) => before.get(e.id)?.revision_number !== e.revision_number);
      if (token.after === "") removed = [...before.keys()].filter((id) => !now.has(id)).sort();
    }
    const pending = candidates.filter((e) => e.id > token.after).sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = pending.slice(0, size);
    const more = pending.length > page.length;
    return ok({
      full: token.full,
      entries: page,
      removed,
      next_page_token: more ? JSON.stringify([token.full, token.snapshot, token.since ?? null, page[page.length - 1]!.id]) : null,
      cursor: more ? null : `c${token.snapshot}`,
    });
  }

  /** The authorized set now (unexpired; node entries included, as a careless server would send them). */
  #live(): Map<string, WireEntry> {
    const now = this.clock.now() / 1000;
    return new Map([...this.authorized].filter(([, e]) => e.expires_at === 0 || e.expires_at > now));
  }

  async signX509Svids(requests: readonly { readonly entry_id: string; readonly csr: string }[]): Promise<Result<X509SvidsAnswer, ServerError>> {
    this.calls.push({ method: "signX509Svids", body: requests });
    const f = this.#fault("signX509Svids");
    if (f) return err(f);
    if (requests.length > 500) return err({ reason: "refused", detail: "too many", path: "/agent/v1/svids/x509", status: 400 });
    const live = this.workloadSet();
    const results: X509SvidsAnswer["results"] = [];
    for (const r of requests) {
      const e = live.get(r.entry_id);
      const refused = this.refuseEntry.get(r.entry_id);
      if (!e || refused) {
        results.push({ entry_id: r.entry_id, status: refused ?? "entry_not_authorized", detail: "refused" });
        continue;
      }
      const [issued] = await issueX509Svids(this.activeCa.issuer, [{ spiffeId: e.spiffe_id, csr: decodeCsrText(r.csr)!, ttlSeconds: e.x509_svid_ttl || 3600, dnsNames: e.dns_names }], { trustDomain: td, maxTtlSeconds: 30 * 86400, now: this.clock.now() });
      if (!issued!.ok) results.push({ entry_id: r.entry_id, status: issued!.error.reason, detail: issued!.error.detail });
      else results.push({ entry_id: r.entry_id, status: "ok", svid: issued!.value.certChain.map((c) => toBase64(c)), expires_at: issued!.value.expiresAt });
    }
    return ok({ results });
  }

  async signJwtSvid(entryId: string, audience: readonly string[]): Promise<Result<JwtSvidAnswer, ServerError>> {
    this.calls.push({ method: "signJwtSvid", body: { entryId, audience } });
    const f = this.#fault("signJwtSvid");
    if (f) return err(f);
    const e = this.workloadSet().get(entryId);
    if (!e) return err({ reason: "refused", detail: "HTTP 403 entry_not_authorized", path: "/agent/v1/svids/jwt", status: 403, code: "entry_not_authorized" });
    const iat = Math.floor(this.clock.now() / 1000);
    const exp = iat + (e.jwt_svid_ttl || 300);
    const part = (o: unknown) => toBase64Url(utf8(JSON.stringify(o)));
    const token = `${part({ alg: "ES256", kid: "k", typ: "JWT" })}.${part({ sub: e.spiffe_id, aud: audience, iat, exp, n: this.calls.length })}.c2ln`;
    return ok({ spiffe_id: e.spiffe_id, token, expires_at: exp });
  }

  async bundles(): Promise<Result<BundlesAnswer, ServerError>> {
    this.calls.push({ method: "bundles" });
    const f = this.#fault("bundles");
    if (f) return err(f);
    const keys = this.#cas.map((c) => ({ use: "x509-svid", kty: "EC", crv: "P-256", x: "x", y: "y", x5c: [toBase64(c.der)] }));
    return ok({ trust_domain: TD, bundle: { keys: [...keys, { use: "jwt-svid", kty: "EC", kid: "k1", crv: "P-256", x: "x", y: "y" }], spiffe_sequence: this.#cas.length, spiffe_refresh_hint: 300 }, federated: this.federated });
  }

  /** The DER of every CA in the bundle. */
  authorities(): Uint8Array[] {
    return this.#cas.map((c) => c.der);
  }
}
