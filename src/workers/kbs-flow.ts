/**
 * The key broker's steps (Trustee RCAR 0.4.0, specs/kbs-protocol.md §2): what /auth, /attest and
 * /resource do, over the lib (binding, verification, appraisal, tokens, JWE) and the Durable Objects
 * (sessions, registry, certificate authority, audit log). routes/kbs.ts maps these to HTTP.
 *
 * Every refusal is an AppError whose wire detail is Trustee's generic sentence; the precise reason
 * goes to the log and the audit record only. A resource is released only after its audit record
 * is committed.
 */
import { auditLog, caFor, collateralStore, registryFor, sessionFor } from "../durable/addresses";
import type { AuditRecordInput } from "../durable/audit";
import type { Challenge } from "../durable/session";
import { verifierFor } from "../lib/attestation";
import type { Config } from "../lib/config";
import { toHex, utf8 } from "../lib/encoding";
import {
  challengeExtraParams,
  checkNonce,
  checkProtocolVersion,
  digestWith,
  encryptResource,
  expectedReportData,
  initDataClaims,
  initDataDigest,
  negotiateHash,
  newNonce,
  newSessionId,
  parseInitData,
  parseTeePubKey,
  teePubKeyJwk,
  type KbsAttestation,
  type KbsRequest,
  type FlattenedJwe,
  type HashAlgorithm,
} from "../lib/kbs";
import { appraise, parseAttestationPolicy, selectPolicyId, type AttestationPolicy } from "../lib/kbs/attestation-policy";
import { earClaims, teePubKeyFromClaims } from "../lib/kbs/ear";
import { defaultResourcePolicy, evaluateResourcePolicy, parseResourcePolicy } from "../lib/kbs/resource-policy";
import { resourcePathString, type ResourcePathParts } from "../lib/kbs/resource-path";
import { ATTESTATION_TOKEN_SECONDS, verifyAttestationToken, type TokenError } from "../lib/kbs/token";
import type { JwksKey } from "../lib/spiffe/bundle";
import type { Result } from "../lib/result";
import { AppError } from "./errors";

/** Trustee's session timeout (minutes → ms). */
export const SESSION_LIFETIME_MS = 5 * 60_000;
/** The TEEs this key broker verifies. */
const SUPPORTED_TEES = new Set(["snp", "tdx", "sample"]);
const AUTH_FAILED = "Attestation error: RCAR handshake Auth failed";
const ATTEST_FAILED = "Attestation error: RCAR handshake Attest failed";

export interface FlowContext {
  readonly env: Env;
  readonly config: Config;
  /** The peer as seen by the Worker (CF-Connecting-IP), for rate limits and the audit log. */
  readonly client: string;
  readonly requestId: string;
  readonly now: number;
}

/** The `iss` of this deployment's attestation tokens. */
export function attestationIssuer(config: Config): string {
  return `signet-attestation-service:${config.trustDomain}`;
}

function log(ctx: FlowContext, event: Record<string, unknown>): void {
  console.warn(JSON.stringify({ requestId: ctx.requestId, component: "kbs", ...event }));
}

/** Records an audit entry; a failure to record is an error (the caller then releases nothing). */
async function audit(ctx: FlowContext, entry: Omit<AuditRecordInput, "at" | "client">): Promise<void> {
  const r = await auditLog(ctx.env).record({ ...entry, at: ctx.now, client: ctx.client.slice(0, 128) });
  if (!r.ok) throw new AppError("internal_error", "An internal error occurred.", { internal: `audit record refused: ${r.error.detail}` });
}

// ── /auth ────────────────────────────────────────────────────────────────────────────────────────

export interface AuthResult {
  readonly sessionId: string;
  readonly expiresAt: number;
  readonly challenge: { readonly nonce: string; readonly "extra-params": ReturnType<typeof challengeExtraParams> };
}

