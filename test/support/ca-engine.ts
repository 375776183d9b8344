/** The CertificateAuthority's engine over a test object's storage, with an injected clock. */
import { env } from "cloudflare:workers";
import type { ManualClock } from "../../src/lib/clock";
import { importKek } from "../../src/lib/crypto/keys";
import { fromBase64 } from "../../src/lib/encoding";
import { parseTrustDomain, type TrustDomain } from "../../src/lib/spiffe/id";
import type { KeyType } from "../../src/lib/x509/algorithms";
import { CaEngine } from "../../src/durable/ca-engine";
import type { CertificateAuthority } from "../../src/durable/ca";
import { openDb } from "../../src/durable/db";
import * as schema from "../../src/durable/tables/ca";
import migrations from "../../migrations/ca/migrations.js";

export const HOUR = 3600_000;
export const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
export const td = (parseTrustDomain("example.org") as { value: TrustDomain }).value;
/** The KEK of the Workers test pool's bindings (vitest.config.ts). */
export const KEK = fromBase64("3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs")!;

export function caStub(name: string): DurableObjectStub<CertificateAuthority> {
  const ns = env.CA as DurableObjectNamespace<CertificateAuthority>;
  return ns.get(ns.idFromName(name));
}

export async function engineOn(state: DurableObjectState, clock: ManualClock, kek = KEK, caKeyType: KeyType = "ec-p256"): Promise<CaEngine> {
  return new CaEngine({
    db: openDb(state, schema, migrations),
    storage: state.storage,
    kek: await importKek(kek),
    clock,
    settings: { trustDomain: td, caKeyType, caTtl: 24 * 3600 },
    serialize: (fn) => fn(),
  });
}
