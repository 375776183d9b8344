/**
 * The agent API's answers as signet-agent reads them (src/workers/schemas/agent.ts and
 * admin-entries.ts' toWireEntry are the server's side). Every answer is checked against these before
 * anything in it is used; unknown extra fields are ignored (a newer server may add some).
 */
import { z } from "zod";

const b64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, "must be standard base64").max(64 * 1024);
const seconds = z.number().int().min(0);

/** The agent SVID: from attest and renew. */
export const AgentSvidAnswer = z.object({
  spiffe_id: z.string().startsWith("spiffe://").max(2048),
  svid: z.array(b64).min(1).max(8),
  expires_at: seconds,
  bundle: z.array(b64).min(1).max(64),
  reattestable: z.boolean(),
});
export type AgentSvidAnswer = z.infer<typeof AgentSvidAnswer>;

const nonce = z.object({ nonce: b64 });
/** x509pop step 1: a challenge for the leaf's key kind. */
export const X509PopChallengeAnswer = z.object({
  challenge_id: z.string().regex(/^[0-9a-f]{32}$/),
  challenge: z.object({ rsa_signature: nonce.nullish(), ecdsa_signature: nonce.nullish() }),
});
export type X509PopChallengeAnswer = z.infer<typeof X509PopChallengeAnswer>;

const Selector = z.object({ type: z.string().min(1).max(256), value: z.string().max(2048) });

/** A registration entry (toWireEntry). */
export const WireEntry = z.object({
  id: z.string().min(1).max(255),
  spiffe_id: z.string().startsWith("spiffe://").max(2048),
  parent_id: z.string().startsWith("spiffe://").max(2048),
  selectors: z.array(Selector).max(64),
  x509_svid_ttl: seconds,
  jwt_svid_ttl: seconds,
  federates_with: z.array(z.string().max(255)).max(64),
  dns_names: z.array(z.string().max(253)).max(128),
  admin: z.boolean(),
  downstream: z.boolean(),
  hint: z.string().max(1024),
  expires_at: seconds,
  revision_number: z.number().int().min(0),
  created_at: seconds,
});
export type WireEntry = z.infer<typeof WireEntry>;

/**
 * One page of an entry sync: `full` (every authorized entry, over the pages: whatever the agent
 * holds that is not in them is gone) or a delta since the cursor sent (new or changed entries, and
 * removed ids on the first page); the last page carries the cursor for the next sync.
 */
export const SyncAnswer = z.object({
  full: z.boolean(),
  entries: z.array(WireEntry).max(1000),
  removed: z.array(z.string().min(1).max(255)),
  next_page_token: z.string().min(1).max(1024).nullish(),
  cursor: z.string().min(1).max(1024).nullish(),
});
export type SyncAnswer = z.infer<typeof SyncAnswer>;

const X509SvidOk = z.object({ entry_id: z.string().min(1).max(255), status: z.literal("ok"), svid: z.array(b64).min(1).max(8), expires_at: seconds });
const X509SvidRefused = z.object({ entry_id: z.string().min(1).max(255), status: z.string().min(1).max(100).refine((s) => s !== "ok"), detail: z.string().max(2000).default("") });

/** `{results:[{entry_id, status:"ok", svid, expires_at} | {entry_id, status:<error>, detail}]}`. */
export const X509SvidsAnswer = z.object({ results: z.array(z.union([X509SvidOk, X509SvidRefused])).max(500) });
export type X509SvidsAnswer = z.infer<typeof X509SvidsAnswer>;

export const JwtSvidAnswer = z.object({
  spiffe_id: z.string().startsWith("spiffe://").max(2048),
  token: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/).max(16 * 1024),
  expires_at: seconds,
});
export type JwtSvidAnswer = z.infer<typeof JwtSvidAnswer>;

const BundleKey = z
  .object({ use: z.string(), kty: z.string(), kid: z.string().optional(), x5c: z.array(b64).optional() })
  .passthrough();

/** A SPIFFE bundle document (keys with `use` x509-svid or jwt-svid). */
export const BundleDocument = z.object({
  keys: z.array(BundleKey).max(256),
  spiffe_sequence: z.number().int().min(0).optional(),
  spiffe_refresh_hint: z.number().int().min(0).optional(),
});
export type BundleDocument = z.infer<typeof BundleDocument>;

export const BundlesAnswer = z.object({
  trust_domain: z.string().min(1).max(255),
  bundle: BundleDocument,
  federated: z.record(z.string().max(255), BundleDocument).default({}),
});
export type BundlesAnswer = z.infer<typeof BundlesAnswer>;

/** An RFC 9457 problem, as much of it as the agent reads. */
export const Problem = z.object({ code: z.string().max(100).optional(), title: z.string().max(500).optional(), detail: z.string().max(2000).optional() }).passthrough();
