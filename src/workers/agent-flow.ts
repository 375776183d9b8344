/**
 * Node attestation and agent authentication (issue 9, spec §2.5–2.6): how an agent gets its agent
 * SVID (`join_token`, or `tee` with the key broker's attestation token), renews it, and proves it
 * holds it on every agent-API call. The CSR is checked here (as SPIRE's API layer does); the CA object
 * receives only the validated SPIFFE ID, public key and TTL.
 */
import { caFor, proofGuardFor, registryFor, sessionFor } from "../durable/addresses";
import type { Agent, AttestationType } from "../durable/registry-agents";
import type { Config } from "../lib/config";
import { fromBase64, toBase64, toHex } from "../lib/encoding";
import { verifyX509PopChain, verifyX509PopResponse, x509PopChallenge as x509PopChallengeJson, x509PopIdentity, X509POP_NONCE_BYTES } from "../lib/node-attestation/x509pop";
import { csrKeyIsBound, teeNodeIdentity } from "../lib/node-attestation/tee";
import { joinTokenAgentId, parseJoinToken } from "../lib/registry/ids";
import { spiffeIdFromParts } from "../lib/spiffe/id";
import { spiffeBundleDocument } from "../lib/spiffe/bundle";
import { SYNC_PAGE_SIZE } from "../lib/registry/sync";
import { verifyAgentProof } from "../lib/spiffe/agent-proof";
import { decodeCsrText, parseAndVerifyCsr } from "../lib/x509/csr";
import { packedCertificate } from "../lib/ca/issue";
import { parseCertificate } from "../lib/x509/cert-reader";
import { verifyOwnAttestationToken } from "./kbs-flow";
import { toWireEntry } from "./schemas/admin-entries";
import { caUnavailable } from "./do-errors";
import { AppError } from "./errors";
import type { AuthenticatedAgent } from "./context";

export interface AgentFlowContext {
  readonly env: Env;
  readonly config: Config;
  readonly requestId: string;
  readonly now: number;
  /** The peer as the Worker saw it (CF-Connecting-IP). */
  readonly client: string;
  /** The OIDC issuer (`iss`) of JWT-SVIDs minted for this request. */
  readonly issuer: string;
}

export interface AgentSvid {
  readonly spiffe_id: string;
  readonly svid: string[];
  readonly expires_at: number;
  readonly bundle: string[];
  readonly reattestable: boolean;
}

const ATTESTATION_FAILED = "Node attestation failed.";

function log(ctx: AgentFlowContext, event: Record<string, unknown>): void {
  console.warn(JSON.stringify({ requestId: ctx.requestId, component: "agent", ...event }));
}

function refuse(ctx: AgentFlowContext, reason: string, detail?: string): AppError {
  log(ctx, { refused: reason, ...(detail ? { detail } : {}) });
  return new AppError("attestation_failed", ATTESTATION_FAILED, { internal: reason });
}

/** A CSR checked at the edge: its signature verifies with its own key; only that key is used. */
async function csrKey(text: string): Promise<Uint8Array> {
  const der = decodeCsrText(text);
  if (!der) throw new AppError("invalid_csr", "csr must be PEM or base64 DER (PKCS#10).");
  const csr = await parseAndVerifyCsr(der);
  if (!csr.ok) throw new AppError(csr.error.reason === "bad_csr_signature" ? "bad_csr_signature" : "invalid_csr", `The CSR is not acceptable (${csr.error.reason}).`);
  return csr.value.spki;
}