export async function auth(ctx: FlowContext, request: KbsRequest): Promise<AuthResult> {
  const version = checkProtocolVersion(request.version);
  if (!version.ok) throw new AppError("kbs_auth_failed", `${AUTH_FAILED}: ${version.error.detail}`);
  if (!SUPPORTED_TEES.has(request.tee) || (request.tee === "sample" && ctx.config.profile !== "permissive")) {
    log(ctx, { step: "auth", refused: "tee_not_supported", tee: request.tee });
    throw new AppError("kbs_auth_failed", `${AUTH_FAILED}: TEE ${request.tee} is not supported here`);
  }
  const policyId = selectPolicyId(request.extraParams, ctx.config.kbsPolicySelectors);
  if (!policyId.ok) throw new AppError("kbs_auth_failed", `${AUTH_FAILED}: ${policyId.error.detail}`);
  const hash = negotiateHash(request.extraParams);
  const sessionId = newSessionId();
  const nonce = newNonce();
  const expiresAt = ctx.now + SESSION_LIFETIME_MS;
  const stored = await sessionFor(ctx.env, sessionId).issueChallenge({
    id: sessionId,
    tee: request.tee,
    nonce,
    hashAlgorithm: hash,
    policyId: policyId.value,
    client: ctx.client.slice(0, 128),
    now: ctx.now,
    expiresAt,
  });
  if (!stored.ok) throw new AppError("service_overloaded", "Too many open sessions; retry later.", { headers: { "Retry-After": "10" }, internal: stored.error.reason });
  return { sessionId, expiresAt, challenge: { nonce, "extra-params": challengeExtraParams(hash) } };
}

// ── /attest ──────────────────────────────────────────────────────────────────────────────────────

export interface AttestResult {
  readonly token: string;
  readonly expiresAt: number;
}

/** A refusal of /attest: logged and audited with its reason, generic on the wire. */
class AttestRefusal {
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {}
}

export async function attest(ctx: FlowContext, sessionId: string, attestation: KbsAttestation, evidenceText: string): Promise<AttestResult> {
  const evidenceDigest = toHex(await digestWith("sha256", utf8(evidenceText)));
  const taken = await sessionFor(ctx.env, sessionId).consumeChallenge({ id: sessionId, now: ctx.now });
  if (!taken.ok) {
    // No challenge was consumed: not an attestation of any session (a replay, a forged or expired
    // cookie). Logged only: recording it would let anyone write to the audit log without limit.
    log(ctx, { step: "attest", refused: taken.error.reason, session: sessionId });
    throw new AppError("kbs_attest_failed", ATTEST_FAILED);
  }
  const challenge = taken.value;
  try {
    const result = await appraiseAttestation(ctx, challenge, attestation, evidenceDigest, sessionId);
    const recorded = await sessionFor(ctx.env, sessionId).recordAttested({ id: sessionId, challenge, token: result.token, now: ctx.now });
    if (!recorded.ok) throw new AttestRefusal(recorded.error.reason, "the session expired during attestation");
    return result;
  } catch (e) {
    if (!(e instanceof AttestRefusal)) throw e;
    log(ctx, { step: "attest", refused: e.reason, detail: e.detail, session: sessionId, tee: challenge.tee });
    await audit(ctx, { kind: "attestation", outcome: "denied", reason: e.reason.slice(0, 128), sessionId, tee: challenge.tee, evidenceDigest, policyId: challenge.policyId });
    throw new AppError("kbs_attest_failed", ATTEST_FAILED);
  }
}

