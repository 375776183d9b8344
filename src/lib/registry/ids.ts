/**
 * Identifiers of the registry: entry ids, join tokens, and the reserved SPIFFE IDs of the server
 * and its agents (`/signet/…`, as SPIRE reserves `/spire/…`).
 *
 * - Entry ids are random UUIDs (36 characters) as SPIRE makes them; a caller may choose its own, as
 *   SPIRE's BatchCreateEntry allows: 1–255 characters of `[A-Za-z0-9._-]`.
 * - Join tokens are random UUIDs, as `spire-server token generate` prints them. A caller-chosen token
 *   (SPIRE allows one) must be 16–128 characters of `[A-Za-z0-9._-]`, not starting with `.`: it
 *   becomes the last path segment of the agent's ID, `spiffe://<td>/signet/agent/join_token/<token>`.
 */
import { toHex, utf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import { spiffeIdFromParts, trustDomainOf, type SpiffeId, type TrustDomain } from "../spiffe/id";

declare const entryIdBrand: unique symbol;
export type EntryId = string & { readonly [entryIdBrand]: true };

export interface IdError {
  readonly reason: "invalid_entry_id" | "invalid_join_token";
  readonly detail: string;
}

export const MAX_ENTRY_ID_LENGTH = 255;
const ENTRY_ID = /^[A-Za-z0-9._-]{1,255}$/;
const JOIN_TOKEN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{15,127}$/;

/** The reserved path prefix: no registration entry may name an ID under it. */
export const RESERVED_PATH = "/signet";

export function newEntryId(): EntryId {
  return crypto.randomUUID() as EntryId;
}

export function parseEntryId(s: string): Result<EntryId, IdError> {
  if (typeof s !== "string") throw new TypeError("parseEntryId: expected a string");
  return ENTRY_ID.test(s) ? ok(s as EntryId) : err({ reason: "invalid_entry_id", detail: `an entry id is 1 to ${MAX_ENTRY_ID_LENGTH} characters of [A-Za-z0-9._-]` });
}

export function newJoinToken(): string {
  return crypto.randomUUID();
}

export function parseJoinToken(s: string): Result<string, IdError> {
  if (typeof s !== "string") throw new TypeError("parseJoinToken: expected a string");
  return JOIN_TOKEN.test(s) ? ok(s) : err({ reason: "invalid_join_token", detail: "a join token is 16 to 128 characters of [A-Za-z0-9._-], not starting with '.'" });
}

/** `spiffe://<td>/signet/server`: the parent of node entries (aliases). */
export function serverIdOf(td: TrustDomain): SpiffeId {
  return `spiffe://${td}${RESERVED_PATH}/server` as SpiffeId;
}

/** The server ID of the trust domain an ID belongs to. */
export function serverIdFor(id: SpiffeId): SpiffeId {
  return serverIdOf(trustDomainOf(id));
}

/** `spiffe://<td>/signet/agent/join_token/<token>` for a token `parseJoinToken` accepted. */
export function joinTokenAgentId(td: TrustDomain, token: string): SpiffeId {
  const id = spiffeIdFromParts(td, `${RESERVED_PATH}/agent/join_token/${token}`);
  if (!id.ok) throw new TypeError(`joinTokenAgentId: ${id.error.detail}`);
  return id.value;
}

/** Whether an ID's path is `/signet` or under `/signet/` (reserved for the server and agents). */
export function isReservedPath(path: string): boolean {
  return path === RESERVED_PATH || path.startsWith(`${RESERVED_PATH}/`);
}

/** SHA-256 of a join token, lowercase hex: what the registry stores instead of the token. */
export async function joinTokenHash(token: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(token))));
}