async function mintAgentSvid(ctx: AgentFlowContext, spiffeId: string, spki: Uint8Array): Promise<{ der: Uint8Array; expiresAt: number; bundle: string[]; serial: string }> {
  const ca = caFor(ctx.env, ctx.config.trustDomain);
  const signed = await ca.signX509Svids({ requests: [{ spiffeId, publicKey: spki, ttlSeconds: ctx.config.defaultX509SvidTtl }] });
  if (!signed.ok) throw caUnavailable(signed.error);
  const item = signed.value.items[0]!;
  if (!item.ok) throw new AppError("internal_error", "An internal error occurred.", { internal: `agent SVID refused: ${item.error.detail}` });
  const der = packedCertificate(signed.value, item).slice();
  const bundle = await ca.getTrustBundle();
  if (!bundle.ok) throw caUnavailable(bundle.error);
  const parsed = parseCertificate(der);
  if (!parsed.ok) throw new AppError("internal_error", "An internal error occurred.", { internal: "the CA returned an unreadable SVID" });
  return { der, expiresAt: item.expiresAt, bundle: bundle.value.keys.filter((k) => k.use === "x509-svid").map((k) => k.x5c![0]!), serial: parsed.value.serialHex };
}

/** How long an x509pop challenge may be answered (SPIRE answers within one stream). */
export const X509POP_CHALLENGE_SECONDS = 60;

export interface X509PopChallengeAnswer {
  readonly challenge_id: string;
  readonly challenge: Record<string, unknown>;
}

async function chainDigest(certificates: readonly string[]): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(certificates));
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/**
 * POST /agent/v1/attest, x509pop step 1 (spec §2.6): the chain must lead to a configured anchor;
 * the answer is a single-use challenge for the leaf's key, bound to this exact chain.
 */
export async function x509PopChallenge(ctx: AgentFlowContext, certificates: readonly string[]): Promise<X509PopChallengeAnswer> {
  const anchors = ctx.config.x509popTrustAnchors;
  if (anchors.length === 0) throw new AppError("attestation_method_disabled", "x509pop node attestation is not configured on this server (X509POP_CA_BUNDLE).");
  const chain = await verifyX509PopChain({ certificates }, anchors, ctx.now);
  if (!chain.ok) throw refuse(ctx, chain.error.reason, chain.error.detail);
  const challengeId = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const nonce = crypto.getRandomValues(new Uint8Array(X509POP_NONCE_BYTES));
  const stored = await sessionFor(ctx.env, challengeId).issueChallenge({
    id: challengeId,
    tee: "x509pop",
    nonce: toBase64(nonce),
    hashAlgorithm: "sha256",
    policyId: "",
    client: ctx.client,
    now: ctx.now,
    expiresAt: ctx.now + X509POP_CHALLENGE_SECONDS * 1000,
    boundTo: await chainDigest(certificates),
  });
  if (!stored.ok) throw new AppError("service_overloaded", "Too many attestations are in progress; retry later.", { headers: { "Retry-After": "1" }, internal: stored.error.reason });
  return { challenge_id: challengeId, challenge: x509PopChallengeJson(chain.value.key, nonce) };
}

/** x509pop step 2: the challenge (taken once), the same chain, still valid, and the leaf key's signature. */
async function x509PopAttested(ctx: AgentFlowContext, body: { challenge_id: string; certificates: string[]; response: unknown }) {
  const taken = await sessionFor(ctx.env, body.challenge_id).consumeChallenge({ id: body.challenge_id, now: ctx.now });
  if (!taken.ok) throw refuse(ctx, `x509pop_${taken.error.reason}`);
  const challenge = taken.value;
  if (challenge.tee !== "x509pop" || challenge.boundTo !== (await chainDigest(body.certificates))) throw refuse(ctx, "x509pop_challenge_mismatch");
  const chain = await verifyX509PopChain({ certificates: body.certificates }, ctx.config.x509popTrustAnchors, ctx.now);
  if (!chain.ok) throw refuse(ctx, chain.error.reason, chain.error.detail);
  const answered = await verifyX509PopResponse(chain.value, fromBase64(challenge.nonce)!, body.response);
  if (!answered.ok) throw refuse(ctx, answered.error.reason, answered.error.detail);
  return x509PopIdentity(chain.value, ctx.config.trustDomain);
}

