/**
 * GET /openapi.json: the OpenAPI 3.1 document of the whole surface (src/workers/openapi.ts), public and
 * the same for every caller, so cacheable; built once per isolate.
 */
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { buildOpenApiDocument } from "../openapi-document";

export const openapi = new Hono<AppEnv>();

let document: string | undefined;

openapi.get("/", (c) => {
  document ??= JSON.stringify(buildOpenApiDocument());
  return c.body(document, 200, { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*" });
});
