/**
 * The HTTP surface as data: one row per route the app serves (method, OpenAPI path, summary, the zod
 * schemas that validate its body and query, its answers, who may call it). openapi-document.ts turns
 * the table into the OpenAPI 3.1 document served at GET /openapi.json; the request schemas are the
 * very objects the handlers validate with, so the document cannot describe a body the server refuses.
 * test/integration/openapi.test.ts fails when a route of createApp() is missing here, or a row here
 * names no route.
 */
import type { z } from "zod";
import { ListAgentsQuery } from "./routes/admin-agents";
import { Product, Signer, TdxQuery, TdxUpload, VcekQuery } from "./routes/admin-collateral";
import { MintJwtSvidBody, MintX509SvidBody } from "./schemas/admin";
import { CreateEntriesBody, CreateJoinTokenBody, DeleteEntriesBody, ListEntriesQuery, UpdateEntriesBody } from "./schemas/admin-entries";
import { CreateFederationBody, ListFederationsQuery, RefreshFederationBody } from "./schemas/admin-federation";
import { AttestAgentBody, RenewAgentBody, SignJwtSvidBody, SignX509SvidsBody, SyncEntriesBody } from "./schemas/agent";
import { AuditListQuery } from "./schemas/audit";
import { KbsAttestationBody, KbsChallengeBody, KbsRequestBody, KbsTokenBody } from "./schemas/kbs";
import { ReferenceValueMessage, SetAttestationPolicyBody, SetResourcePolicyBody } from "./schemas/kbs-admin";
import * as R from "./schemas/responses";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/**
 * Who may call: nobody in particular; the admin bearer token (or an admin JWT-SVID); an agent proof;
 * a key broker guest (session cookie or attestation token).
 */
export type Security = "public" | "admin" | "agent" | "kbs_guest";

/** A body or answer: a named zod schema (JSON), or bytes of a content type. */
export type Payload = { readonly name: string; readonly schema: z.ZodType; readonly optional?: boolean } | { readonly contentType: string; readonly description: string };

export interface ResponseSpec {
  readonly description: string;
  readonly body?: Payload;
}

