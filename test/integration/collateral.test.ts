/**
 * Attestation collateral: the CollateralStore over its real SQLite storage, with AMD KDS and Intel PCS
 * played by a fake fetch serving real collateral at the vectors' times, and the admin HTTP surface.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/lib/clock";
import { fromHex } from "../../src/lib/encoding";
import { CollateralService } from "../../src/durable/collateral-service";
import { openDb } from "../../src/durable/db";
import * as schema from "../../src/durable/tables/collateral";
import migrations from "../../migrations/collateral/migrations.js";
import type { CollateralStore } from "../../src/durable/collateral";
import { fixture, fixtureText } from "../support/fixtures-workers";
import { adminPost, call, problemOf, ADMIN_TOKEN } from "../support/worker-client";
import { bytesToB64 } from "../support/x509";
import { SnpVerifier } from "../../src/lib/attestation/snp/verify";
import { TdxVerifier } from "../../src/lib/attestation/tdx/verify";
import { parseTdxCollateral } from "../../src/lib/attestation/tdx/collateral";

const MILAN_CHIP =
  "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d";
const MILAN_TCB = { bootloader: 2, tee: 0, snp: 5, microcode: 68 };
const TDX = "tdx/automata-v5-td15-90c06f-alibaba";
const TDX_AT = Date.parse("2025-06-15T00:00:00Z");
const TDX_FILES = ["tcb_info.json", "tcb_info_issuer_chain.pem", "qe_identity.json", "qe_identity_issuer_chain.pem", "pck_crl.der", "pck_crl_issuer_chain.pem", "root_ca_crl.der"];

function stubFor(name: string): DurableObjectStub<CollateralStore> {
  const ns = env.COLLATERAL as DurableObjectNamespace<CollateralStore>;
  return ns.get(ns.idFromName(name));
}

/** A vendor service played from fixtures; records every URL it is asked for. */
function vendor(routes: Record<string, () => Response>) {
  const calls: string[] = [];
  const fetch = async (url: string) => {
    calls.push(url);
    const hit = Object.entries(routes).find(([prefix]) => url.startsWith(prefix));
    return hit ? hit[1]() : new Response("not found", { status: 404 });
  };
  return { fetch, calls };
}

function service(state: DurableObjectState, clock: ManualClock, fetch: (url: string) => Promise<Response>): CollateralService {
  return new CollateralService({
    db: openDb(state, schema, migrations),
    storage: state.storage,
    fetch,
    clock,
    sources: { kds: "https://kds.test", pcs: "https://pcs.test", rootCrl: "https://root.test/IntelSGXRootCA.der" },
  });
}

type TdxFile = "tcb_info.json" | "qe_identity.json" | "pck_crl.der" | "root_ca_crl.der";

/** Intel PCS and the root CRL host, serving the vector's collateral; `answers` replaces a body (read at each request). */
const pcsRoutes = (answers: Partial<Record<TdxFile, Uint8Array>> = {}, pcs = "https://pcs.test", rootCrl = "https://root.test/IntelSGXRootCA.der") => {
  const body = (name: TdxFile) => answers[name] ?? fixture(`${TDX}/${name}`);
  const chain = (name: string) => encodeURIComponent(fixtureText(`${TDX}/${name}`));
  return {
    [`${pcs}/tdx/certification/v4/tcb?fmspc=90c06f000000`]: () => new Response(body("tcb_info.json"), { headers: { "TCB-Info-Issuer-Chain": chain("tcb_info_issuer_chain.pem") } }),
    [`${pcs}/tdx/certification/v4/qe/identity`]: () => new Response(body("qe_identity.json"), { headers: { "SGX-Enclave-Identity-Issuer-Chain": chain("qe_identity_issuer_chain.pem") } }),
    [`${pcs}/sgx/certification/v4/pckcrl?ca=platform&encoding=der`]: () => new Response(body("pck_crl.der"), { headers: { "SGX-PCK-CRL-Issuer-Chain": chain("pck_crl_issuer_chain.pem") } }),
    [rootCrl]: () => new Response(body("root_ca_crl.der")),
  };
};