async function appraiseAttestation(ctx: FlowContext, challenge: Challenge, a: KbsAttestation, evidenceDigest: string, sessionId: string): Promise<AttestResult> {
  const nonce = checkNonce(a.runtimeData.nonce, challenge.nonce as never);
  if (!nonce.ok) throw new AttestRefusal(nonce.error.reason, nonce.error.detail);
  // Devices (additional evidence) are not verified here: refuse rather than ignore what was bound.
  if (a.teeEvidence.additionalEvidence !== "") throw new AttestRefusal("additional_evidence_unsupported", "additional device evidence is not verified by this key broker");
  const runtime = { nonce: a.runtimeData.nonce, teePubKey: a.runtimeData.teePubKey, additionalEvidence: a.teeEvidence.additionalEvidence };
  const expected = await expectedReportData(runtime, challenge.hashAlgorithm as HashAlgorithm);

  let initData: { digest: Uint8Array; claims: Record<string, unknown> } | undefined;
  if (a.initData !== null) {
    const parsed = parseInitData(a.initData);
    if (!parsed.ok) throw new AttestRefusal(parsed.error.reason, parsed.error.detail);
    initData = { digest: await initDataDigest(parsed.value), claims: initDataClaims(parsed.value) };
  }

  const verifier = verifierFor(challenge.tee, { collateral: collateralStore(ctx.env), allowSample: ctx.config.profile === "permissive" });
  if (!verifier) throw new AttestRefusal("tee_not_supported", `no verifier for ${challenge.tee}`);
  const verified = await verifier.verify({ evidence: a.teeEvidence.primaryEvidence, expectedReportData: expected, expectedInitDataDigest: initData?.digest, now: ctx.now });
  if (!verified.ok) throw new AttestRefusal(verified.error.reason, verified.error.detail);
  const claims = verified.value;

  const policy = await attestationPolicy(ctx, challenge.policyId);
  const appraisal = appraise(claims, policy, ctx.config.profile);
  const ear = earClaims({
    claims,
    appraisal,
    policyId: challenge.policyId,
    runtimeData: { nonce: runtime.nonce, teePubKey: { ...teePubKeyJwk(runtime.teePubKey) }, additionalEvidence: runtime.additionalEvidence },
    ...(initData ? { initData: { digest: toHex(initData.digest), claims: initData.claims } } : {}),
    issuer: attestationIssuer(ctx.config),
    now: ctx.now,
    lifetimeSeconds: ATTESTATION_TOKEN_SECONDS,
  });
  const signed = await caFor(ctx.env, ctx.config.trustDomain).signAttestationToken({ claims: ear as unknown as Record<string, unknown> });
  if (!signed.ok) throw new AppError("service_misconfigured", "The key broker is not configured; see its logs.", { internal: signed.error.detail });
  await audit(ctx, {
    kind: "attestation",
    outcome: "accepted",
    ...(appraisal.failures.length > 0 ? { reason: appraisal.failures[0]!.slice(0, 128) } : {}),
    sessionId,
    tee: claims.tee,
    evidenceDigest,
    measurement: claims.measurement.slice(0, 128),
    platformId: claims.platformId.slice(0, 128),
    ...(claims.initDataDigest ? { initDataDigest: claims.initDataDigest } : {}),
    policyId: challenge.policyId,
  });
  log(ctx, { step: "attest", accepted: true, session: sessionId, tee: claims.tee, status: appraisal.status, failures: appraisal.failures });
  return { token: signed.value.token, expiresAt: challenge.expiresAt };
}

/** The attestation policy for a session: `default` reads `default_cpu` (kbs-client's default id). */
async function attestationPolicy(ctx: FlowContext, policyId: string): Promise<AttestationPolicy | undefined> {
  const id = policyId === "default" ? "default_cpu" : policyId;
  const stored = await registryFor(ctx.env, ctx.config.trustDomain).getPolicy({ kind: "attestation", policyId: id });
  if (!stored.ok) return undefined;
  const parsed = parseAttestationPolicy(JSON.parse(stored.value.body));
  if (!parsed.ok) throw new AppError("service_misconfigured", "The key broker is not configured; see its logs.", { internal: `stored attestation policy ${id}: ${parsed.error.detail}` });
  return parsed.value;
}

// ── /resource ────────────────────────────────────────────────────────────────────────────────────

/** Attestation keys per trust domain, cached in the isolate (they change once a rotation). */
const keyCache = new Map<string, { keys: readonly JwksKey[]; fetchedAt: number }>();
const KEY_CACHE_MS = 60_000;

async function attestationKeys(ctx: Pick<FlowContext, "env" | "config" | "now">, refresh: boolean): Promise<readonly JwksKey[]> {
  const cached = keyCache.get(ctx.config.trustDomain);
  if (cached && !refresh && ctx.now - cached.fetchedAt < KEY_CACHE_MS) return cached.keys;
  if (cached && refresh && ctx.now - cached.fetchedAt < 5_000) return cached.keys;
  const r = await caFor(ctx.env, ctx.config.trustDomain).getAttestationKeys();
  if (!r.ok) throw new AppError("service_misconfigured", "The key broker is not configured; see its logs.", { internal: r.error.detail });
  keyCache.set(ctx.config.trustDomain, { keys: r.value.keys, fetchedAt: ctx.now });
  return r.value.keys;
}

/**
 * Verifies an attestation token against this deployment's own keys (cached in the isolate; looked up
 * again once when the token names a key the cache does not have yet, e.g. after a rotation).
 */
export async function verifyOwnAttestationToken(ctx: Pick<FlowContext, "env" | "config" | "now">, token: string): Promise<Result<Record<string, unknown>, TokenError>> {
  const issuer = attestationIssuer(ctx.config);
  const first = await verifyAttestationToken({ token, keys: await attestationKeys(ctx, false), issuer, now: ctx.now });
  if (first.ok || first.error.reason !== "token_unknown_key") return first;
  return verifyAttestationToken({ token, keys: await attestationKeys(ctx, true), issuer, now: ctx.now });
}