export type AttestBody =
  | { type: "join_token"; token: string; csr: string }
  | { type: "tee"; attestation_token: string; csr: string }
  | { type: "x509pop_response"; challenge_id: string; certificates: string[]; response: unknown; csr: string };

/** POST /agent/v1/attest: the final step of every method, answered with the agent SVID. */
export async function attestAgent(ctx: AgentFlowContext, body: AttestBody): Promise<AgentSvid> {
  const spki = await csrKey(body.csr);
  const registry = registryFor(ctx.env, ctx.config.trustDomain);
  let spiffeId: string;
  let selectors: readonly string[] = [];
  let type: AttestationType;
  let reattestable: boolean;
  if (body.type === "x509pop_response") {
    const identity = await x509PopAttested(ctx, body);
    const id = spiffeIdFromParts(ctx.config.trustDomain, identity.agentPath);
    if (!id.ok) throw refuse(ctx, "agent_id_invalid", id.error.detail);
    spiffeId = id.value;
    selectors = identity.selectors;
    type = "x509pop";
    reattestable = true;
  } else if (body.type === "join_token") {
    const token = parseJoinToken(body.token);
    if (!token.ok) throw refuse(ctx, "join_token_malformed");
    // SPIRE: fetched and deleted in one step, then the expiry is checked.
    const used = await registry.consumeJoinToken({ token: token.value, now: ctx.now });
    if (!used.ok) throw refuse(ctx, used.error.reason);
    spiffeId = joinTokenAgentId(ctx.config.trustDomain, token.value);
    type = "join_token";
    reattestable = false;
  } else {
    const verified = await verifyOwnAttestationToken(ctx, body.attestation_token);
    if (!verified.ok) throw refuse(ctx, verified.error.reason);
    const identity = await teeNodeIdentity(verified.value);
    if (!identity.ok) throw refuse(ctx, identity.error.reason, identity.error.detail);
    const bound = await csrKeyIsBound(verified.value, spki);
    if (!bound.ok) throw refuse(ctx, bound.error.reason);
    const id = spiffeIdFromParts(ctx.config.trustDomain, identity.value.agentPath);
    if (!id.ok) throw refuse(ctx, "agent_id_invalid", id.error.detail);
    spiffeId = id.value;
    selectors = identity.value.selectors;
    type = "tee";
    reattestable = true;
  }
  const svid = await mintAgentSvid(ctx, spiffeId, spki);
  const registered = await registry.registerAgent({ spiffeId, attestationType: type, selectors, svidSerial: svid.serial, svidExpiresAt: svid.expiresAt * 1000, canReattest: reattestable, now: ctx.now });
  if (!registered.ok) {
    if (registered.error.reason === "agent_banned") throw new AppError("agent_banned", "This agent is banned.");
    throw new AppError("internal_error", "An internal error occurred.", { internal: registered.error.detail });
  }
  log(ctx, { attested: spiffeId, type, selectors: selectors.length });
  return { spiffe_id: spiffeId, svid: [toBase64(svid.der)], expires_at: svid.expiresAt, bundle: svid.bundle, reattestable };
}

/** POST /agent/v1/renew: a new agent SVID for an authenticated agent (compare-and-set on its serial). */
export async function renewAgentSvid(ctx: AgentFlowContext, agent: AuthenticatedAgent, csr: string): Promise<AgentSvid> {
  const spki = await csrKey(csr);
  const svid = await mintAgentSvid(ctx, agent.spiffeId, spki);
  const renewed = await registryFor(ctx.env, ctx.config.trustDomain).renewAgent({ spiffeId: agent.spiffeId, oldSerial: agent.svidSerial, newSerial: svid.serial, newExpiresAt: svid.expiresAt * 1000, now: ctx.now });
  if (!renewed.ok) throw new AppError("agent_unauthorized", "The agent SVID is not the current one.", { internal: renewed.error.reason });
  return { spiffe_id: agent.spiffeId, svid: [toBase64(svid.der)], expires_at: svid.expiresAt, bundle: svid.bundle, reattestable: renewed.value.canReattest };
}