describe("AMD KDS collateral", () => {
  it("fetches a VCEK from the KDS URL for the chip and TCB once, then serves it from storage", async () => {
    await runInDurableObject(stubFor("kds"), async (_i, state) => {
      const kds = vendor({ "https://kds.test/vcek/v1/Milan/": () => new Response(fixture("snp/gsg-milan-v2/vcek.der")) });
      const svc = service(state, new ManualClock(Date.parse("2022-09-25T00:55:28Z")), kds.fetch);
      const input = { product: "Milan" as const, chipId: fromHex(MILAN_CHIP)!, tcb: MILAN_TCB };
      const first = await svc.snpVcek(input);
      expect(first.ok && first.value.der).toEqual(fixture("snp/gsg-milan-v2/vcek.der"));
      expect(kds.calls).toEqual([`https://kds.test/vcek/v1/Milan/${MILAN_CHIP}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68`]);
      expect((await svc.snpVcek(input)).ok).toBe(true);
      // A new service over the same storage (an evicted object) still has it.
      expect((await service(state, new ManualClock(Date.parse("2023-01-01T00:00:00Z")), kds.fetch).snpVcek(input)).ok).toBe(true);
      expect(kds.calls).toHaveLength(1);
    });
  });

  it("respects KDS rate limits: after a 429 nothing is requested until Retry-After has passed", async () => {
    await runInDurableObject(stubFor("kds-429"), async (_i, state) => {
      const kds = vendor({ "https://kds.test/": () => new Response("slow down", { status: 429, headers: { "Retry-After": "120" } }) });
      const clock = new ManualClock(Date.parse("2022-09-25T00:55:28Z"));
      const svc = service(state, clock, kds.fetch);
      const input = { product: "Milan" as const, chipId: fromHex(MILAN_CHIP)!, tcb: MILAN_TCB };
      for (let i = 0; i < 5; i++) expect(await svc.snpVcek(input)).toMatchObject({ ok: false, error: { reason: "collateral_unavailable" } });
      expect(kds.calls).toHaveLength(1);
      clock.advance(121_000);
      await svc.snpVcek(input);
      expect(kds.calls).toHaveLength(2);
    });
  });

  it("an uploaded VCEK (air-gapped) is served under the key a fetch would use, without any fetch", async () => {
    await runInDurableObject(stubFor("kds-upload"), async (_i, state) => {
      const kds = vendor({});
      const svc = service(state, new ManualClock(Date.parse("2022-09-25T00:55:28Z")), kds.fetch);
      const up = await svc.uploadSnpVcek({ der: fixture("snp/gsg-milan-v2/vcek.der") });
      expect(up).toMatchObject({ ok: true, value: { key: `snp/vcek/Milan/${MILAN_CHIP}/blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68`, source: "uploaded" } });
      const got = await svc.snpVcek({ product: "Milan", chipId: fromHex(MILAN_CHIP)!, tcb: MILAN_TCB });
      expect(got.ok).toBe(true);
      expect(kds.calls).toHaveLength(0);
      expect(await svc.uploadSnpVcek({ der: fixture(`${TDX}/pck_crl.der`) })).toMatchObject({ ok: false, error: { reason: "invalid_collateral" } });
    });
  });
});

describe("AMD KDS answers are verified before they are stored", () => {
  it("a forged or mismatched VCEK never displaces anything; a good one is stored", async () => {
    await runInDurableObject(stubFor("kds-forged"), async (_i, state) => {
      const good = fixture("snp/gsg-milan-v2/vcek.der");
      const forged = good.slice();
      forged[forged.length - 10]! ^= 1; // inside AMD's signature
      const answers = [forged, good];
      const kds = vendor({ "https://kds.test/": () => new Response(answers.shift()!) });
      const clock = new ManualClock(Date.parse("2022-09-25T00:55:28Z"));
      const svc = service(state, clock, kds.fetch);
      const input = { product: "Milan" as const, chipId: fromHex(MILAN_CHIP)!, tcb: MILAN_TCB };
      expect(await svc.snpVcek(input)).toMatchObject({ ok: false, error: { detail: expect.stringContaining("vcek_chain_invalid") } });
      clock.advance(61_000);
      expect(await svc.snpVcek(input)).toMatchObject({ ok: true });
      // A VCEK for another TCB is not stored under this one's key.
      const otherTcb = vendor({ "https://kds.test/": () => new Response(good) });
      const other = await service(state, clock, otherTcb.fetch).snpVcek({ ...input, tcb: { ...MILAN_TCB, snp: 6 } });
      expect(other).toMatchObject({ ok: false, error: { detail: expect.stringMatching(/it is for snp\/vcek\/Milan\/.*snpSPL=5.*, not .*snpSPL=6/) } });
      expect(await svc.uploadSnpVcek({ der: forged })).toMatchObject({ ok: false, error: { reason: "invalid_collateral" } });
    });
  });
});

