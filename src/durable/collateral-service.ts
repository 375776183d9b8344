/**
 * The CollateralStore Durable Object's logic: one per deployment, holding vendor collateral for attestation —
 * AMD VCEKs and CRLs (KDS), Intel TDX TCB Info, QE Identity and CRLs (PCS/PCCS) — fetched on demand,
 * cached until shortly before they expire, and uploadable by an admin for air-gapped deployments.
 *
 * Invariants: an item is stored only after it verified to the pinned vendor roots as the item it is
 * stored as (the same verifiers judge fetched answers and uploads, lib/attestation/collateral/) and is
 * unexpired; a stored item is trusted only once it verified again in this object (so older rows that do
 * not verify are dropped, not served); a failed or unverifiable fetch opens a back-off window for its key
 * (no retry storms against KDS/PCS). The verifiers check everything again at use.
 */
import { eq, lte } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Clock } from "../lib/clock";
import { fromBase64, toBase64 } from "../lib/encoding";
import { err, ok, type Result } from "../lib/result";
import { CollateralFetcher, type Admitted, type BackoffState, type CollateralError, type CollateralItem, type CollateralStoreApi, type CollateralVerifier } from "../lib/attestation/collateral/fetcher";
import { crlRequest, verifiedSnpCrl, verifiedVcek, vcekRequest, type EndorsementSigner, type KdsTcb, type SnpProductLine } from "../lib/attestation/collateral/amd-kds";
import {
  chainHeader,
  collateralFiles,
  pckCrlRequest,
  qeIdentityRequest,
  rootCaCrlOf,
  rootCaCrlRequest,
  tcbInfoRequest,
  verifiedPckCrl,
  verifiedQeIdentity,
  verifiedRootCaCrl,
  verifiedTcbInfo,
  type PckCa,
} from "../lib/attestation/collateral/intel-pcs";
import type { CollateralSources } from "../lib/config";
import type * as schema from "./tables/collateral";
import { TDX_COLLATERAL_FILES } from "../lib/attestation/tdx/collateral";
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

export interface DeleteError {
  readonly reason: "not_found";
  readonly detail: string;
}