/** The trust domain's X.509 authorities, cached in the isolate for a short while (every agent call needs them). */
const authorityCache = new Map<string, { authorities: readonly Uint8Array[]; fetchedAt: number }>();
const AUTHORITY_CACHE_MS = 30_000;
/** An unknown issuer refetches at most this often (a flood of forged proofs stays in the cache). */
const AUTHORITY_REFETCH_MS = 2_000;

async function x509Authorities(ctx: AgentFlowContext, refresh: boolean): Promise<readonly Uint8Array[]> {
  const cached = authorityCache.get(ctx.config.trustDomain);
  const age = cached ? ctx.now - cached.fetchedAt : Infinity;
  if (cached && age >= 0 && age < (refresh ? AUTHORITY_REFETCH_MS : AUTHORITY_CACHE_MS)) return cached.authorities;
  const bundle = await caFor(ctx.env, ctx.config.trustDomain).getTrustBundle();
  if (!bundle.ok) throw caUnavailable(bundle.error);
  const authorities = bundle.value.keys.filter((k) => k.use === "x509-svid").map((k) => fromBase64(k.x5c![0]!)!);
  authorityCache.set(ctx.config.trustDomain, { authorities, fetchedAt: ctx.now });
  return authorities;
}

/*
 * An agent-API call is authenticated in two steps: its proof (header `Signet-Agent-Proof`) verifies,
 * so the agent SVID chains to the current bundle and the proof covers this method, path and body and
 * is fresh (verifyAgentCallProof); then it is admitted, the proof unused and the agent known, not
 * banned, presenting the SVID recorded for it (admitAgentCall).
 */
/** A call whose proof verified (signature, SVID chain, request binding, freshness), not yet admitted. */
export interface ProvenCall {
  readonly agentId: string;
  readonly svidSerial: string;
  readonly jti: string;
  readonly expiresAt: number;
  readonly body: Uint8Array;
}

/** The proof's own checks: crypto and the bundle only, no object asked. */
export async function verifyAgentCallProof(ctx: AgentFlowContext, proof: string | undefined, method: string, path: string, body: Uint8Array): Promise<ProvenCall> {
  if (!proof) throw new AppError("agent_unauthorized", "An agent proof is required (Signet-Agent-Proof).");
  const check = async (refresh: boolean) =>
    verifyAgentProof({ proof, method, path, body, now: ctx.now, authorities: await x509Authorities(ctx, refresh), trustDomain: ctx.config.trustDomain });
  let verified = await check(false);
  // A CA published since the isolate cached the bundle: look once more.
  if (!verified.ok && verified.error.reason === "svid_untrusted") verified = await check(true);
  if (!verified.ok) {
    log(ctx, { refused: verified.error.reason, detail: verified.error.detail });
    throw new AppError("agent_unauthorized", "The agent proof is not valid.", { internal: verified.error.reason });
  }
  const { agentId, svidSerial, jti, expiresAt } = verified.value;
  return { agentId, svidSerial, jti, expiresAt, body };
}

/** Admits a proven call: its proof not seen before, the agent known, not banned, presenting the SVID recorded for it. */
export async function admitAgentCall(ctx: AgentFlowContext, proven: ProvenCall): Promise<AuthenticatedAgent> {
  // The replay guard and the registry's check are independent: both asked at once.
  const [fresh, agent] = await Promise.all([
    proofGuardFor(ctx.env, proven.agentId).rememberProof({ jti: proven.jti, expiresAt: proven.expiresAt, now: ctx.now }),
    registryFor(ctx.env, ctx.config.trustDomain).authenticateAgent({ spiffeId: proven.agentId, svidSerial: proven.svidSerial }),
  ]);
  if (!fresh.ok) throw new AppError("agent_unauthorized", "The agent proof is not valid.", { internal: "proof_replayed" });
  if (!agent.ok) {
    if (agent.error.reason === "agent_banned") throw new AppError("agent_banned", "This agent is banned.");
    throw new AppError("agent_unauthorized", "The agent proof is not valid.", { internal: agent.error.reason });
  }
  return { spiffeId: proven.agentId, svidSerial: proven.svidSerial, selectors: agentSelectors(agent.value), body: proven.body };
}

