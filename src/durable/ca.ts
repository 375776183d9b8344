/**
 * CertificateAuthority: one Durable Object per trust domain. It owns the X.509 CA keys and the JWT
 * signing keys and exposes only signing verbs and the public bundle (SPIRE's CA shape). Private keys
 * never leave it; at rest they are wrapped under SIGNET_KEK. Rotation is driven by the alarm.
 */
import { DurableObject } from "cloudflare:workers";
import { systemClock } from "../lib/clock";
import { loadConfig } from "../lib/config";
import { importKek } from "../lib/crypto/keys";
import { err, ok, type Result } from "../lib/result";
import {
  issueJwtSvid,
  issueX509Svids,
  packX509Batch,
  type IssuedJwtSvid,
  type PackedX509Batch,
  type IssueOptions,
  type JwtSvidRequest,
  type SvidError,
  type X509SvidRequest,
} from "../lib/ca/issue";
import type { BundleKey, JwksKey, PublicJwk } from "../lib/spiffe/bundle";
import { signAttestationToken } from "../lib/kbs/token";
import { CaEngine, type CaUnavailable, type Signers } from "./ca-engine";
import { openDb } from "./db";
import * as schema from "./tables/ca";
import migrations from "../../migrations/ca/migrations.js";

export type { CaUnavailable } from "./ca-engine";

export interface SignX509SvidsInput {
  readonly requests: readonly X509SvidRequest[];
}

/** Certificates of the batch in one buffer, one item per request in order (see packX509Batch). */
export type SignX509SvidsOutput = PackedX509Batch;

export type SignJwtSvidInput = JwtSvidRequest;

export interface TrustBundle {
  readonly sequence: number;
  readonly keys: readonly BundleKey[];
  readonly jwks: { readonly keys: readonly JwksKey[] };
}

/** Most requests one batch may carry (SPIRE agents send at most 500 CSRs per call). */
export const MAX_BATCH = 500;

/** What `/healthz` reports of the CA: it can sign now, until when, and the published sequence. */
export interface CaHealth {
  readonly sequence: number;
  /** The active X.509 CA's notAfter, ms. */
  readonly signingUntil: number;
}

/** Alarm back-off while the engine is unavailable: 1 min doubling to 1 h. */
const ALARM_RETRY_MIN_MS = 60_000;
const ALARM_RETRY_MAX_MS = 3600_000;