describe("Intel PCS collateral", () => {
  it("assembles the collateral directory from PCS (issuer chains from headers), cached until refresh", async () => {
    await runInDurableObject(stubFor("pcs"), async (_i, state) => {
      const pcs = vendor(pcsRoutes());
      const svc = service(state, new ManualClock(TDX_AT), pcs.fetch);
      const r = await svc.tdxCollateral({ fmspc: "90C06F000000", ca: "platform" });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      for (const name of TDX_FILES) expect(r.value.files[name], name).toEqual(fixture(`${TDX}/${name}`));
      expect(r.value.expiresAt).toBe(Date.parse("2025-07-04T09:19:31Z"));
      await svc.tdxCollateral({ fmspc: "90c06f000000", ca: "platform" });
      expect(pcs.calls).toHaveLength(4);
    });
  });

  it("an uploaded collateral directory is served without fetching; incomplete or foreign uploads are refused", async () => {
    await runInDurableObject(stubFor("pcs-upload"), async (_i, state) => {
      const pcs = vendor({});
      const svc = service(state, new ManualClock(TDX_AT), pcs.fetch);
      const files = Object.fromEntries(TDX_FILES.map((n) => [n, fixture(`${TDX}/${n}`)]));
      expect((await svc.uploadTdxCollateral({ files })).ok).toBe(true);
      const r = await svc.tdxCollateral({ fmspc: "90c06f000000", ca: "platform" });
      expect(r.ok && r.value.files["qe_identity.json"]).toEqual(files["qe_identity.json"]);
      expect(pcs.calls).toHaveLength(0);

      const { "pck_crl.der": _dropped, ...incomplete } = files;
      expect(await svc.uploadTdxCollateral({ files: incomplete })).toMatchObject({ ok: false, error: { detail: expect.stringContaining("pck_crl.der") } });
      expect(await svc.uploadTdxCollateral({ files: { ...files, "extra.bin": new Uint8Array(1) } })).toMatchObject({ ok: false });
      expect(await svc.uploadTdxCollateral({ files: { ...files, "tcb_info.json": new TextEncoder().encode("{}") } })).toMatchObject({ ok: false });
      const later = service(state, new ManualClock(Date.parse("2026-01-01T00:00:00Z")), pcs.fetch);
      expect(await later.uploadTdxCollateral({ files })).toMatchObject({ ok: false, error: { detail: expect.stringContaining("expired") } });
    });
  });
});