function agentSelectors(agent: Agent): string[] {
  return agent.selectors.map((s) => `${s.type}:${s.value}`);
}

/**
 * POST /agent/v1/entries/sync: the agent's authorized entries, in full or as the changes since its
 * cursor (lib/registry/sync.ts), in pages; with `wait_ms`, an idle delta waits for the next change.
 */
export async function syncEntries(ctx: AgentFlowContext, agent: AuthenticatedAgent, body: { cursor?: string; page_token?: string; page_size?: number; wait_ms?: number }) {
  const r = await registryFor(ctx.env, ctx.config.trustDomain).syncAuthorizedEntries({
    agentId: agent.spiffeId,
    pageSize: body.page_size ?? SYNC_PAGE_SIZE,
    ...(body.cursor ? { cursor: body.cursor } : {}),
    ...(body.page_token ? { pageToken: body.page_token } : {}),
    ...(body.wait_ms ? { waitMs: body.wait_ms } : {}),
    now: ctx.now,
  });
  if (!r.ok) {
    if (r.error.reason === "invalid_page_token") throw new AppError("invalid_page_token", "page_token is not one this server handed out for this agent.");
    throw agentFailure(r.error.reason);
  }
  const page = r.value;
  return { full: page.full, entries: page.entries.map(toWireEntry), removed: page.removed, next_page_token: page.nextPageToken ?? null, cursor: page.cursor ?? null };
}

function agentFailure(reason: string): AppError {
  return reason === "agent_banned" ? new AppError("agent_banned", "This agent is banned.") : new AppError("agent_unauthorized", "The agent is not known.", { internal: reason });
}

/**
 * POST /agent/v1/svids/x509: one X.509-SVID per request, each for an entry the agent is authorized for
 * (checked here, with each CSR's signature, as SPIRE's API layer does); the CA signs only the validated
 * {SPIFFE ID, public key, TTL, DNS names}. Each request gets its own result.
 */
export async function signAgentX509Svids(ctx: AgentFlowContext, proven: ProvenCall, admission: Promise<AuthenticatedAgent>, requests: { entry_id: string; csr: string }[]) {
  // Once the proof itself verified, the admission (replay guard, registry), the registry's
  // authorization and this isolate's CSR checks (pure work, nothing written) run at once: the CSRs
  // are checked while the objects answer. Nothing is signed unless all three passed.
  const [, authorized, csrs] = await Promise.all([
    admission,
    registryFor(ctx.env, ctx.config.trustDomain).authorizeEntries({ agentId: proven.agentId, entryIds: requests.map((r) => r.entry_id), now: ctx.now }),
    Promise.all(requests.map(async (r) => {
      const der = decodeCsrText(r.csr);
      return der ? parseAndVerifyCsr(der) : undefined;
    })),
  ]);
  if (!authorized.ok) throw agentFailure(authorized.error.reason);
  const byId = new Map(authorized.value.entries.map((e) => [e.id, e]));
  type Prepared = { index: number; entryId: string; request: { spiffeId: string; publicKey: Uint8Array; ttlSeconds: number; dnsNames: string[] } };
  const results: Record<string, unknown>[] = new Array(requests.length);
  const prepared: Prepared[] = [];
  requests.forEach((r, index) => {
    const entry = byId.get(r.entry_id);
    if (!entry) {
      results[index] = { entry_id: r.entry_id, status: "entry_not_authorized", detail: "no entry with this id is authorized for this agent" };
      return;
    }
    const csr = csrs[index];
    if (!csr?.ok) {
      results[index] = { entry_id: r.entry_id, status: csr && csr.error.reason === "bad_csr_signature" ? "bad_csr_signature" : "invalid_csr", detail: "the CSR is not acceptable" };
      return;
    }
    prepared.push({ index, entryId: r.entry_id, request: { spiffeId: entry.spiffeId, publicKey: csr.value.spki, ttlSeconds: entry.x509SvidTtl || ctx.config.defaultX509SvidTtl, dnsNames: [...entry.dnsNames] } });
  });
  if (prepared.length > 0) {
    const signed = await caFor(ctx.env, ctx.config.trustDomain).signX509Svids({ requests: prepared.map((p) => p.request) });
    if (!signed.ok) throw caUnavailable(signed.error);
    signed.value.items.forEach((item, i) => {
      const p = prepared[i]!;
      results[p.index] = item.ok
        ? { entry_id: p.entryId, status: "ok", svid: [toBase64(packedCertificate(signed.value, item))], expires_at: item.expiresAt }
        : { entry_id: p.entryId, status: item.error.reason, detail: item.error.detail };
    });
  }
  return { results };
}