export type TokenSource = { readonly kind: "cookie"; readonly sessionId: string } | { readonly kind: "bearer"; readonly token: string };

/**
 * Verifies the token a resource request carries: the first source that has one (an attested session's
 * token, else the Bearer token), as Trustee tries them; its claims.
 */
async function tokenClaims(ctx: FlowContext, sources: readonly TokenSource[]): Promise<{ claims: Record<string, unknown>; sessionId?: string }> {
  let token: string | undefined;
  let sessionId: string | undefined;
  let missing = "no token";
  for (const source of sources) {
    if (source.kind === "bearer") {
      token = source.token;
      break;
    }
    const stored = await sessionFor(ctx.env, source.sessionId).attestedToken({ id: source.sessionId, now: ctx.now });
    if (stored.ok) {
      token = stored.value.token;
      sessionId = source.sessionId;
      break;
    }
    missing = `session ${stored.error.reason}`;
  }
  if (token === undefined) throw new AppError("token_not_found", "Token not found", { internal: missing });
  const verified = await verifyOwnAttestationToken(ctx, token);
  if (!verified.ok) throw new AppError("token_invalid", "Token verification failed", { internal: verified.error.reason });
  return { claims: verified.value, ...(sessionId ? { sessionId } : {}) };
}

async function resourcePolicyFor(ctx: FlowContext) {
  const stored = await registryFor(ctx.env, ctx.config.trustDomain).getPolicy({ kind: "resource", policyId: "resource-policy" });
  if (!stored.ok) return defaultResourcePolicy(ctx.config.profile);
  const parsed = parseResourcePolicy(JSON.parse(stored.value.body));
  if (!parsed.ok) throw new AppError("service_misconfigured", "The key broker is not configured; see its logs.", { internal: `stored resource policy: ${parsed.error.detail}` });
  return parsed.value;
}

/** Releases a resource to the TEE key inside a verified token, after the policy and the audit record. */
export async function release(ctx: FlowContext, sources: readonly TokenSource[], path: ResourcePathParts): Promise<FlattenedJwe> {
  const pathText = resourcePathString(path);
  const { claims, sessionId } = await tokenClaims(ctx, sources);
  const tee = Object.keys(((claims.submods as Record<string, Record<string, unknown>> | undefined)?.cpu0?.["ear.veraison.annotated-evidence"] as Record<string, unknown> | undefined) ?? {}).find((k) => SUPPORTED_TEES.has(k));
  const refused = async (reason: string) => {
    await audit(ctx, { kind: "release", outcome: "refused", reason, resourcePath: pathText, ...(sessionId ? { sessionId } : {}), ...(tee ? { tee } : {}) });
  };

  const decision = evaluateResourcePolicy(await resourcePolicyFor(ctx), claims, path);
  if (!decision.allowed) {
    log(ctx, { step: "resource", refused: decision.reason, path: pathText });
    await refused(`policy_denied:${decision.reason ?? "unknown"}`);
    throw new AppError("policy_denied", "Access denied by policy");
  }
  const key = parseTeePubKey(teePubKeyFromClaims(claims));
  if (!key.ok) {
    await refused(key.error.reason);
    throw new AppError("jwe_failed", "JWE error: the token carries no usable TEE public key", { internal: key.error.detail });
  }
  const resource = await registryFor(ctx.env, ctx.config.trustDomain).getResource({ path: pathText });
  if (!resource.ok) {
    await refused(resource.error.reason);
    if (resource.error.reason === "resource_not_found") throw new AppError("resource_not_found", "Plugin internal error: resource not found");
    throw new AppError("service_misconfigured", "The key broker is not configured; see its logs.", { internal: resource.error.detail });
  }
  // The record is committed before anything is sent; if it cannot be, nothing is.
  await audit(ctx, { kind: "release", outcome: "released", resourcePath: pathText, ...(sessionId ? { sessionId } : {}), ...(tee ? { tee } : {}) });
  try {
    return await encryptResource(key.value, resource.value.value);
  } finally {
    resource.value.value.fill(0);
  }
}

export function evidenceText(a: KbsAttestation): string {
  return JSON.stringify(a.teeEvidence.primaryEvidence) ?? "";
}
