/**
 * The certificate authority's state machine, over the Durable Object's SQLite storage.
 *
 * Invariants:
 * - Private keys exist in two forms only: wrapped under the KEK in `authorities.wrapped_key`, and as
 *   non-extractable CryptoKeys in `#signers`. No method returns either.
 * - Every change of the published key set happens in one transaction with the rebuilt bundle and a
 *   bumped `spiffe_sequence`.
 * - Rotation runs serialised (`serialize` = blockConcurrencyWhile in the object), never concurrently
 *   with itself; signing reads the active signers, which rotation replaces as a whole.
 * - One rotation settles whatever is stored (see planRotation); a second one right after is a no-op,
 *   and the result is checked: a plan that does not settle throws instead of leaving a stale schedule.
 * - Nothing signs outside its validity (`signers()` refuses), and nothing is written while the KEK
 *   cannot open the stored keys: the public bundle is still served from storage.
 *
 * Time comes from the injected clock, so tests drive rotation over simulated days.
 */
import { eq } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Clock } from "../lib/clock";
import { generateSigningKey, importPrivateKey, randomKeyId, unwrapPrivateKey, wrapPrivateKey } from "../lib/crypto/keys";
import { fromBase64, toBase64 } from "../lib/encoding";
import { planRotation, TRACKS, type AuthoritySchedule, type RotationAction, type Track } from "../lib/ca/rotation";
import { err, ok, type Result } from "../lib/result";
import { bundleKeys, oidcJwks, type BundleKey, type JwksKey, type JwtAlgorithm, type PublicJwk } from "../lib/spiffe/bundle";
import type { TrustDomain } from "../lib/spiffe/id";
import type { KeyType } from "../lib/x509/algorithms";
import { buildCaCertificate, readCaCertificate } from "../lib/ca/ca-certificate";
import type { JwtIssuer, X509Issuer } from "../lib/ca/issue";
import { authorities, bundleState } from "./tables/ca";
import type * as schema from "./tables/ca";

export interface CaSettings {
  readonly trustDomain: TrustDomain;
  readonly caKeyType: KeyType;
  /** Lifetime of every CA certificate and JWT key, seconds. */
  readonly caTtl: number;
}

export interface CaEngineDeps {
  readonly db: DrizzleSqliteDODatabase<typeof schema>;
  readonly storage: DurableObjectStorage;
  readonly kek: CryptoKey;
  readonly clock: Clock;
  readonly settings: CaSettings;
  /** Runs `fn` with no other event interleaving (blockConcurrencyWhile). */
  readonly serialize: <T>(fn: () => Promise<T>) => Promise<T>;
}

type AuthorityRow = typeof authorities.$inferSelect;

export interface X509Signer extends X509Issuer {
  readonly row: AuthorityRow;
}

export interface JwtSigner extends JwtIssuer {
  readonly row: AuthorityRow;
}

export interface PublishedBundle {
  readonly sequence: number;
  readonly keys: readonly BundleKey[];
  readonly jwks: { readonly keys: readonly JwksKey[] };
  /** DER of every published CA certificate, oldest first. */
  readonly x509Authorities: readonly Uint8Array[];
}

type JwsTrack = Exclude<Track, "x509">;
const TRACK_KEY_TYPE: Record<JwsTrack, KeyType> = { "jwt-es256": "ec-p256", "jwt-rs256": "rsa-2048", "ear-es256": "ec-p256" };
const TRACK_ALG: Record<JwsTrack, JwtAlgorithm> = { "jwt-es256": "ES256", "jwt-rs256": "RS256", "ear-es256": "ES256" };
/** The tracks whose keys sign JWT-SVIDs (published in the bundle and the OIDC JWKS). */
const SVID_JWT_TRACKS: readonly JwsTrack[] = ["jwt-es256", "jwt-rs256"];
const EAR_TRACK: JwsTrack = "ear-es256";

export interface CaUnavailable {
  readonly reason: "ca_misconfigured";
  /** Logged, never sent. */
  readonly detail: string;
}

/** The keys that sign now: valid at the time they were asked for. */
export interface Signers {
  readonly x509: X509Signer;
  /** JWT-SVID keys only (never the attestation-token key). */
  jwt(alg: JwtAlgorithm): JwtSigner | undefined;
  /** The key broker's attestation-token (EAR) key, ES256. */
  readonly attestation: JwtSigner;
}

export class CaEngine {
  readonly #deps: CaEngineDeps;
  #x509: X509Signer | undefined;
  #jwt = new Map<Track, JwtSigner>();
  #bundle: PublishedBundle | undefined;
  #nextCheckAt: number | undefined;
  #loaded = false;
  /** Why nothing can be signed: the KEK does not open the stored keys. Rotation stops too. */
  #locked: string | undefined;

  constructor(deps: CaEngineDeps) {
    this.#deps = deps;
  }

  get settings(): CaSettings {
    return this.#deps.settings;
  }

  /** When rotation should run next (the alarm time); undefined while the keys cannot be opened. */
  get nextCheckAt(): number | undefined {
    return this.#locked === undefined ? this.#nextCheckAt : undefined;
  }