export interface Operation {
  readonly method: HttpMethod;
  /** The OpenAPI path template (`{param}`). */
  readonly path: string;
  /** The hono pattern, when it is not the template with `:param` (a wildcard route). */
  readonly route?: string;
  readonly tag: string;
  readonly summary: string;
  readonly security: Security;
  readonly body?: Payload;
  readonly query?: z.ZodType;
  /** Path parameters that are not plain strings, or need saying more about. */
  readonly params?: Readonly<Record<string, { readonly description: string; readonly schema?: z.ZodType }>>;
  /** The success answers; the error answer (problem+json, or Trustee's on /kbs/v0) is added to every row. */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

const json = (name: string, schema: z.ZodType, optional = false): Payload => ({ name, schema, optional });
const ok = (description: string, body?: Payload): Readonly<Record<number, ResponseSpec>> => ({ 200: body ? { description, body } : { description } });
const AGENT_ID = { spiffe_id: { description: "the agent's SPIFFE ID, percent-encoded as one segment (spiffe%3A%2F%2F…)" } };
const DER_OR_PEM = (what: string): Payload => ({ contentType: "application/octet-stream", description: `${what}: DER, or one PEM block` });

export const OPERATIONS: readonly Operation[] = [
  // Public
  { method: "get", path: "/openapi.json", tag: "public", summary: "This OpenAPI document", security: "public", responses: ok("the document", { contentType: "application/json", description: "OpenAPI 3.1" }) },
  { method: "get", path: "/healthz", tag: "public", summary: "Configuration parses and the CA can sign", security: "public", responses: ok("healthy", json("Health", R.Health)) },
  { method: "get", path: "/bundle", tag: "public", summary: "SPIFFE bundle endpoint (https_web)", security: "public", responses: ok("the trust bundle", json("SpiffeBundle", R.SpiffeBundle)) },
  { method: "get", path: "/.well-known/openid-configuration", tag: "public", summary: "OIDC discovery document", security: "public", responses: ok("the discovery document", json("OidcDiscovery", R.OidcDiscovery)) },
  { method: "get", path: "/keys", tag: "public", summary: "JWKS of the JWT-SVID keys", security: "public", responses: ok("the JWKS", json("Jwks", R.Jwks)) },
  { method: "get", path: "/attestation/keys", tag: "public", summary: "JWKS of the attestation-token keys", security: "public", responses: ok("the JWKS", json("Jwks", R.Jwks)) },

  // Key broker (Trustee RCAR 0.4.0)
  { method: "post", path: "/kbs/v0/auth", tag: "kbs", summary: "RCAR Request: start a handshake (sets kbs-session-id)", security: "public", body: json("KbsRequest", KbsRequestBody), responses: ok("the challenge", json("KbsChallenge", KbsChallengeBody)) },
  { method: "post", path: "/kbs/v0/attest", tag: "kbs", summary: "RCAR Attestation: evidence for the session's challenge", security: "public", body: json("KbsAttestation", KbsAttestationBody), responses: ok("the attestation token", json("KbsToken", KbsTokenBody)) },
  { method: "get", path: "/kbs/v0/resource/{repository}/{type}/{tag}", route: "/kbs/v0/resource/*", tag: "kbs", summary: "A resource, JWE-encrypted to the attested TEE key", security: "kbs_guest", responses: ok("the resource", json("KbsResourceJwe", R.KbsResourceJwe)) },
  { method: "post", path: "/kbs/v0/resource/{repo}/{type}/{tag}", tag: "kbs admin", summary: "Store a resource", security: "admin", body: { contentType: "application/octet-stream", description: "the resource's bytes" }, responses: ok("stored") },
  { method: "delete", path: "/kbs/v0/resource/{repo}/{type}/{tag}", tag: "kbs admin", summary: "Delete a resource", security: "admin", responses: ok("deleted") },
  { method: "post", path: "/kbs/v0/attestation-policy", tag: "kbs admin", summary: "Set an attestation policy (JSON, base64url)", security: "admin", body: json("SetAttestationPolicy", SetAttestationPolicyBody), responses: ok("stored") },
  { method: "post", path: "/kbs/v0/resource-policy", tag: "kbs admin", summary: "Set the resource policy (JSON, base64url)", security: "admin", body: json("SetResourcePolicy", SetResourcePolicyBody), responses: ok("stored") },
  { method: "get", path: "/kbs/v0/resource-policy", tag: "kbs admin", summary: "The stored resource policies", security: "admin", responses: ok("the policies", { contentType: "application/json", description: "the policies by id" }) },
  { method: "post", path: "/kbs/v0/reference-value", tag: "kbs admin", summary: "Set reference values (an RVPS sample message)", security: "admin", body: json("ReferenceValueMessage", ReferenceValueMessage), responses: ok("stored") },
  { method: "get", path: "/kbs/v0/reference-value/{id}", tag: "kbs admin", summary: "One reference value", security: "admin", responses: ok("the value", { contentType: "application/json", description: "the stored JSON value" }) },

  // Agent API
  { method: "post", path: "/agent/v1/attest", tag: "agent", summary: "Node attestation: the agent SVID (x509pop: a challenge first)", security: "public", body: json("AttestAgent", AttestAgentBody), responses: ok("the agent SVID or an x509pop challenge", json("AttestAnswer", R.AttestAnswer)) },
  { method: "post", path: "/agent/v1/renew", tag: "agent", summary: "A new agent SVID; the old one stops authenticating", security: "agent", body: json("RenewAgent", RenewAgentBody), responses: ok("the agent SVID", json("AgentSvid", R.AgentSvid)) },
  { method: "post", path: "/agent/v1/entries/sync", tag: "agent", summary: "The entries the agent is authorized for, new or changed, in pages", security: "agent", body: json("SyncEntries", SyncEntriesBody), responses: ok("a page", json("SyncAnswer", R.SyncAnswer)) },
  { method: "post", path: "/agent/v1/svids/x509", tag: "agent", summary: "X509-SVIDs for authorized entries (≤ 500 CSRs, a result each)", security: "agent", body: json("SignX509Svids", SignX509SvidsBody), responses: ok("a result per request", json("AgentX509Svids", R.AgentX509Svids)) },
  { method: "post", path: "/agent/v1/svids/jwt", tag: "agent", summary: "A JWT-SVID for an authorized entry", security: "agent", body: json("SignJwtSvid", SignJwtSvidBody), responses: ok("the JWT-SVID", json("JwtSvid", R.JwtSvid)) },
  { method: "get", path: "/agent/v1/whoami", tag: "agent", summary: "The agent's ID and node selectors", security: "agent", responses: ok("the agent", json("Whoami", R.Whoami)) },
  { method: "get", path: "/agent/v1/bundles", tag: "agent", summary: "The trust bundle and the federated bundles", security: "agent", responses: ok("the bundles", json("AgentBundles", R.AgentBundles)) },

  // Admin: minting
  { method: "post", path: "/admin/v1/svids/x509", tag: "admin", summary: "Mint an X509-SVID (spire-server x509 mint)", security: "admin", body: json("MintX509Svid", MintX509SvidBody), responses: ok("the SVID", json("MintedX509Svid", R.MintedX509Svid)) },
  { method: "post", path: "/admin/v1/svids/jwt", tag: "admin", summary: "Mint a JWT-SVID (spire-server jwt mint)", security: "admin", body: json("MintJwtSvid", MintJwtSvidBody), responses: ok("the SVID", json("JwtSvid", R.JwtSvid)) },

  // Admin: entries, join tokens, agents, federation
  { method: "post", path: "/admin/v1/entries", tag: "entries", summary: "Create entries (a result per item)", security: "admin", body: json("CreateEntries", CreateEntriesBody), responses: ok("a result per entry", json("EntryResults", R.EntryResults)) },
  { method: "patch", path: "/admin/v1/entries", tag: "entries", summary: "Update entries, compare-and-set on revision_number", security: "admin", body: json("UpdateEntries", UpdateEntriesBody), responses: ok("a result per update", json("EntryResults", R.EntryResults)) },
  { method: "post", path: "/admin/v1/entries/update", tag: "entries", summary: "Update entries (the PATCH, for GET/POST-only clients)", security: "admin", body: json("UpdateEntries", UpdateEntriesBody), responses: ok("a result per update", json("EntryResults", R.EntryResults)) },
  { method: "post", path: "/admin/v1/entries/delete", tag: "entries", summary: "Delete entries by id (a result per id)", security: "admin", body: json("DeleteEntries", DeleteEntriesBody), responses: ok("a result per id", json("DeleteEntryResults", R.DeleteEntryResults)) },
  { method: "get", path: "/admin/v1/entries/{id}", tag: "entries", summary: "One entry", security: "admin", responses: ok("the entry", json("Entry", R.Entry)) },
  { method: "get", path: "/admin/v1/entries", tag: "entries", summary: "List entries (filters, pages)", security: "admin", query: ListEntriesQuery, responses: ok("a page", json("EntryList", R.EntryList)) },
  { method: "post", path: "/admin/v1/join-tokens", tag: "entries", summary: "A single-use join token", security: "admin", body: json("CreateJoinToken", CreateJoinTokenBody), responses: ok("the token", json("JoinToken", R.JoinToken)) },
  { method: "get", path: "/admin/v1/agents", tag: "agents", summary: "List attested agents (filters, pages)", security: "admin", query: ListAgentsQuery, responses: ok("a page", json("AgentList", R.AgentList)) },
  { method: "get", path: "/admin/v1/agents/{spiffe_id}", route: "/admin/v1/agents/*", tag: "agents", summary: "One agent", security: "admin", params: AGENT_ID, responses: ok("the agent", json("Agent", R.Agent)) },
  { method: "post", path: "/admin/v1/agents/{spiffe_id}/ban", route: "/admin/v1/agents/*", tag: "agents", summary: "Ban an agent (refused everywhere until evicted)", security: "admin", params: AGENT_ID, responses: ok("the banned agent", json("Agent", R.Agent)) },
  { method: "delete", path: "/admin/v1/agents/{spiffe_id}", route: "/admin/v1/agents/*", tag: "agents", summary: "Evict an agent (it must attest again)", security: "admin", params: AGENT_ID, responses: { 204: { description: "evicted" } } },
  { method: "post", path: "/admin/v1/federation", tag: "federation", summary: "Create a federation relationship (the first fetch is made at once)", security: "admin", body: json("CreateFederation", CreateFederationBody), responses: { 201: { description: "created, with what the fetch did", body: json("FederationRefresh", R.FederationRefresh) } } },
  { method: "get", path: "/admin/v1/federation", tag: "federation", summary: "List federation relationships (pages)", security: "admin", query: ListFederationsQuery, responses: ok("a page", json("FederationList", R.FederationList)) },
  { method: "get", path: "/admin/v1/federation/{td}", tag: "federation", summary: "One relationship, with its last good bundle", security: "admin", params: { td: { description: "the peer trust domain" } }, responses: ok("the relationship", json("Federation", R.Federation)) },
  { method: "delete", path: "/admin/v1/federation/{td}", tag: "federation", summary: "Delete a relationship", security: "admin", params: { td: { description: "the peer trust domain" } }, responses: ok("deleted", json("FederationDeleted", R.FederationDeleted)) },
  { method: "post", path: "/admin/v1/federation/{td}/refresh", tag: "federation", summary: "Fetch the peer's bundle now", security: "admin", params: { td: { description: "the peer trust domain" } }, body: json("RefreshFederation", RefreshFederationBody, true), responses: ok("what the fetch did", json("FederationRefresh", R.FederationRefresh)) },

  // Admin: collateral and audit
  { method: "get", path: "/admin/v1/collateral", tag: "collateral", summary: "List cached and uploaded collateral", security: "admin", responses: ok("the items", json("CollateralItems", R.CollateralItems)) },
  { method: "delete", path: "/admin/v1/collateral/{key}", tag: "collateral", summary: "Delete an item by the key the list shows", security: "admin", params: { key: { description: "the item's key; it contains slashes (snp/vcek/…), sent as they are" } }, responses: { 204: { description: "deleted" } } },
  { method: "put", path: "/admin/v1/collateral/snp/vcek", tag: "collateral", summary: "Upload a VCEK", security: "admin", body: DER_OR_PEM("the VCEK certificate"), responses: { 201: { description: "stored", body: { contentType: "application/json", description: "the stored item" } } } },
  { method: "put", path: "/admin/v1/collateral/snp/crl/{product}/{signer}", tag: "collateral", summary: "Upload an AMD CRL", security: "admin", params: { product: { description: "the AMD product", schema: Product }, signer: { description: "VCEK or VLEK chain", schema: Signer } }, body: DER_OR_PEM("the CRL"), responses: { 201: { description: "stored", body: { contentType: "application/json", description: "the stored item" } } } },
  { method: "put", path: "/admin/v1/collateral/tdx", tag: "collateral", summary: "Upload a TDX collateral directory", security: "admin", body: json("TdxUpload", TdxUpload), responses: { 201: { description: "stored", body: { contentType: "application/json", description: "the stored items" } } } },
  { method: "get", path: "/admin/v1/collateral/snp/vcek", tag: "collateral", summary: "Fetch (or read the cached) VCEK for a chip and TCB", security: "admin", query: VcekQuery, responses: ok("the VCEK", { contentType: "application/pkix-cert", description: "DER" }) },
  { method: "get", path: "/admin/v1/collateral/tdx", tag: "collateral", summary: "Fetch (or read the cached) TDX collateral for an FMSPC", security: "admin", query: TdxQuery, responses: ok("the collateral directory", json("TdxCollateralFiles", R.TdxCollateralFiles)) },
  { method: "get", path: "/admin/v1/audit", tag: "audit", summary: "Audit records, newest first (filters, cursor)", security: "admin", query: AuditListQuery, responses: ok("a page", json("AuditRecords", R.AuditRecords)) },
];
