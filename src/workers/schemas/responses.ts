/**
 * Wire shapes of the answers, for the OpenAPI document (src/workers/openapi.ts). The handlers build
 * these bodies (toWireEntry, wireAgent, …); test/integration/openapi.test.ts parses live answers with
 * these schemas so the two cannot drift apart unnoticed. Times are unix seconds unless named `at`.
 */
import { z } from "zod";
import { ERROR_CATALOG, type ErrorCode } from "../errors";

const Seconds = z.number().int();
const Selector = z.object({ type: z.string(), value: z.string() });
const Base64Der = z.string().describe("standard base64 of DER");
const PageToken = z.string().nullable().describe("pass as page_token for the next page; null on the last page");

/** RFC 9457 problem details: every error outside /kbs/v0. */
export const Problem = z.object({
  type: z.string().describe("urn:signet:problem:<code>"),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.enum(Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]]),
  instance: z.string().describe("urn:signet:request:<request id>"),
});

/** Trustee's error body (kbs_types::ErrorInformation), on /kbs/v0. */
export const KbsError = z.object({ type: z.string(), detail: z.string() });

export const Entry = z.object({
  id: z.string(),
  spiffe_id: z.string(),
  parent_id: z.string(),
  selectors: z.array(Selector),
  x509_svid_ttl: Seconds,
  jwt_svid_ttl: Seconds,
  federates_with: z.array(z.string()),
  dns_names: z.array(z.string()),
  admin: z.boolean(),
  downstream: z.boolean(),
  hint: z.string(),
  expires_at: Seconds,
  revision_number: z.number().int(),
  created_at: Seconds,
});

/** A batch item that failed: a problem's fields, with `status` the error code. */
const ItemFailure = z.object({
  status: z.string().describe("the error code, e.g. entry_exists"),
  http_status: z.number().int(),
  title: z.string(),
  detail: z.string(),
  existing_id: z.string().optional(),
  current_revision: z.number().int().optional(),
});

export const EntryResults = z.object({
  results: z.array(z.union([z.object({ status: z.enum(["created", "updated"]), entry: Entry }), ItemFailure])),
});
export const DeleteEntryResults = z.object({
  results: z.array(z.union([z.object({ id: z.string(), status: z.literal("deleted") }), ItemFailure.extend({ id: z.string() })])),
});
export const EntryList = z.object({ entries: z.array(Entry), next_page_token: PageToken });
export const JoinToken = z.object({ token: z.string(), expires_at: Seconds, agent_id: z.string() });

export const Agent = z.object({
  spiffe_id: z.string(),
  attestation_type: z.enum(["join_token", "tee", "x509pop"]),
  selectors: z.array(Selector),
  x509_svid_serial_number: z.string(),
  x509_svid_expires_at: Seconds,
  can_reattest: z.boolean(),
  banned: z.boolean(),
  created_at: Seconds,
});
export const AgentList = z.object({ agents: z.array(Agent), next_page_token: PageToken });

export const Federation = z.looseObject({
  trust_domain: z.string(),
  bundle_endpoint_url: z.string(),
  bundle_endpoint_profile: z.string(),
  created_at: Seconds.nullable(),
  bundle_status: z.enum(["current", "stale", "missing"]),
  spiffe_sequence: z.number().int().nullable(),
  last_error: z.string().nullable(),
  next_refresh_at: Seconds.nullable(),
});
export const FederationList = z.object({ federations: z.array(Federation), next_page_token: PageToken });
export const FederationRefresh = z.object({ federation: Federation, refresh: z.object({ outcome: z.string(), detail: z.string().optional() }) });
export const FederationDeleted = z.object({ trust_domain: z.string(), status: z.literal("deleted") });

export const MintedX509Svid = z.object({ spiffe_id: z.string(), cert_chain: z.array(Base64Der), expires_at: Seconds, x509_authorities: z.array(Base64Der) });
export const JwtSvid = z.object({ spiffe_id: z.string(), token: z.string(), expires_at: Seconds });

export const Health = z.object({ status: z.literal("ok"), trust_domain: z.string(), spiffe_sequence: z.number().int() });
const Jwk = z.looseObject({ kty: z.string(), kid: z.string().optional(), use: z.string().optional(), alg: z.string().optional() });
export const Jwks = z.object({ keys: z.array(Jwk) });
export const SpiffeBundle = z.object({ keys: z.array(Jwk), spiffe_sequence: z.number().int(), spiffe_refresh_hint: z.number().int() });
export const OidcDiscovery = z.looseObject({
  issuer: z.string(),
  jwks_uri: z.string(),
  response_types_supported: z.array(z.string()),
  subject_types_supported: z.array(z.string()),
  id_token_signing_alg_values_supported: z.array(z.string()),
});

export const AuditRecords = z.object({
  records: z.array(z.looseObject({ id: z.string(), at: z.number().int().describe("ms since the epoch"), kind: z.string(), outcome: z.string() })),
  next_cursor: z.string().nullable(),
});
export const CollateralItems = z.object({ items: z.array(z.looseObject({ key: z.string() })) });
export const TdxCollateralFiles = z.object({ files: z.record(z.string(), z.string()), expires_at: Seconds });

export const AgentSvid = z.object({ spiffe_id: z.string(), svid: z.array(Base64Der), expires_at: Seconds, bundle: z.array(Base64Der), reattestable: z.boolean() });
export const X509PopChallenge = z.object({ challenge_id: z.string(), challenge: z.record(z.string(), z.unknown()) });
export const AttestAnswer = z.union([AgentSvid, X509PopChallenge]).describe("x509pop: a challenge; every other method (and x509pop_response): the agent SVID");
export const Whoami = z.object({ spiffe_id: z.string(), selectors: z.array(Selector) });
export const SyncAnswer = z.looseObject({ entries: z.array(Entry), removed: z.array(z.string()), next_page_token: PageToken });
export const AgentX509Svids = z.object({
  results: z.array(z.object({ entry_id: z.string(), status: z.string(), svid: z.array(Base64Der).optional(), expires_at: Seconds.optional(), detail: z.string().optional() })),
});
export const AgentBundles = z.object({ trust_domain: z.string(), bundle: SpiffeBundle, federated: z.record(z.string(), z.unknown()) });

export const KbsResourceJwe = z.looseObject({ protected: z.string(), encrypted_key: z.string(), iv: z.string(), ciphertext: z.string(), tag: z.string() });
