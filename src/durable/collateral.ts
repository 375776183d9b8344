/**
 * CollateralStore: the Durable Object holding vendor collateral (see collateral-service.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { systemClock } from "../lib/clock";
import type { EndorsementSigner, SnpProductLine } from "../lib/attestation/collateral/amd-kds";
import { loadConfig } from "../lib/config";
import { CollateralService, type SnpVcekInput, type TdxCollateralInput } from "./collateral-service";
import { openDb } from "./db";
import * as schema from "./tables/collateral";
import migrations from "../../migrations/collateral/migrations.js";

export type { DeleteError, StoredCollateral, UploadError } from "./collateral-service";

/**
 * The Durable Object: one per deployment (`collateralStore(env)`), RPC verbs delegate to the service.
 * Vendor endpoints come from the configuration (AMD_KDS_URL, INTEL_PCS_URL or a PCCS, INTEL_ROOT_CA_CRL_URL).
 */
export class CollateralStore extends DurableObject<Env> {
  #service!: CollateralService;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      // The Worker refuses every request while the configuration is wrong, so none reaches us then.
      const loaded = loadConfig(env);
      if (!loaded.ok) throw new Error(`collateral store: ${loaded.error.detail}`);
      this.#service = new CollateralService({
        db: openDb(ctx, schema, migrations),
        storage: ctx.storage,
        fetch: (url, init) => fetch(url, init),
        clock: systemClock,
        sources: loaded.value.config.collateralSources,
      });
    });
  }

  snpVcek(input: SnpVcekInput) {
    return this.#service.snpVcek(input);
  }
  snpCrl(input: { product: SnpProductLine; signer: EndorsementSigner }) {
    return this.#service.snpCrl(input);
  }
  tdxCollateral(input: TdxCollateralInput) {
    return this.#service.tdxCollateral(input);
  }
  uploadSnpVcek(input: { der: Uint8Array }) {
    return this.#service.uploadSnpVcek(input);
  }
  uploadSnpCrl(input: { product: SnpProductLine; signer: EndorsementSigner; der: Uint8Array }) {
    return this.#service.uploadSnpCrl(input);
  }
  uploadTdxCollateral(input: { files: Record<string, Uint8Array> }) {
    return this.#service.uploadTdxCollateral(input);
  }
  listCollateral() {
    return this.#service.listCollateral();
  }
  deleteCollateral(input: { key: string }) {
    return this.#service.deleteCollateral(input);
  }
}