/**
 * POST /agent/v1/svids/jwt: a JWT-SVID for one entry the agent is authorized for, with the entry's
 * JWT-SVID TTL (else the default), signed with the trust domain's ES256 key as SPIRE agents get them.
 */
export async function signAgentJwtSvid(ctx: AgentFlowContext, agent: AuthenticatedAgent, body: { entry_id: string; audience: string[] }) {
  const authorized = await registryFor(ctx.env, ctx.config.trustDomain).authorizeEntries({ agentId: agent.spiffeId, entryIds: [body.entry_id], now: ctx.now });
  if (!authorized.ok) throw agentFailure(authorized.error.reason);
  const entry = authorized.value.entries[0];
  if (!entry) throw new AppError("entry_not_authorized", "No entry with this id is authorized for this agent.");
  const signed = await caFor(ctx.env, ctx.config.trustDomain).signJwtSvid({
    spiffeId: entry.spiffeId,
    audience: body.audience,
    ttlSeconds: entry.jwtSvidTtl || ctx.config.defaultJwtSvidTtl,
    alg: "ES256",
    issuer: ctx.issuer,
  });
  if (!signed.ok) throw caUnavailable(signed.error);
  if (!signed.value.ok) throw new AppError("invalid_request", `The JWT-SVID cannot be issued (${signed.value.error.reason}).`);
  const svid = signed.value.value;
  return { spiffe_id: svid.spiffeId, token: svid.token, expires_at: svid.expiresAt };
}

/**
 * GET /agent/v1/bundles: the trust domain's bundle, as its bundle endpoint serves it, and the last good
 * bundle of every trust domain the agent's authorized entries federate with (keyed by trust domain name).
 */
export async function agentBundles(ctx: AgentFlowContext, agent: AuthenticatedAgent) {
  const [own, federated] = await Promise.all([
    caFor(ctx.env, ctx.config.trustDomain).getTrustBundle(),
    registryFor(ctx.env, ctx.config.trustDomain).agentFederatedBundles({ agentId: agent.spiffeId, now: ctx.now }),
  ]);
  if (!own.ok) throw caUnavailable(own.error);
  if (!federated.ok) {
    if (federated.error.reason === "agent_banned" || federated.error.reason === "agent_not_found") throw agentFailure(federated.error.reason);
    throw new AppError("internal_error", "An internal error occurred.", { internal: `federated bundles: ${federated.error.reason}` });
  }
  return {
    trust_domain: ctx.config.trustDomain,
    bundle: spiffeBundleDocument(own.value.keys, own.value.sequence, ctx.config.bundleRefreshHint),
    federated: Object.fromEntries(federated.value.bundles.map((b) => [b.trustDomain, b.bundle])),
  };
}
