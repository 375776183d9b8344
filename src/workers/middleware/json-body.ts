/**
 * Strict JSON bodies: `Content-Type: application/json` required (hono's json validator would
 * silently yield {} without it), the body parsed once, then checked against a zod schema.
 * Handlers read `c.get("body")`-free: they receive the parsed value from `readJson`.
 */
import type { Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "../context";
import { AppError } from "../errors";

export async function readJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("Content-Type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new AppError("unsupported_media_type", "The body must be application/json.");
  }
  return parseBody(await c.req.text(), schema);
}

/**
 * `/kbs/v0` bodies: parsed from the raw bytes whatever the Content-Type (as Trustee does; guests and
 * kbs-client do not all send one), then checked against a zod schema. Failures are `malformed_json`
 * or `invalid_request`/`unknown_field`, which read as Trustee's SerdeError on that surface.
 */
export async function readKbsJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S>> {
  return parseBody(await c.req.text(), schema);
}

function parseBody<S extends z.ZodType>(text: string, schema: S): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError("malformed_json", "The body is not valid JSON.");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join(".") : "body";
    if (issue.code === "unrecognized_keys") {
      throw new AppError("unknown_field", `Unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(", ")} in ${path}.`);
    }
    throw new AppError("invalid_request", `${path}: ${issue.message}`);
  }
  return parsed.data;
}
