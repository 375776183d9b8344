/**
 * CertificateAuthority: one Durable Object per trust domain. It owns the X.509 CA keys and the JWT
 * signing keys and exposes only signing verbs and the public bundle (SPIRE's CA shape). Private keys
 * never leave it; at rest they are wrapped under SIGNET_KEK. Rotation is driven by the alarm.
 */
import { DurableObject } from "cloudflare:workers";
import { systemClock } from "../lib/clock";
import { parseConfig, parseSecrets } from "../lib/config";
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
import type { BundleKey, JwksKey } from "../lib/spiffe/bundle";
import { CaEngine } from "./ca-engine";
import { openDb } from "./db";
import * as schema from "./tables/ca";
import migrations from "../../migrations/ca/migrations.js";

export interface CaUnavailable {
  readonly reason: "ca_misconfigured";
  readonly detail: string;
}

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

export class CertificateAuthority extends DurableObject<Env> {
  #engine: CaEngine | CaUnavailable = { reason: "ca_misconfigured", detail: "not started" };
  /** The alarm time we last set, so the hot path does not read storage to check it. */
  #alarmAt: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#engine = await buildEngine(ctx, env);
    });
  }

  async #ready(): Promise<Result<CaEngine, CaUnavailable>> {
    const engine = this.#engine;
    if (!(engine instanceof CaEngine)) return err(engine);
    await engine.ready();
    await this.#scheduleAlarm(engine);
    return ok(engine);
  }

  async #scheduleAlarm(engine: CaEngine): Promise<void> {
    const next = engine.nextCheckAt;
    if (next === undefined || (this.#alarmAt !== undefined && this.#alarmAt <= next)) return;
    this.#alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }

  /** Signs a batch of X.509-SVIDs; each request gets its own result. */
  async signX509Svids(input: SignX509SvidsInput): Promise<Result<SignX509SvidsOutput, CaUnavailable>> {
    if (input.requests.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} requests per batch`);
    const engine = await this.#ready();
    if (!engine.ok) return engine;
    const e = engine.value;
    return ok(packX509Batch(await issueX509Svids(e.x509Signer(), input.requests, issueOptions(e))));
  }

  /** Signs a batch of JWT-SVIDs (the agent's shape); each request gets its own result, in order. */
  async signJwtSvids(input: { readonly requests: readonly JwtSvidRequest[] }): Promise<Result<{ results: Result<IssuedJwtSvid, SvidError>[] }, CaUnavailable>> {
    if (input.requests.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} requests per batch`);
    const engine = await this.#ready();
    if (!engine.ok) return engine;
    const e = engine.value;
    const opts = issueOptions(e);
    return ok({ results: await Promise.all(input.requests.map((r) => issueJwtSvid((alg) => e.jwtSigner(alg), r, opts))) });
  }

  async signJwtSvid(input: SignJwtSvidInput): Promise<Result<Result<IssuedJwtSvid, SvidError>, CaUnavailable>> {
    const engine = await this.#ready();
    if (!engine.ok) return engine;
    const e = engine.value;
    return ok(await issueJwtSvid((alg) => e.jwtSigner(alg), input, issueOptions(e)));
  }

  /** The published keys (SPIFFE bundle and OIDC JWKS). No crypto: rebuilt only when keys change. */
  async getTrustBundle(): Promise<Result<TrustBundle, CaUnavailable>> {
    const engine = await this.#ready();
    if (!engine.ok) return engine;
    const b = engine.value.bundle();
    return ok({ sequence: b.sequence, keys: b.keys, jwks: b.jwks });
  }

  override async alarm(): Promise<void> {
    const engine = this.#engine;
    if (!(engine instanceof CaEngine)) return;
    const next = await engine.rotate();
    this.#alarmAt = next;
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
  }
}

function issueOptions(e: CaEngine): IssueOptions {
  return { trustDomain: e.settings.trustDomain, maxTtlSeconds: e.settings.caTtl, now: e.now() };
}

async function buildEngine(ctx: DurableObjectState, env: Env): Promise<CaEngine | CaUnavailable> {
  const vars = env as unknown as Record<string, unknown>;
  const config = parseConfig(vars);
  if (!config.ok) return { reason: "ca_misconfigured", detail: config.error.detail };
  const secrets = parseSecrets(vars);
  if (!secrets.ok) return { reason: "ca_misconfigured", detail: secrets.error.detail };
  const { trustDomain, caKeyType, caTtl } = config.value;
  return new CaEngine({
    db: openDb(ctx, schema, migrations),
    storage: ctx.storage,
    kek: await importKek(secrets.value.kek),
    clock: systemClock,
    settings: { trustDomain, caKeyType, caTtl },
    serialize: (fn) => ctx.blockConcurrencyWhile(fn),
  });
}