describe("verifying evidence in workerd with collateral from the store", () => {
  it("SEV-SNP: a report verifies with the VCEK the store serves", async () => {
    await runInDurableObject(stubFor("use-snp"), async (_i, state) => {
      const at = Date.parse("2022-09-25T00:55:28Z");
      const kds = vendor({ "https://kds.test/vcek/v1/Milan/": () => new Response(fixture("snp/gsg-milan-v2/vcek.der")) });
      const vcek = await service(state, new ManualClock(at), kds.fetch).snpVcek({ product: "Milan", chipId: fromHex(MILAN_CHIP)!, tcb: MILAN_TCB });
      expect(vcek.ok).toBe(true);
      if (!vcek.ok) return;
      const claims = await new SnpVerifier().verify({ report: fixture("snp/gsg-milan-v2/report.bin"), endorsementCert: vcek.value.der, now: at });
      expect(claims).toMatchObject({ ok: true, value: { product: "Milan", signer: "vcek", chip_id: MILAN_CHIP } });
    });
  });

  it("SEV-SNP: a CRL upload is kept only if the product's pinned ARK signed it", async () => {
    await runInDurableObject(stubFor("snp-crl"), async (_i, state) => {
      const svc = service(state, new ManualClock(Date.parse("2025-06-01T00:00:00Z")), vendor({}).fetch);
      expect(await svc.uploadSnpCrl({ product: "Milan", signer: "vcek", der: fixture("snp/crl/amd-milan-crl.der") })).toMatchObject({ ok: true });
      expect(await svc.snpCrl({ product: "Milan", signer: "vcek" })).toMatchObject({ ok: true });
      expect(await svc.uploadSnpCrl({ product: "Milan", signer: "vcek", der: fixture("snp/crl/amd-genoa-crl.der") })).toMatchObject({ ok: false, error: { detail: expect.stringContaining("crl_issuer_mismatch") } });
      const forged = fixture("snp/crl/amd-milan-crl.der").slice();
      forged[forged.length - 3]! ^= 1;
      expect(await svc.uploadSnpCrl({ product: "Milan", signer: "vcek", der: forged })).toMatchObject({ ok: false, error: { detail: expect.stringContaining("crl_signature_invalid") } });
    });
  });

  it("TDX: a quote verifies (UpToDate) with the collateral directory the store assembles from PCS", async () => {
    await runInDurableObject(stubFor("use-tdx"), async (_i, state) => {
      const store = service(state, new ManualClock(TDX_AT), vendor(pcsRoutes()).fetch);
      const got = await store.tdxCollateral({ fmspc: "90c06f000000", ca: "platform" });
      expect(got.ok).toBe(true);
      if (!got.ok) return;
      const collateral = await parseTdxCollateral(got.value.files);
      expect(collateral.ok).toBe(true);
      if (!collateral.ok) return;
      const claims = await new TdxVerifier().verify({ quote: fixture(`${TDX}/quote.bin`), collateral: collateral.value, now: TDX_AT });
      expect(claims).toMatchObject({ ok: true, value: { tcb_status: "UpToDate", quote_version: 5 } });
    });
  });

  it("TDX: tampered collateral is refused at upload (signatures checked to the pinned Intel root)", async () => {
    await runInDurableObject(stubFor("tdx-tamper"), async (_i, state) => {
      const svc = service(state, new ManualClock(TDX_AT), vendor({}).fetch);
      const files = Object.fromEntries(TDX_FILES.map((n) => [n, fixture(`${TDX}/${n}`)]));
      const text = new TextDecoder().decode(files["tcb_info.json"]);
      const tampered = new TextEncoder().encode(text.replace('"UpToDate"', '"OutOfDate"'));
      expect(tampered).not.toEqual(files["tcb_info.json"]);
      expect(await svc.uploadTdxCollateral({ files: { ...files, "tcb_info.json": tampered } })).toMatchObject({ ok: false, error: { reason: "invalid_collateral" } });
    });
  });
});

