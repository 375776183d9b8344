/** /admin/v1: admin minting (as `spire-server x509 mint` / `jwt mint`). Authenticated by adminAuth. */
import { Hono } from "hono";
import { caFor } from "../../durable/addresses";
import { fromBase64, toBase64 } from "../../lib/encoding";
import type { AppEnv } from "../context";
import { caUnavailable, svidErrorToAppError } from "../do-errors";
import { AppError } from "../errors";
import { readJson } from "../middleware/json-body";
import { MintJwtSvidBody, MintX509SvidBody } from "../schemas/admin";
import { issuerFor } from "./oidc";
import { decodeCsrText } from "../../lib/x509/csr";
import { packedCertificate } from "../../lib/ca/issue";

export const admin = new Hono<AppEnv>();

admin.post("/svids/x509", async (c) => {
  const body = await readJson(c, MintX509SvidBody);
  const config = c.get("config");
  let publicKey: Uint8Array | undefined;
  let csr: Uint8Array | undefined;
  if (body.public_key !== undefined) {
    publicKey = fromBase64(body.public_key);
    if (!publicKey || publicKey.length === 0) throw new AppError("invalid_public_key", "public_key must be base64 DER (SubjectPublicKeyInfo).");
  } else {
    csr = decodeCsrText(body.csr ?? "");
    if (!csr) throw new AppError("invalid_csr", "csr must be PEM or base64 DER (PKCS#10).");
  }
  const ca = caFor(c.env, config.trustDomain);
  const signed = await ca.signX509Svids({
    requests: [{ spiffeId: body.spiffe_id, publicKey, csr, ttlSeconds: body.ttl ?? config.defaultX509SvidTtl, dnsNames: body.dns_names ?? [] }],
  });
  if (!signed.ok) throw caUnavailable(signed.error);
  const item = signed.value.items[0]!;
  if (!item.ok) throw svidErrorToAppError(item.error);
  const bundle = await ca.getTrustBundle();
  if (!bundle.ok) throw caUnavailable(bundle.error);
  return c.json(
    {
      spiffe_id: body.spiffe_id,
      cert_chain: [toBase64(packedCertificate(signed.value, item))],
      expires_at: item.expiresAt,
      x509_authorities: bundle.value.keys.filter((k) => k.use === "x509-svid").map((k) => k.x5c![0]!),
    },
    200,
    { "Cache-Control": "no-store" },
  );
});

admin.post("/svids/jwt", async (c) => {
  const body = await readJson(c, MintJwtSvidBody);
  const config = c.get("config");
  const signed = await caFor(c.env, config.trustDomain).signJwtSvid({
    spiffeId: body.spiffe_id,
    audience: body.audience,
    ttlSeconds: body.ttl ?? config.defaultJwtSvidTtl,
    alg: body.alg ?? "ES256",
    issuer: issuerFor(c),
  });
  if (!signed.ok) throw caUnavailable(signed.error);
  if (!signed.value.ok) throw svidErrorToAppError(signed.value.error);
  const svid = signed.value.value;
  return c.json({ spiffe_id: svid.spiffeId, token: svid.token, expires_at: svid.expiresAt }, 200, { "Cache-Control": "no-store" });
});
