/**
 * Wire shapes of /admin/v1/entries and /admin/v1/join-tokens (snake_case lives only here). The
 * schemas check types and coarse sizes; the meaning (IDs, selectors, TTLs, names) is checked by
 * lib/registry/entry.ts in the registry, so each rule has one home and its own error code.
 * Times (`expires_at`, `created_at`) are unix seconds, as SPIRE's.
 */
import { z } from "zod";
import type { Entry, EntryInput } from "../../lib/registry/entry";
import { MAX_ENTRY_PAGE_SIZE, type EntryFilters, type EntryUpdate, type SelectorMatch } from "../../durable/registry";

const Seconds = z.number().int("must be a whole number of seconds");
const Selector = z.strictObject({ type: z.string().max(256), value: z.string().max(2048) });

/** The fields an entry is made of, as an admin sends them; all optional here (update). */
const entryFields = {
  spiffe_id: z.string().max(4096),
  parent_id: z.string().max(4096),
  selectors: z.array(Selector).max(64),
  x509_svid_ttl: Seconds,
  jwt_svid_ttl: Seconds,
  federates_with: z.array(z.string().max(4096)).max(64),
  dns_names: z.array(z.string().max(253)).max(128),
  admin: z.boolean(),
  downstream: z.boolean(),
  hint: z.string().max(4096),
  expires_at: Seconds,
};

const EntryFieldsObject = z.strictObject(entryFields);

/** One entry to create: spiffe_id, parent_id and selectors required, an optional caller-chosen id. */
export const EntryBody = EntryFieldsObject.partial()
  .required({ spiffe_id: true, parent_id: true, selectors: true })
  .extend({ id: z.string().max(512).optional() });

/** `POST /admin/v1/entries`: `{"entries": [entry, …]}` (the count is checked by the registry: `batch_too_large`). */
export const CreateEntriesBody = z.strictObject({ entries: z.array(EntryBody).min(1, "at least one entry is required") });

/** One update: the entry's id, the revision the caller read, and the fields to change. */
export const EntryUpdateBody = EntryFieldsObject.partial().extend({ id: z.string().max(512), revision_number: z.number().int().min(0) });

/** `PATCH /admin/v1/entries`: `{"entries": [{id, revision_number, …fields to change}]}`. */
export const UpdateEntriesBody = z.strictObject({ entries: z.array(EntryUpdateBody).min(1, "at least one update is required") });

/** `POST /admin/v1/entries/delete`: `{"ids": […]}`. */
export const DeleteEntriesBody = z.strictObject({ ids: z.array(z.string().max(512)).min(1, "at least one id is required") });

const MATCHES = ["exact", "subset", "superset", "any"] as const satisfies readonly SelectorMatch[];

/** `GET /admin/v1/entries?…`; `selector` and `federates_with` may be repeated. */
export const ListEntriesQuery = z.strictObject({
  spiffe_id: z.string().max(4096).optional(),
  parent_id: z.string().max(4096).optional(),
  selector: z.array(z.string().max(2400)).max(64).optional(),
  match: z.enum(MATCHES).optional(),
  federates_with: z.array(z.string().max(4096)).max(64).optional(),
  hint: z.string().max(4096).optional(),
  downstream: z.enum(["true", "false"]).optional(),
  page_size: z
    .string()
    .regex(/^[0-9]{1,4}$/, `must be a decimal number from 1 to ${MAX_ENTRY_PAGE_SIZE}`)
    .transform(Number)
    .pipe(z.number().min(1, `must be from 1 to ${MAX_ENTRY_PAGE_SIZE}`).max(MAX_ENTRY_PAGE_SIZE, `must be from 1 to ${MAX_ENTRY_PAGE_SIZE}`))
    .optional(),
  page_token: z.string().max(512).optional(),
});

/** `POST /admin/v1/join-tokens`: `{"ttl": seconds, "token"?: caller-chosen}`. */
export const CreateJoinTokenBody = z.strictObject({
  ttl: z.number().int("must be a whole number of seconds").optional(),
  token: z.string().max(256).optional(),
});

type EntryBodyWire = z.infer<typeof EntryBody>;
type EntryUpdateWire = z.infer<typeof EntryUpdateBody>;

/** Wire fields → the registry's names (only those present). */
function fieldsOf(w: Partial<EntryBodyWire>): Partial<EntryInput> {
  const out: Record<string, unknown> = {
    id: w.id,
    spiffeId: w.spiffe_id,
    parentId: w.parent_id,
    selectors: w.selectors,
    x509SvidTtl: w.x509_svid_ttl,
    jwtSvidTtl: w.jwt_svid_ttl,
    federatesWith: w.federates_with,
    dnsNames: w.dns_names,
    admin: w.admin,
    downstream: w.downstream,
    hint: w.hint,
    expiresAt: w.expires_at,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as Partial<EntryInput>;
}

export function toEntryInput(w: EntryBodyWire): EntryInput {
  return fieldsOf(w) as EntryInput;
}

export function toEntryUpdate(w: EntryUpdateWire): EntryUpdate {
  const { id, revision_number, ...rest } = w;
  return { ...fieldsOf(rest), id, revisionNumber: revision_number };
}

export function toEntryFilters(q: z.infer<typeof ListEntriesQuery>, selectors: EntryFilters["selectors"]): EntryFilters {
  const f: Record<string, unknown> = {
    spiffeId: q.spiffe_id,
    parentId: q.parent_id,
    selectors,
    match: q.match,
    federatesWith: q.federates_with,
    hint: q.hint,
    downstream: q.downstream === undefined ? undefined : q.downstream === "true",
  };
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as EntryFilters;
}

/** An entry as the API sends it. */
export function toWireEntry(e: Entry): Record<string, unknown> {
  return {
    id: e.id,
    spiffe_id: e.spiffeId,
    parent_id: e.parentId,
    selectors: e.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509_svid_ttl: e.x509SvidTtl,
    jwt_svid_ttl: e.jwtSvidTtl,
    federates_with: [...e.federatesWith],
    dns_names: [...e.dnsNames],
    admin: e.admin,
    downstream: e.downstream,
    hint: e.hint,
    expires_at: e.expiresAt,
    revision_number: e.revisionNumber,
    created_at: e.createdAt,
  };
}