export class CertificateAuthority extends DurableObject<Env> {
  #engine: CaEngine | CaUnavailable = { reason: "ca_misconfigured", detail: "not started" };
  /** The alarm time we last set, so the hot path does not read storage to check it. */
  #alarmAt: number | undefined;
  /** Consecutive alarms that found the engine unavailable. */
  #alarmFailures = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#engine = await buildEngine(ctx, env);
    });
  }

  /** The engine after rotation, or why it cannot serve (the reason is for the log only). */
  async #ready(): Promise<Result<CaEngine, CaUnavailable>> {
    const engine = this.#engine;
    if (!(engine instanceof CaEngine)) return err(engine);
    try {
      await engine.ready();
    } catch (e) {
      const detail = `rotation failed: ${e instanceof Error ? e.message : String(e)}`;
      console.error(JSON.stringify({ component: "ca", error: detail }));
      return err({ reason: "ca_misconfigured", detail });
    }
    await this.#scheduleAlarm(engine);
    return ok(engine);
  }

  async #signers(): Promise<Result<{ engine: CaEngine; signers: Signers }, CaUnavailable>> {
    const engine = await this.#ready();
    if (!engine.ok) return engine;
    const signers = engine.value.signers();
    if (!signers.ok) {
      console.error(JSON.stringify({ component: "ca", error: signers.error.detail }));
      return signers;
    }
    return ok({ engine: engine.value, signers: signers.value });
  }

  async #scheduleAlarm(engine: CaEngine): Promise<void> {
    const next = engine.nextCheckAt;
    if (next === undefined || (this.#alarmAt !== undefined && this.#alarmAt <= next && this.#alarmAt > engine.now())) return;
    this.#alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }

  /** Signs a batch of X.509-SVIDs; each request gets its own result. */
  async signX509Svids(input: SignX509SvidsInput): Promise<Result<SignX509SvidsOutput, CaUnavailable>> {
    if (input.requests.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} requests per batch`);
    const ready = await this.#signers();
    if (!ready.ok) return ready;
    const { engine, signers } = ready.value;
    return ok(packX509Batch(await issueX509Svids(signers.x509, input.requests, issueOptions(engine))));
  }

  /** Signs a batch of JWT-SVIDs (the agent's shape); each request gets its own result, in order. */
  async signJwtSvids(input: { readonly requests: readonly JwtSvidRequest[] }): Promise<Result<{ results: Result<IssuedJwtSvid, SvidError>[] }, CaUnavailable>> {
    if (input.requests.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} requests per batch`);
    const ready = await this.#signers();
    if (!ready.ok) return ready;
    const { engine, signers } = ready.value;
    const opts = issueOptions(engine);
    return ok({ results: await Promise.all(input.requests.map((r) => issueJwtSvid(signers.jwt, r, opts))) });
  }

  async signJwtSvid(input: SignJwtSvidInput): Promise<Result<Result<IssuedJwtSvid, SvidError>, CaUnavailable>> {
    const ready = await this.#signers();
    if (!ready.ok) return ready;
    const { engine, signers } = ready.value;
    return ok(await issueJwtSvid(signers.jwt, input, issueOptions(engine)));
  }

  /**
   * The published keys (SPIFFE bundle and OIDC JWKS). No crypto: rebuilt only when keys change.
   * Public data: served from storage even when the keys cannot be opened or rotation failed.
   */
  async getTrustBundle(): Promise<Result<TrustBundle, CaUnavailable>> {
    const engine = this.#engine;
    if (!(engine instanceof CaEngine)) return err(engine);
    const ready = await this.#ready();
    const b = engine.bundle();
    if (!b) return ready.ok ? err({ reason: "ca_misconfigured", detail: "no bundle has been published" }) : ready;
    return ok({ sequence: b.sequence, keys: b.keys, jwks: b.jwks });
  }

  /**
   * Signs the key broker's attestation token (EAR claims, built and validated by the caller) with the
   * attestation key, which signs nothing else and is never in the bundle or the OIDC JWKS.
   */
  async signAttestationToken(input: { readonly claims: Record<string, unknown> }): Promise<Result<{ token: string }, CaUnavailable>> {
    const ready = await this.#signers();
    if (!ready.ok) return ready;
    const signer = ready.value.signers.attestation;
    const publicJwk = { ...(JSON.parse(signer.row.publicJwk) as PublicJwk), kid: signer.kid, alg: signer.alg, use: "sig" as const };
    return ok({ token: await signAttestationToken(signer.key, { kid: signer.kid, publicJwk }, input.claims) });
  }

  /** The attestation-token verification keys (public; served from storage whatever the KEK). */
  async getAttestationKeys(): Promise<Result<{ keys: JwksKey[] }, CaUnavailable>> {
    const engine = this.#engine;
    if (!(engine instanceof CaEngine)) return err(engine);
    await this.#ready();
    return ok(engine.attestationKeys());
  }

  /** Whether the CA can sign now (for /healthz); the reason is for the log only. */
  async health(): Promise<Result<CaHealth, CaUnavailable>> {
    const ready = await this.#signers();
    if (!ready.ok) return ready;
    const { engine, signers } = ready.value;
    return ok({ sequence: engine.bundle()?.sequence ?? 0, signingUntil: signers.x509.notAfter });
  }

  override async alarm(): Promise<void> {
    const engine = this.#engine;
    let next: number | undefined;
    if (engine instanceof CaEngine) {
      try {
        next = await engine.rotate();
      } catch (e) {
        console.error(JSON.stringify({ component: "ca", error: `rotation failed: ${e instanceof Error ? e.message : String(e)}` }));
      }
    }
    if (next === undefined) {
      // Unavailable (misconfigured, keys that cannot be opened, a failed rotation): look again later.
      this.#alarmFailures++;
      next = Date.now() + Math.min(ALARM_RETRY_MIN_MS * 2 ** (this.#alarmFailures - 1), ALARM_RETRY_MAX_MS);
      const why = engine instanceof CaEngine ? engine.signers() : err(engine);
      console.warn(JSON.stringify({ component: "ca", alarm: "retry", at: new Date(next).toISOString(), reason: why.ok ? "rotation failed" : why.error.detail }));
    } else {
      this.#alarmFailures = 0;
    }
    this.#alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }
}

function issueOptions(e: CaEngine): IssueOptions {
  return { trustDomain: e.settings.trustDomain, maxTtlSeconds: e.settings.caTtl, now: e.now() };
}

async function buildEngine(ctx: DurableObjectState, env: Env): Promise<CaEngine | CaUnavailable> {
  const loaded = loadConfig(env);
  if (!loaded.ok) return { reason: "ca_misconfigured", detail: loaded.error.detail };
  const { config, secrets } = loaded.value;
  const { trustDomain, caKeyType, caTtl } = config;
  return new CaEngine({
    db: openDb(ctx, schema, migrations),
    storage: ctx.storage,
    kek: await importKek(secrets.kek),
    clock: systemClock,
    settings: { trustDomain, caKeyType, caTtl },
    serialize: (fn) => ctx.blockConcurrencyWhile(fn),
  });
}
