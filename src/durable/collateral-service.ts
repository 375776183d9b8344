/**
 * The CollateralStore Durable Object's logic: one per deployment, holding vendor collateral for attestation —
 * AMD VCEKs and CRLs (KDS), Intel TDX TCB Info, QE Identity and CRLs (PCS/PCCS) — fetched on demand,
 * cached until shortly before they expire, and uploadable by an admin for air-gapped deployments.
 *
 * Invariants: an item is stored only after it parsed and is unexpired; a failed fetch opens a back-off
 * window for its key (no retry storms against KDS/PCS); signatures are checked by the verifiers at
 * use, against pinned vendor roots, so a cached item is never trusted because it is cached.
 */
import { eq, lte } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Clock } from "../lib/clock";
import { fromBase64, toBase64, toHex } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import { CollateralFetcher, type BackoffState, type CollateralError, type CollateralItem, type CollateralStoreApi } from "../lib/attestation/collateral/fetcher";
import {
  crlKey,
  crlRequest,
  verifiedCrlExpiry,
  verifiedVcekIdentity,
  vcekKey,
  vcekRequest,
  type EndorsementSigner,
  type KdsTcb,
  type SnpProductLine,
} from "../lib/attestation/collateral/amd-kds";
import {
  chainHeader,
  collateralFiles,
  pckCrlCa,
  qeIdentityIssuedAt,
  tcbInfoIssuedAt,
  pckCrlKey,
  pckCrlRequest,
  QE_IDENTITY_KEY,
  qeIdentityRequest,
  ROOT_CA_CRL_KEY,
  rootCaCrlRequest,
  tcbInfoKey,
  tcbInfoRequest,
  type PckCa,
} from "../lib/attestation/collateral/intel-pcs";
import type * as schema from "./tables/collateral";
import { crlIssuedAt } from "../lib/attestation/collateral/crl-times";
import { parseTdxCollateral, TDX_COLLATERAL_FILES } from "../lib/attestation/tdx/collateral";
import { checkCollateral } from "../lib/attestation/tdx/collateral-check";
import { INTEL_SGX_ROOT_CA_DER } from "../lib/attestation/tdx/roots";
import { parseCertificate, type ParsedCertificate } from "../lib/x509/cert-reader";
import { collateralBackoff, collateralItems } from "./tables/collateral";

export interface UploadError {
  readonly reason: "invalid_collateral";
  readonly detail: string;
}

export interface StoredCollateral {
  readonly key: string;
  readonly source: "fetched" | "uploaded";
  readonly fetchedAt: number;
  readonly expiresAt: number;
}

export interface SnpVcekInput {
  readonly product: SnpProductLine;
  readonly chipId: Uint8Array;
  readonly tcb: KdsTcb;
}

export interface TdxCollateralInput {
  readonly fmspc: string;
  readonly ca: PckCa;
}

const COLLATERAL_FILE_NAMES: readonly string[] = Object.values(TDX_COLLATERAL_FILES);

type Db = DrizzleSqliteDODatabase<typeof schema>;
type IssuedAt = (body: Uint8Array) => number | undefined;

export interface CollateralSources {
  readonly kds: string;
  readonly pcs: string;
  readonly rootCrl: string;
}

export interface CollateralServiceDeps {
  readonly db: Db;
  readonly storage: DurableObjectStorage;
  readonly fetch: (url: string, init?: RequestInit) => Promise<Response>;
  readonly clock: Clock;
  readonly sources: CollateralSources;
}

/** The object's logic over its storage; time and network are injected (tests run at vector times). */
export class CollateralService {
  readonly #db: Db;
  readonly #deps: CollateralServiceDeps;
  readonly #fetcher: CollateralFetcher;

  constructor(deps: CollateralServiceDeps) {
    this.#deps = deps;
    this.#db = deps.db;
    this.#fetcher = new CollateralFetcher({ store: this.#storeApi(), fetch: deps.fetch, clock: deps.clock });
  }

