/**
 * /admin/v1/collateral: attestation collateral for air-gapped deployments (upload) and for operators
 * (list, delete, pre-warm the cache from AMD KDS / Intel PCS). Authenticated by adminAuth.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { collateralStore } from "../../durable/addresses";
import { fromBase64, fromHex, fromPemAll, fromUtf8, toBase64 } from "../../lib/encoding";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { readJson } from "../middleware/json-body";

export const adminCollateral = new Hono<AppEnv>();

export const Product = z.enum(["Milan", "Genoa", "Turin"]);
export const Signer = z.enum(["vcek", "vlek"]);
/** A security patch level as KDS takes it: decimal digits only (no "", "0x44", "5e0", signs or spaces), 0-255. */
const Spl = z
  .string()
  .regex(/^[0-9]{1,3}$/, "must be a decimal number from 0 to 255")
  .transform(Number)
  .pipe(z.number().max(255, "must be a decimal number from 0 to 255"));

/** DER as sent, or the first PEM block with `label`. */
async function derBody(c: Context<AppEnv>, label: string): Promise<Uint8Array> {
  const raw = new Uint8Array(await c.req.arrayBuffer());
  if (raw.length === 0) throw new AppError("invalid_collateral", "The body is empty.");
  if (raw[0] !== 0x2d /* - */) return raw;
  const blocks = fromPemAll(fromUtf8(raw) ?? "", label);
  if (!blocks || blocks.length !== 1) throw new AppError("invalid_collateral", `The body must be DER or exactly one PEM ${label}.`);
  return blocks[0]!;
}

function stored<T>(r: { ok: true; value: T } | { ok: false; error: { detail: string } }): T {
  if (!r.ok) throw new AppError("invalid_collateral", r.error.detail);
  return r.value;
}

adminCollateral.get("/", async (c) => c.json({ items: await collateralStore(c.env).listCollateral() }, 200, { "Cache-Control": "no-store" }));

/** An item by the key the list shows (`snp/vcek/…`, `tdx/tcb/…`), slashes and all. */
adminCollateral.delete("/:key{.+}", async (c) => {
  const key = c.req.param("key");
  const r = await collateralStore(c.env).deleteCollateral({ key });
  if (!r.ok) throw new AppError("not_found", `No collateral item is stored under ${key.slice(0, 200)}.`);
  return c.body(null, 204, { "Cache-Control": "no-store" });
});

adminCollateral.put("/snp/vcek", async (c) => {
  const der = await derBody(c, "CERTIFICATE");
  return c.json(stored(await collateralStore(c.env).uploadSnpVcek({ der })), 201);
});

adminCollateral.put("/snp/crl/:product/:signer", async (c) => {
  const product = Product.safeParse(c.req.param("product"));
  const signer = Signer.safeParse(c.req.param("signer"));
  if (!product.success || !signer.success) throw new AppError("not_found", "Use /snp/crl/{Milan|Genoa|Turin}/{vcek|vlek}.");
  const der = await derBody(c, "X509 CRL");
  return c.json(stored(await collateralStore(c.env).uploadSnpCrl({ product: product.data, signer: signer.data, der })), 201);
});

export const TdxUpload = z.strictObject({ files: z.record(z.string(), z.string().max(512 * 1024)) });

adminCollateral.put("/tdx", async (c) => {
  const body = await readJson(c, TdxUpload);
  const files: Record<string, Uint8Array> = {};
  for (const [name, b64] of Object.entries(body.files)) {
    const bytes = fromBase64(b64);
    if (!bytes) throw new AppError("invalid_collateral", `files.${name} is not base64.`);
    files[name] = bytes;
  }
  return c.json({ items: stored(await collateralStore(c.env).uploadTdxCollateral({ files })) }, 201);
});

export const VcekQuery = z.strictObject({ product: Product, chip_id: z.string().regex(/^[0-9a-fA-F]{128}$/, "chip_id must be 64 bytes of hex"), bl: Spl, tee: Spl, snp: Spl, ucode: Spl, fmc: Spl.optional() });

adminCollateral.get("/snp/vcek", async (c) => {
  const q = VcekQuery.safeParse(c.req.query());
  if (!q.success) throw new AppError("invalid_request", `${q.error.issues[0]?.path.join(".") ?? "query"}: ${q.error.issues[0]?.message ?? "invalid"}`);
  const { product, chip_id, bl, tee, snp, ucode, fmc } = q.data;
  if ((product === "Turin") !== (fmc !== undefined)) throw new AppError("invalid_request", product === "Turin" ? "fmc is required for Turin." : `fmc is only defined for Turin, not ${product}.`);
  const r = await collateralStore(c.env).snpVcek({ product, chipId: fromHex(chip_id)!, tcb: { bootloader: bl, tee, snp, microcode: ucode, fmc } });
  if (!r.ok) throw new AppError("collateral_unavailable", r.error.detail);
  return c.body(r.value.der as Uint8Array<ArrayBuffer>, 200, { "Content-Type": "application/pkix-cert", "Cache-Control": "no-store" });
});

export const TdxQuery = z.strictObject({ fmspc: z.string().regex(/^[0-9a-fA-F]{12}$/, "fmspc must be 6 bytes of hex"), ca: z.enum(["platform", "processor"]).default("platform") });

adminCollateral.get("/tdx", async (c) => {
  const q = TdxQuery.safeParse(c.req.query());
  if (!q.success) throw new AppError("invalid_request", `${q.error.issues[0]?.path.join(".") ?? "query"}: ${q.error.issues[0]?.message ?? "invalid"}`);
  const r = await collateralStore(c.env).tdxCollateral(q.data);
  if (!r.ok) throw new AppError("collateral_unavailable", r.error.detail);
  const files = Object.fromEntries(Object.entries(r.value.files).map(([k, v]) => [k, toBase64(v)]));
  return c.json({ files, expires_at: Math.floor(r.value.expiresAt / 1000) }, 200, { "Cache-Control": "no-store" });
});