describe("admin collateral API", () => {
  it("uploads a VCEK (DER or PEM) and lists it", async () => {
    const der = fixture("snp/gsg-milan-v2/vcek.der");
    const res = await call("/admin/v1/collateral/snp/vcek", { method: "PUT", headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/pkix-cert" }, body: der });
    expect(res.status).toBe(201);
    const pem = `-----BEGIN CERTIFICATE-----\n${bytesToB64(der)}\n-----END CERTIFICATE-----\n`;
    const again = await call("/admin/v1/collateral/snp/vcek", { method: "PUT", headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: pem });
    expect(again.status).toBe(201);
    const list = (await (await call("/admin/v1/collateral", { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { items: { key: string; source: string }[] };
    expect(list.items).toEqual(expect.arrayContaining([expect.objectContaining({ key: expect.stringMatching(/^snp\/vcek\/Milan\//), source: "uploaded" })]));
  });

  it.each([
    ["garbage as a VCEK", "/admin/v1/collateral/snp/vcek", "PUT", "not a certificate", 400, "invalid_collateral"],
    ["an empty body", "/admin/v1/collateral/snp/vcek", "PUT", "", 400, "invalid_collateral"],
    ["a CRL for an unknown product", "/admin/v1/collateral/snp/crl/Rome/vcek", "PUT", "x", 404, "not_found"],
    ["expired TDX collateral", "/admin/v1/collateral/tdx", "PUT", "tdx", 400, "invalid_collateral"],
    ["a bad chip id query", "/admin/v1/collateral/snp/vcek?product=Milan&chip_id=zz&bl=1&tee=0&snp=1&ucode=1", "GET", undefined, 400, "invalid_request"],
    ["a bad fmspc query", "/admin/v1/collateral/tdx?fmspc=xyz", "GET", undefined, 400, "invalid_request"],
  ])("rejects %s", async (_name, path, method, body, status, code) => {
    const init: RequestInit = { method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": body === "tdx" ? "application/json" : "application/octet-stream" } };
    if (body === "tdx") init.body = JSON.stringify({ files: Object.fromEntries(TDX_FILES.map((n) => [n, bytesToB64(fixture(`${TDX}/${n}`))])) });
    else if (body !== undefined) init.body = body;
    const res = await call(path, init);
    expect(res.status).toBe(status);
    expect(await problemOf(res)).toMatchObject({ code });
  });

  it("requires the admin token", async () => {
    const res = await call("/admin/v1/collateral");
    expect(res.status).toBe(401);
  });

  it("refuses unknown fields in a TDX upload", async () => {
    const res = await adminPost("/admin/v1/collateral/tdx", { files: {}, extra: 1 }, {});
    expect(res.status).toBe(404); // PUT only
    const put = await call("/admin/v1/collateral/tdx", { method: "PUT", headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify({ files: {}, extra: 1 }) });
    expect(await problemOf(put)).toMatchObject({ code: "unknown_field" });
  });
});

const DAY = 86_400_000;
const AUTH = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const TDX_INPUT = { fmspc: "90c06f000000", ca: "platform" } as const;
/** Validly signed by Intel, but the TCB Info of FMSPC 00806f050000. */
const OTHER_FMSPC_TCB_INFO = "tdx/negative/automata-v5-td15-90c06f-alibaba--wrong-fmspc-tcbinfo/tcb_info.json";

/** What a forging PCS serves (issue 7): the document with fresh dates, issued after the genuine one; its signature no longer holds. */
function freshDated(name: "tcb_info.json" | "qe_identity.json"): Uint8Array {
  const text = new TextDecoder().decode(fixture(`${TDX}/${name}`));
  const forged = text.replace(/"issueDate":"[^"]+"/, '"issueDate":"2025-06-14T00:00:00Z"').replace(/"nextUpdate":"[^"]+"/, '"nextUpdate":"2030-01-01T00:00:00Z"');
  expect(forged).not.toBe(text);
  return new TextEncoder().encode(forged);
}

/** A CRL whose signature no longer verifies (the last byte of ECDSA s flipped); it still parses. */
function badSignature(name: "pck_crl.der" | "root_ca_crl.der"): Uint8Array {
  const der = fixture(`${TDX}/${name}`).slice();
  der[der.length - 1]! ^= 1;
  return der;
}

const FORGED: [TdxFile, string, () => Uint8Array][] = [
  ["tcb_info.json", "tdx/tcb/90c06f000000", () => freshDated("tcb_info.json")],
  ["qe_identity.json", "tdx/qe-identity", () => freshDated("qe_identity.json")],
  ["pck_crl.der", "tdx/pck-crl/platform", () => badSignature("pck_crl.der")],
  ["root_ca_crl.der", "tdx/root-ca-crl", () => badSignature("root_ca_crl.der")],
];

const keysOf = (svc: CollateralService) => svc.listCollateral().map((i) => i.key);

describe("Intel PCS answers are verified before they are stored", () => {
  it.each(FORGED)("%s that does not verify is not stored and opens the back-off window; a genuine answer then is stored", async (name, key, forged) => {
    await runInDurableObject(stubFor(`pcs-forged-${name}`), async (_i, state) => {
      const answers: Partial<Record<TdxFile, Uint8Array>> = { [name]: forged() };
      const pcs = vendor(pcsRoutes(answers));
      const clock = new ManualClock(TDX_AT);
      const svc = service(state, clock, pcs.fetch);
      expect(await svc.tdxCollateral(TDX_INPUT)).toMatchObject({ ok: false, error: { reason: "collateral_unavailable" } });
      expect(keysOf(svc)).not.toContain(key);
      const asked = pcs.calls.length;
      expect(await svc.tdxCollateral(TDX_INPUT)).toMatchObject({ ok: false, error: { reason: "collateral_unavailable", detail: expect.stringContaining("paused") } });
      expect(pcs.calls).toHaveLength(asked);
      delete answers[name];
      clock.advance(61_000);
      const r = await svc.tdxCollateral(TDX_INPUT);
      expect(r.ok && r.value.files[name]).toEqual(fixture(`${TDX}/${name}`));
      expect(keysOf(svc)).toContain(key);
    });
  });

  it("a TCB Info for another FMSPC is not stored, neither under the FMSPC asked for nor under its own", async () => {
    await runInDurableObject(stubFor("pcs-other-fmspc"), async (_i, state) => {
      const svc = service(state, new ManualClock(TDX_AT), vendor(pcsRoutes({ "tcb_info.json": fixture(OTHER_FMSPC_TCB_INFO) })).fetch);
      expect(await svc.tdxCollateral(TDX_INPUT)).toMatchObject({ ok: false, error: { reason: "collateral_unavailable", detail: expect.stringContaining("00806f050000") } });
      expect(keysOf(svc).filter((k) => k.startsWith("tdx/tcb/"))).toEqual([]);
    });
  });

  it("the Platform CA's CRL is not stored as the Processor CA's", async () => {
    await runInDurableObject(stubFor("pcs-other-ca"), async (_i, state) => {
      const routes = pcsRoutes();
      const platform = routes["https://pcs.test/sgx/certification/v4/pckcrl?ca=platform&encoding=der"]!;
      const svc = service(state, new ManualClock(TDX_AT), vendor({ ...routes, "https://pcs.test/sgx/certification/v4/pckcrl?ca=processor&encoding=der": platform }).fetch);
      expect(await svc.tdxCollateral({ ...TDX_INPUT, ca: "processor" })).toMatchObject({ ok: false, error: { reason: "collateral_unavailable" } });
      expect(keysOf(svc).filter((k) => k.startsWith("tdx/pck-crl/"))).toEqual([]);
    });
  });
});

describe("the rollback guard compares only verified items", () => {
  /** A row as an older version stored it: a forged TCB Info issued after the genuine one, usable until 2030. */
  function plantForgedTcbInfo(state: DurableObjectState): void {
    const headers = { "tcb-info-issuer-chain": encodeURIComponent(fixtureText(`${TDX}/tcb_info_issuer_chain.pem`)) };
    openDb(state, schema, migrations)
      .insert(schema.collateralItems)
      .values({ key: "tdx/tcb/90c06f000000", body: bytesToB64(freshDated("tcb_info.json")), headers: JSON.stringify(headers), source: "fetched", fetchedAt: TDX_AT - DAY, expiresAt: Date.parse("2030-01-01T00:00:00Z") })
      .run();
  }

  it("a stored item that does not verify is not served, and a genuine answer replaces it", async () => {
    await runInDurableObject(stubFor("rollback-fetch"), async (_i, state) => {
      const svc = service(state, new ManualClock(TDX_AT), vendor(pcsRoutes()).fetch);
      plantForgedTcbInfo(state);
      const r = await svc.tdxCollateral(TDX_INPUT);
      expect(r.ok && r.value.files["tcb_info.json"]).toEqual(fixture(`${TDX}/tcb_info.json`));
      expect(svc.listCollateral().find((i) => i.key === "tdx/tcb/90c06f000000")).toMatchObject({ expiresAt: Date.parse("2025-07-05T03:43:45Z") });
    });
  });

  it("a stored item that does not verify does not make a genuine upload 'older than the one already stored'", async () => {
    await runInDurableObject(stubFor("rollback-upload"), async (_i, state) => {
      const svc = service(state, new ManualClock(TDX_AT), vendor({}).fetch);
      plantForgedTcbInfo(state);
      const files = Object.fromEntries(TDX_FILES.map((n) => [n, fixture(`${TDX}/${n}`)]));
      expect(await svc.uploadTdxCollateral({ files })).toMatchObject({ ok: true });
      const r = await svc.tdxCollateral(TDX_INPUT);
      expect(r.ok && r.value.files["tcb_info.json"]).toEqual(files["tcb_info.json"]);
    });
  });
});

describe("admin collateral API: deleting, pre-warm queries, unverifiable answers", () => {
  let answered = 0;
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("DELETE /admin/v1/collateral/{key} removes a listed item (204), then answers 404", async () => {
    const put = await call("/admin/v1/collateral/snp/vcek", { method: "PUT", headers: AUTH, body: fixture("snp/gsg-milan-v2/vcek.der") });
    expect(put.status).toBe(201);
    const { key } = (await put.json()) as { key: string };
    const list = async () => ((await (await call("/admin/v1/collateral", { headers: AUTH })).json()) as { items: { key: string }[] }).items.map((i) => i.key);
    expect(await list()).toContain(key);
    const del = await call(`/admin/v1/collateral/${key}`, { method: "DELETE", headers: AUTH });
    expect(del.status).toBe(204);
    expect(await list()).not.toContain(key);
    const again = await call(`/admin/v1/collateral/${key}`, { method: "DELETE", headers: AUTH });
    expect(again.status).toBe(404);
    expect(await problemOf(again)).toMatchObject({ code: "not_found" });
    expect((await call(`/admin/v1/collateral/${key}`, { method: "DELETE" })).status).toBe(401);
  });

  it.each(["bl=", "bl=0x44", "bl=5e0", "bl=+2", "bl=%202", "bl=2.0", "bl=-1", "bl=256"])("the VCEK pre-warm query refuses %s (decimal digits only, 0-255)", async (bl) => {
    vi.stubGlobal("fetch", () => Promise.reject(new Error("no network in tests")));
    const res = await call(`/admin/v1/collateral/snp/vcek?product=Milan&chip_id=${MILAN_CHIP}&${bl}&tee=0&snp=5&ucode=68`, { headers: AUTH });
    expect(res.status).toBe(400);
    expect(await problemOf(res)).toMatchObject({ code: "invalid_request", detail: expect.stringContaining("bl") });
  });

  const INTEL_PCS = "https://api.trustedservices.intel.com";
  const TCB_URL = `${INTEL_PCS}/tdx/certification/v4/tcb?fmspc=90c06f000000`;
  const tcbAnswer = (body: () => Uint8Array, chainHeader: string) => () => new Response(body(), { headers: { "TCB-Info-Issuer-Chain": chainHeader } });
  const realChain = () => encodeURIComponent(fixtureText(`${TDX}/tcb_info_issuer_chain.pem`));
  it.each([
    ["TCB Info with fresh dates (its signature broken)", tcbAnswer(() => freshDated("tcb_info.json"), realChain())],
    ["an HTML page as TCB Info", tcbAnswer(() => new TextEncoder().encode("<html>maintenance</html>"), realChain())],
    ["TCB Info with an undecodable issuer-chain header", tcbAnswer(() => fixture(`${TDX}/tcb_info.json`), "%E0%A4%A")],
    ["the TCB Info of another FMSPC", tcbAnswer(() => fixture(OTHER_FMSPC_TCB_INFO), realChain())],
  ])("%s is a 503 collateral_unavailable problem (never a 500), and is not cached", async (_name, answer) => {
    // The deployment's own store (real clock and fetch): both are stubbed, one answer every 3 h so no back-off window is still open.
    const at = TDX_AT + answered++ * 3 * 3600_000;
    vi.useFakeTimers({ toFake: ["Date"], now: at });
    const pcs = vendor({ ...pcsRoutes({}, INTEL_PCS, "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"), [TCB_URL]: answer });
    vi.stubGlobal("fetch", (input: RequestInfo | URL) => pcs.fetch(input instanceof Request ? input.url : String(input)));
    const res = await call("/admin/v1/collateral/tdx?fmspc=90c06f000000", { headers: AUTH });
    expect(res.status).toBe(503);
    expect(await problemOf(res)).toMatchObject({ code: "collateral_unavailable" });
    expect(pcs.calls).toContain(TCB_URL);
    const list = (await (await call("/admin/v1/collateral", { headers: AUTH })).json()) as { items: { key: string }[] };
    expect(list.items.map((i) => i.key).filter((k) => k.startsWith("tdx/tcb/"))).toEqual([]);
  });
});