  #vars(): CollateralSources {
    return this.#deps.sources;
  }

  #storeApi(): CollateralStoreApi {
    return {
      getItem: (key) => this.#getItem(key),
      putItem: (key, item) => this.#put(key, item),
      getBackoff: (key) => this.#db.select().from(collateralBackoff).where(eq(collateralBackoff.key, key)).get(),
      putBackoff: (key, state: BackoffState | undefined) => {
        if (!state) this.#db.delete(collateralBackoff).where(eq(collateralBackoff.key, key)).run();
        else this.#db.insert(collateralBackoff).values({ key, ...state }).onConflictDoUpdate({ target: collateralBackoff.key, set: state }).run();
      },
    };
  }

  #getItem(key: string): CollateralItem | undefined {
    const row = this.#db.select().from(collateralItems).where(eq(collateralItems.key, key)).get();
    if (!row) return undefined;
    return { body: fromBase64(row.body) ?? new Uint8Array(), headers: JSON.parse(row.headers) as Record<string, string>, source: row.source, fetchedAt: row.fetchedAt, expiresAt: row.expiresAt };
  }

  #put(key: string, item: CollateralItem): void {
    const row = { key, body: toBase64(item.body), headers: JSON.stringify(item.headers), source: item.source, fetchedAt: item.fetchedAt, expiresAt: item.expiresAt };
    this.#db.insert(collateralItems).values(row).onConflictDoUpdate({ target: collateralItems.key, set: row }).run();
  }

  /** A VCEK for a chip at a TCB: cached, else fetched from KDS. */
  async snpVcek(input: SnpVcekInput): Promise<Result<{ der: Uint8Array; expiresAt: number }, CollateralError>> {
    const item = await this.#fetcher.get(vcekRequest(this.#vars().kds, input.product, input.chipId, input.tcb));
    return item.ok ? ok({ der: item.value.body, expiresAt: item.value.expiresAt }) : item;
  }

  /** The ASK (vcek) or ASVK (vlek) CRL of a product: cached until nextUpdate, else fetched. */
  async snpCrl(input: { product: SnpProductLine; signer: EndorsementSigner }): Promise<Result<{ der: Uint8Array; expiresAt: number }, CollateralError>> {
    const item = await this.#fetcher.get(crlRequest(this.#vars().kds, input.product, input.signer));
    return item.ok ? ok({ der: item.value.body, expiresAt: item.value.expiresAt }) : item;
  }

  /** The collateral directory for a TDX platform (FMSPC) whose PCK comes from `ca`. */
  async tdxCollateral(input: TdxCollateralInput): Promise<Result<{ files: Record<string, Uint8Array>; expiresAt: number }, CollateralError>> {
    if (!/^[0-9a-fA-F]{12}$/.test(input.fmspc)) return err({ reason: "collateral_invalid", detail: "fmspc must be 6 bytes of hex" });
    const { pcs, rootCrl } = this.#vars();
    const [tcbInfo, qeIdentity, pckCrl, rootCaCrl] = await Promise.all([
      this.#fetcher.get(tcbInfoRequest(pcs, input.fmspc)),
      this.#fetcher.get(qeIdentityRequest(pcs)),
      this.#fetcher.get(pckCrlRequest(pcs, input.ca)),
      this.#fetcher.get(rootCaCrlRequest(rootCrl)),
    ]);
    for (const r of [tcbInfo, qeIdentity, pckCrl, rootCaCrl]) if (!r.ok) return r;
    const items = { tcbInfo: ok1(tcbInfo), qeIdentity: ok1(qeIdentity), pckCrl: ok1(pckCrl), rootCaCrl: ok1(rootCaCrl) };
    const files = collateralFiles(items);
    if (!files.ok) return err({ reason: "collateral_invalid", detail: files.error });
    return ok({ files: files.value, expiresAt: Math.min(...Object.values(items).map((i) => i.expiresAt)) });
  }

  /** Air-gapped: an admin uploads a VCEK; it is stored under the key a KDS fetch would use. */
  async uploadSnpVcek(input: { der: Uint8Array }): Promise<Result<StoredCollateral, UploadError>> {
    // Verified to the pinned AMD roots before it is stored: a bad upload never displaces a good VCEK.
    const id = await verifiedVcekIdentity(input.der);
    if (!id.ok) return err({ reason: "invalid_collateral", detail: id.error });
    return this.#storeUpload(vcekKey(id.value.product, id.value.hwid, id.value.tcb), input.der, {}, id.value.notAfter);
  }

  async uploadSnpCrl(input: { product: SnpProductLine; signer: EndorsementSigner; der: Uint8Array }): Promise<Result<StoredCollateral, UploadError>> {
    // Only a CRL AMD's pinned ARK of that product signed is worth storing, and never an older one.
    const expiry = await verifiedCrlExpiry(input.der, input.product);
    if (!expiry.ok) return err({ reason: "invalid_collateral", detail: expiry.error });
    return this.#storeUpload(crlKey(input.product, input.signer), input.der, {}, expiry.value, crlIssuedAt);
  }

  /** Air-gapped TDX: the collateral directory (all seven files), as the verifier reads it. */
  async uploadTdxCollateral(input: { files: Record<string, Uint8Array> }): Promise<Result<StoredCollateral[], UploadError>> {
    const f = input.files;
    const missing = COLLATERAL_FILE_NAMES.filter((name) => !f[name]);
    if (missing.length > 0) return err({ reason: "invalid_collateral", detail: `missing ${missing.join(", ")}` });
    const unknown = Object.keys(f).filter((name) => !COLLATERAL_FILE_NAMES.includes(name));
    if (unknown.length > 0) return err({ reason: "invalid_collateral", detail: `unknown file(s) ${unknown.join(", ")}` });
    // Verified at ingest (signatures and chains to the pinned Intel root), and again at every use.
    const parsed = await parseTdxCollateral(f);
    if (!parsed.ok) return err({ reason: "invalid_collateral", detail: `${parsed.error.reason}: ${parsed.error.detail}` });
    const checked = await checkCollateral(parsed.value, await intelRoot());
    if (!checked.ok) return err({ reason: "invalid_collateral", detail: `${checked.error.reason}: ${checked.error.detail}` });
    const c = parsed.value;
    const ca = pckCrlCa(f["pck_crl.der"]!);
    if (!ca) return err({ reason: "invalid_collateral", detail: "pck_crl.der is not issued by an Intel PCK CA" });
    if (c.pckCrl.nextUpdate === undefined || c.rootCaCrl.nextUpdate === undefined) return err({ reason: "invalid_collateral", detail: "a CRL has no nextUpdate" });
    const items: [string, string, Uint8Array, Record<string, string>, number, IssuedAt][] = [
      ["tcb_info.json", tcbInfoKey(toHex(c.tcbInfo.fmspc)), f["tcb_info.json"]!, chainHeader("tcb", f["tcb_info_issuer_chain.pem"]!), c.tcbInfo.nextUpdate, tcbInfoIssuedAt],
      ["qe_identity.json", QE_IDENTITY_KEY, f["qe_identity.json"]!, chainHeader("qe", f["qe_identity_issuer_chain.pem"]!), c.qeIdentity.nextUpdate, qeIdentityIssuedAt],
      ["pck_crl.der", pckCrlKey(ca), f["pck_crl.der"]!, chainHeader("crl", f["pck_crl_issuer_chain.pem"]!), c.pckCrl.nextUpdate, crlIssuedAt],
      ["root_ca_crl.der", ROOT_CA_CRL_KEY, f["root_ca_crl.der"]!, {}, c.rootCaCrl.nextUpdate, crlIssuedAt],
    ];
    const now = this.#deps.clock.now();
    const expired = items.find((i) => i[4] <= now);
    if (expired) return err({ reason: "invalid_collateral", detail: `${expired[0]} has expired` });
    const stale = items.find(([, key, body, , , issuedAt]) => this.#olderThanStored(key, body, issuedAt));
    if (stale) return err({ reason: "invalid_collateral", detail: `${stale[0]} is older than the one already stored` });
    const results = this.#deps.storage.transactionSync(() => items.map(([, key, body, headers, expiresAt]) => this.#storeUpload(key, body, headers, expiresAt)));
    const stored: StoredCollateral[] = [];
    for (const r of results) {
      if (!r.ok) return r;
      stored.push(r.value);
    }
    return ok(stored);
  }

  /** What is cached, for operators (expired items and long-past back-off windows are dropped first). */
  listCollateral(): StoredCollateral[] {
    const now = this.#deps.clock.now();
    this.#db.delete(collateralItems).where(lte(collateralItems.expiresAt, now)).run();
    this.#db.delete(collateralBackoff).where(lte(collateralBackoff.nextAttemptAt, now - 24 * 3600_000)).run();
    return this.#db
      .select({ key: collateralItems.key, source: collateralItems.source, fetchedAt: collateralItems.fetchedAt, expiresAt: collateralItems.expiresAt })
      .from(collateralItems)
      .all();
  }

  /** True when an unexpired stored item was issued after `body` (no rollback). */
  #olderThanStored(key: string, body: Uint8Array, issuedAt: IssuedAt | undefined): boolean {
    const stored = issuedAt ? this.#getItem(key) : undefined;
    if (!stored || !issuedAt) return false;
    return this.#deps.clock.now() < stored.expiresAt && (issuedAt(stored.body) ?? 0) > (issuedAt(body) ?? 0);
  }

  #storeUpload(key: string, body: Uint8Array, headers: Record<string, string>, expiresAt: number, issuedAt?: IssuedAt): Result<StoredCollateral, UploadError> {
    const now = this.#deps.clock.now();
    if (expiresAt <= now) return err({ reason: "invalid_collateral", detail: `${key} has expired` });
    if (this.#olderThanStored(key, body, issuedAt)) return err({ reason: "invalid_collateral", detail: `${key}: older than the one already stored` });
    this.#put(key, { body, headers, source: "uploaded", fetchedAt: now, expiresAt });
    this.#storeApi().putBackoff(key, undefined);
    return ok({ key, source: "uploaded", fetchedAt: now, expiresAt });
  }
}

let root: ParsedCertificate | undefined;
async function intelRoot(): Promise<ParsedCertificate> {
  if (!root) {
    const parsed = parseCertificate(INTEL_SGX_ROOT_CA_DER);
    if (!parsed.ok) throw new TypeError("the pinned Intel SGX Root CA does not parse");
    root = parsed.value;
  }
  return root;
}

function ok1<T>(r: Result<T, unknown>): T {
  if (!r.ok) throw new TypeError("checked above");
  return r.value;
}