/** One uploaded item, named as the admin sent it. */
interface Upload {
  readonly name: string;
  readonly verify: CollateralVerifier;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
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
      deleteItem: (key) => void this.#db.delete(collateralItems).where(eq(collateralItems.key, key)).run(),
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
    const { pcs, rootCrl: rootCrlUrl } = this.#vars();
    // The Root CA CRL first: the other items' signers are checked against it.
    const rootCaCrl = await this.#fetcher.get(rootCaCrlRequest(rootCrlUrl));
    if (!rootCaCrl.ok) return rootCaCrl;
    const rootCrl = rootCaCrlOf(rootCaCrl.value.body);
    if (!rootCrl) return err({ reason: "collateral_unavailable", detail: "the stored Root CA CRL does not parse" });
    const [tcbInfo, qeIdentity, pckCrl] = await Promise.all([
      this.#fetcher.get(tcbInfoRequest(pcs, input.fmspc, rootCrl)),
      this.#fetcher.get(qeIdentityRequest(pcs, rootCrl)),
      this.#fetcher.get(pckCrlRequest(pcs, input.ca, rootCrl)),
    ]);
    if (!tcbInfo.ok) return tcbInfo;
    if (!qeIdentity.ok) return qeIdentity;
    if (!pckCrl.ok) return pckCrl;
    const items = { tcbInfo: tcbInfo.value, qeIdentity: qeIdentity.value, pckCrl: pckCrl.value, rootCaCrl: rootCaCrl.value };
    const files = collateralFiles(items);
    if (!files.ok) return err({ reason: "collateral_invalid", detail: files.error });
    return ok({ files: files.value, expiresAt: Math.min(...Object.values(items).map((i) => i.expiresAt)) });
  }

  /** Air-gapped: an admin uploads a VCEK; it is stored under the key a KDS fetch would use. */
  async uploadSnpVcek(input: { der: Uint8Array }): Promise<Result<StoredCollateral, UploadError>> {
    const stored = await this.#storeUploads([{ name: "the VCEK", verify: verifiedVcek, body: input.der, headers: {} }]);
    return stored.ok ? ok(stored.value[0]!) : stored;
  }

  async uploadSnpCrl(input: { product: SnpProductLine; signer: EndorsementSigner; der: Uint8Array }): Promise<Result<StoredCollateral, UploadError>> {
    const verify: CollateralVerifier = (body) => verifiedSnpCrl(body, input.product, input.signer);
    const stored = await this.#storeUploads([{ name: "the CRL", verify, body: input.der, headers: {} }]);
    return stored.ok ? ok(stored.value[0]!) : stored;
  }

  /** Air-gapped TDX: the collateral directory (all seven files), as the verifier reads it. */
  async uploadTdxCollateral(input: { files: Record<string, Uint8Array> }): Promise<Result<StoredCollateral[], UploadError>> {
    const f = input.files;
    const missing = COLLATERAL_FILE_NAMES.filter((name) => !f[name]);
    if (missing.length > 0) return err({ reason: "invalid_collateral", detail: `missing ${missing.join(", ")}` });
    const unknown = Object.keys(f).filter((name) => !COLLATERAL_FILE_NAMES.includes(name));
    if (unknown.length > 0) return err({ reason: "invalid_collateral", detail: `unknown file(s) ${unknown.join(", ")}` });
    const file = (name: string) => f[name]!;
    const rootFile = TDX_COLLATERAL_FILES.rootCaCrl;
    // Each file is judged as the PCS answer it stands for would be; the Root CA CRL first, as the others are checked against it.
    const root = await this.#admitUpload({ name: rootFile, verify: verifiedRootCaCrl, body: file(rootFile), headers: {} });
    if (!root.ok) return root;
    const rootCrl = rootCaCrlOf(file(rootFile))!;
    const others: Upload[] = [
      { name: TDX_COLLATERAL_FILES.tcbInfo, verify: (b, h) => verifiedTcbInfo(b, h, rootCrl), body: file(TDX_COLLATERAL_FILES.tcbInfo), headers: chainHeader("tcb", file(TDX_COLLATERAL_FILES.tcbInfoIssuerChain)) },
      { name: TDX_COLLATERAL_FILES.qeIdentity, verify: (b, h) => verifiedQeIdentity(b, h, rootCrl), body: file(TDX_COLLATERAL_FILES.qeIdentity), headers: chainHeader("qe", file(TDX_COLLATERAL_FILES.qeIdentityIssuerChain)) },
      { name: TDX_COLLATERAL_FILES.pckCrl, verify: (b, h) => verifiedPckCrl(b, h, rootCrl), body: file(TDX_COLLATERAL_FILES.pckCrl), headers: chainHeader("crl", file(TDX_COLLATERAL_FILES.pckCrlIssuerChain)) },
    ];
    return this.#storeUploads(others, [root.value]);
  }

  /** Removes a stored item (say, a bad upload an operator wants gone); a later request fetches it afresh. */
  deleteCollateral(input: { key: string }): Result<StoredCollateral, DeleteError> {
    const row = this.#db
      .delete(collateralItems)
      .where(eq(collateralItems.key, input.key))
      .returning({ key: collateralItems.key, source: collateralItems.source, fetchedAt: collateralItems.fetchedAt, expiresAt: collateralItems.expiresAt })
      .get();
    return row ? ok(row) : err({ reason: "not_found", detail: `no collateral item ${input.key}` });
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

  /** An uploaded item judged as a fetched answer would be (verified, unexpired, not older than the stored one). */
  async #admitUpload(u: Upload): Promise<Result<Admitted, UploadError>> {
    const admitted = await this.#fetcher.admit(u.verify, u.body, u.headers);
    return admitted.ok ? admitted : err({ reason: "invalid_collateral", detail: `${u.name}: ${admitted.error}` });
  }

  /** Admits every upload, then stores them all (with those `already` admitted) in one transaction, or none. */
  async #storeUploads(uploads: readonly Upload[], already: readonly Admitted[] = []): Promise<Result<StoredCollateral[], UploadError>> {
    const admitted = [...already];
    for (const u of uploads) {
      const a = await this.#admitUpload(u);
      if (!a.ok) return a;
      admitted.push(a.value);
    }
    const api = this.#storeApi();
    this.#deps.storage.transactionSync(() => {
      for (const { key, item } of admitted) {
        this.#put(key, item);
        api.putBackoff(key, undefined);
      }
    });
    return ok(admitted.map(({ key, item }) => ({ key, source: item.source, fetchedAt: item.fetchedAt, expiresAt: item.expiresAt })));
  }
}