  now(): number {
    return this.#deps.clock.now();
  }

  /**
   * Loads keys on first use and rotates when due. Cheap when nothing is due. Throws only on a bug
   * or a storage failure (rotation that does not settle), never because of the stored state.
   */
  async ready(): Promise<void> {
    const now = this.now();
    if (this.#loaded && (this.#nextCheckAt === undefined || now < this.#nextCheckAt)) return;
    await this.#deps.serialize(() => this.#rotateLocked());
  }

  /** Runs rotation now (the alarm); returns when it should run again (undefined: keys unusable). */
  async rotate(): Promise<number | undefined> {
    await this.#deps.serialize(() => this.#rotateLocked(true));
    return this.nextCheckAt;
  }

  /** The active keys, if they can sign now. */
  signers(): Result<Signers, CaUnavailable> {
    if (this.#locked !== undefined) return err({ reason: "ca_misconfigured", detail: this.#locked });
    const x509 = this.#x509;
    const now = this.now();
    const all = [...this.#jwt.values()];
    const jwt = all.filter((s) => s.row.track !== EAR_TRACK);
    const attestation = this.#jwt.get(EAR_TRACK);
    if (!x509 || !attestation || all.length !== TRACKS.length - 1) return err({ reason: "ca_misconfigured", detail: "the certificate authority has not loaded its keys" });
    for (const s of [x509, ...all]) {
      if (now < s.row.notBefore || now >= s.row.notAfter) {
        return err({ reason: "ca_misconfigured", detail: `authority ${s.row.id} (${s.row.track}) is not valid now; rotation has not run` });
      }
    }
    return ok({ x509, jwt: (alg) => jwt.find((s) => s.alg === alg), attestation });
  }

  /** The published documents: as loaded, else as stored (served even while the keys cannot be opened). */
  bundle(): PublishedBundle | undefined {
    return this.#bundle ?? this.#readBundle();
  }

  /**
   * The attestation-token keys (every stored one: prepared, active, old), as a JWKS. Public data, read
   * from storage: served even while the keys cannot be opened.
   */
  attestationKeys(): { keys: JwksKey[] } {
    const rows = this.#deps.db.select().from(authorities).where(eq(authorities.track, EAR_TRACK)).all();
    return oidcJwks(rows.filter((r) => r.kid !== null).map((r) => ({ kid: r.kid!, alg: TRACK_ALG[EAR_TRACK], publicJwk: JSON.parse(r.publicJwk) as PublicJwk })));
  }

  async #rotateLocked(force = false): Promise<void> {
    // Re-check inside the lock: another caller may have rotated while we waited.
    const now = this.now();
    if (!force && this.#loaded && this.#nextCheckAt !== undefined && now < this.#nextCheckAt) return;
    const { db, settings } = this.#deps;
    const rows = db.select().from(authorities).all();
    this.#locked = await this.#kekProblem(rows);
    if (this.#locked !== undefined) {
      // Nothing is written with a key-encryption key that cannot open what is stored.
      this.#bundle = this.#readBundle();
      this.#nextCheckAt = undefined;
      this.#loaded = true;
      return;
    }
    const rotation = { lifetimeMs: settings.caTtl * 1000 };
    let plan = planRotation(rows.map(toSchedule), now, rotation);
    if (plan.actions.length > 0) {
      await this.#apply(plan.actions, now);
      plan = planRotation(db.select().from(authorities).all().map(toSchedule), now, rotation);
      if (plan.actions.length > 0) throw new Error(`CA rotation did not settle: ${plan.actions.map((a) => a.kind).join(", ")} still due`);
    }
    this.#nextCheckAt = plan.nextCheckAt;
    await this.#load();
  }

  /** Says why the KEK cannot be used, if it does not open a key that may still sign. */
  async #kekProblem(rows: readonly AuthorityRow[]): Promise<string | undefined> {
    for (const row of rows) {
      if (row.status === "old") continue;
      const pkcs8 = await unwrapPrivateKey(this.#deps.kek, row.wrappedKey, row.id);
      if (!pkcs8.ok) {
        return `SIGNET_KEK does not open the stored key of authority ${row.id} (${row.track}): restore the SIGNET_KEK this CA was created with`;
      }
      pkcs8.value.fill(0);
    }
    return undefined;
  }

  async #apply(actions: readonly RotationAction[], now: number): Promise<void> {
    // WebCrypto work first; the transaction itself never awaits.
    const inserts: (typeof authorities.$inferInsert)[] = [];
    for (const a of actions) if (a.kind === "create") inserts.push(await this.#newAuthority(a, now));
    const { db, storage } = this.#deps;
    storage.transactionSync(() => {
      for (const a of actions) {
        if (a.kind === "prune") db.delete(authorities).where(eq(authorities.id, a.id)).run();
        if (a.kind === "set_status") db.update(authorities).set({ status: a.status }).where(eq(authorities.id, a.id)).run();
      }
      for (const row of inserts) db.insert(authorities).values(row).run();
      this.#publishLocked(now);
    });
  }

  async #newAuthority(a: Extract<RotationAction, { kind: "create" }>, now: number): Promise<typeof authorities.$inferInsert> {
    const { settings, kek } = this.#deps;
    const id = crypto.randomUUID();
    const { track, notBefore, notAfter } = a;
    const keyType = track === "x509" ? settings.caKeyType : TRACK_KEY_TYPE[track];
    const key = await generateSigningKey(keyType);
    let certificate: string | null = null;
    if (track === "x509") {
      const der = await buildCaCertificate({
        trustDomain: settings.trustDomain,
        keyType,
        spki: key.spki,
        privateKey: key.privateKey,
        notBefore,
        notAfter,
      });
      certificate = toBase64(der);
    }
    return {
      id,
      track,
      keyType,
      status: a.status,
      kid: track === "x509" ? null : randomKeyId(),
      wrappedKey: await wrapPrivateKey(kek, key.pkcs8, id),
      publicJwk: JSON.stringify(key.publicJwk),
      certificate,
      notBefore,
      notAfter,
      createdAt: now,
    };
  }
  /** Rebuilds the published documents from the rows; bumps the sequence if the key set changed. */
  #publishLocked(now: number): void {
    const { db } = this.#deps;
    const rows = db.select().from(authorities).all().sort((a, b) => a.notBefore - b.notBefore || a.id.localeCompare(b.id));
    const x509 = rows.filter((r) => r.track === "x509" && r.certificate !== null);
    const jwt = rows.filter((r) => (SVID_JWT_TRACKS as readonly Track[]).includes(r.track) && r.kid !== null);
    const jwtEntries = jwt.map((r) => ({ kid: r.kid!, alg: TRACK_ALG[r.track as JwsTrack], publicJwk: JSON.parse(r.publicJwk) as PublicJwk }));
    const keys = bundleKeys(
      x509.map((r) => ({ certificate: fromBase64(r.certificate!)!, publicJwk: JSON.parse(r.publicJwk) as PublicJwk })),
      jwtEntries,
    );
    const keysJson = JSON.stringify(keys);
    const current = db.select().from(bundleState).where(eq(bundleState.id, 1)).get();
    if (current && current.keys === keysJson) return;
    const jwks = JSON.stringify(oidcJwks(jwtEntries));
    const sequence = (current?.sequence ?? 0) + 1;
    db.insert(bundleState)
      .values({ id: 1, sequence, keys: keysJson, jwks, updatedAt: now })
      .onConflictDoUpdate({ target: bundleState.id, set: { sequence, keys: keysJson, jwks, updatedAt: now } })
      .run();
  }

  /** Loads the active keys into memory (non-extractable) and the published bundle. */
  async #load(): Promise<void> {
    const { db, kek } = this.#deps;
    const rows = db.select().from(authorities).all();
    const jwt = new Map<Track, JwtSigner>();
    let x509: X509Signer | undefined;
    for (const row of rows) {
      if (row.status !== "active") continue;
      const cached = row.track === "x509" ? this.#x509 : this.#jwt.get(row.track);
      if (cached && cached.row.id === row.id) {
        if (row.track === "x509") x509 = cached as X509Signer;
        else jwt.set(row.track, cached as JwtSigner);
        continue;
      }
      const pkcs8 = await unwrapPrivateKey(kek, row.wrappedKey, row.id);
      if (!pkcs8.ok) throw new Error(`authority ${row.id}: the key-encryption key does not open its private key`);
      const key = await importPrivateKey(row.keyType, pkcs8.value);
      pkcs8.value.fill(0);
      if (row.track === "x509") {
        const info = await readCaCertificate(fromBase64(row.certificate ?? "") ?? new Uint8Array(), row.keyType);
        if (!info.ok) throw new Error(`authority ${row.id}: stored CA certificate is unreadable (${info.error.reason})`);
        x509 = { row, key, ca: info.value, notBefore: row.notBefore, notAfter: row.notAfter };
      } else {
        jwt.set(row.track, { row, key, kid: row.kid!, alg: TRACK_ALG[row.track], notAfter: row.notAfter });
      }
    }
    const bundle = this.#readBundle();
    if (!x509 || jwt.size !== TRACKS.length - 1 || !bundle) throw new Error("certificate authority has no active keys after rotation");
    this.#x509 = x509;
    this.#jwt = jwt;
    this.#bundle = bundle;
    this.#loaded = true;
  }

  /** The published documents as stored (public data: readable without the KEK). */
  #readBundle(): PublishedBundle | undefined {
    const state = this.#deps.db.select().from(bundleState).where(eq(bundleState.id, 1)).get();
    if (!state) return undefined;
    const keys = JSON.parse(state.keys) as BundleKey[];
    return {
      sequence: state.sequence,
      keys,
      jwks: JSON.parse(state.jwks) as { keys: JwksKey[] },
      x509Authorities: keys.filter((k) => k.use === "x509-svid").map((k) => fromBase64(k.x5c![0]!)!),
    };
  }
}

function toSchedule(r: AuthorityRow): AuthoritySchedule {
  return { id: r.id, track: r.track, status: r.status, notBefore: r.notBefore, notAfter: r.notAfter };
}
