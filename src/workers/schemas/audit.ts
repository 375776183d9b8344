/** Wire shapes of /admin/v1/audit (the snake_case spellings live only here). */
import { z } from "zod";
import {
  AUDIT_FIELDS,
  AUDIT_KINDS,
  AUDIT_MAX_LIMIT,
  AUDIT_OUTCOMES,
  type AuditListInput,
  type AuditRecord,
  type AuditTextField,
} from "../../durable/audit";

/** Milliseconds since the epoch, decimal digits only (no sign, exponent, fraction or spaces). */
const Millis = z
  .string()
  .regex(/^[0-9]{1,16}$/, "must be milliseconds since the epoch, in decimal digits")
  .transform(Number)
  .pipe(z.number().max(8.64e15, "must be at most 8640000000000000"));

const field = (name: AuditTextField) => z.string().regex(AUDIT_FIELDS[name].pattern, `must be ${AUDIT_FIELDS[name].means}`);

/** `GET /admin/v1/audit?kind=&outcome=&tee=&session=&path=&since=&until=&limit=&cursor=` */
export const AuditListQuery = z.strictObject({
  kind: z.enum(AUDIT_KINDS).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  tee: field("tee").optional(),
  session: field("sessionId").optional(),
  path: field("resourcePath").optional(),
  since: Millis.optional(),
  until: Millis.optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, `must be a decimal number from 1 to ${AUDIT_MAX_LIMIT}`)
    .transform(Number)
    .pipe(z.number().min(1).max(AUDIT_MAX_LIMIT, `must be a decimal number from 1 to ${AUDIT_MAX_LIMIT}`))
    .optional(),
  cursor: z.string().max(64, "is not a cursor this server handed out").optional(),
});

export function toAuditListInput(q: z.infer<typeof AuditListQuery>): AuditListInput {
  const { session, path, ...rest } = q;
  return { ...rest, sessionId: session, resourcePath: path };
}

const WIRE_NAMES: Readonly<Record<AuditTextField, string>> = {
  reason: "reason",
  sessionId: "session_id",
  tee: "tee",
  evidenceDigest: "evidence_digest",
  measurement: "measurement",
  platformId: "platform_id",
  initDataDigest: "init_data_digest",
  policyId: "policy_id",
  resourcePath: "resource_path",
  tokenId: "token_id",
  client: "client",
};

/** One record as the API sends it: `at` in ms, absent fields left out. */
export function toWireRecord(r: AuditRecord): Record<string, string | number> {
  const out: Record<string, string | number> = { id: r.id, at: r.at, kind: r.kind, outcome: r.outcome };
  for (const [name, wire] of Object.entries(WIRE_NAMES) as [AuditTextField, string][]) {
    const value = r[name];
    if (value !== undefined) out[wire] = value;
  }
  return out;
}
