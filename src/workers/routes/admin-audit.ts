/**
 * /admin/v1/audit: the release audit log, newest first, filtered and paginated. Authenticated by
 * adminAuth. Times (`since`, `until`, each record's `at`) are milliseconds since the epoch.
 */
import { Hono } from "hono";
import { auditLog } from "../../durable/addresses";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { AuditListQuery, toAuditListInput, toWireRecord } from "../schemas/audit";

export const adminAudit = new Hono<AppEnv>();

adminAudit.get("/", async (c) => {
  const params = new URL(c.req.url).searchParams;
  const names = [...params.keys()];
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new AppError("invalid_request", `${repeated.slice(0, 40)}: given more than once`);
  const q = AuditListQuery.safeParse(Object.fromEntries(params));
  if (!q.success) {
    const issue = q.error.issues[0];
    throw new AppError("invalid_request", `${issue?.path.join(".") || "query"}: ${issue?.message ?? "invalid"}`);
  }
  const page = await auditLog(c.env).list(toAuditListInput(q.data));
  if (!page.ok) throw new AppError("invalid_request", page.error.detail);
  return c.json({ records: page.value.records.map(toWireRecord), next_cursor: page.value.nextCursor ?? null }, 200, { "Cache-Control": "no-store" });
});
