/** Wire schemas of /agent/v1 (node attestation and the agent API). */
import { z } from "zod";

const csr = z.string().min(1).max(16384);

/** x509pop: the leaf and its intermediates, standard base64 DER (SPIRE's payload). */
const certificates = z.array(z.string().min(1).max(16384)).min(1).max(5);

/**
 * POST /agent/v1/attest: one of Signet's node attestation methods. x509pop takes two calls: `x509pop`
 * (the chain; answered with a challenge) then `x509pop_response` (answered with the agent SVID).
 */
export const AttestAgentBody = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("join_token"), token: z.string().min(1).max(128), csr }),
  z.strictObject({ type: z.literal("tee"), attestation_token: z.string().min(1).max(64 * 1024), csr }),
  z.strictObject({ type: z.literal("x509pop"), certificates }),
  z.strictObject({
    type: z.literal("x509pop_response"),
    challenge_id: z.string().regex(/^[0-9a-f]{32}$/),
    certificates,
    response: z.record(z.string(), z.unknown()),
    csr,
  }),
]);

/** POST /agent/v1/renew: a new agent SVID for the key in the CSR. */
export const RenewAgentBody = z.strictObject({ csr });

/**
 * POST /agent/v1/entries/sync: the cursor of the agent's last complete sync (none: a full sync), or
 * the page token of the sync in progress; `wait_ms` long-polls an idle delta.
 */
export const SyncEntriesBody = z.strictObject({
  cursor: z.string().min(1).max(512).optional(),
  page_token: z.string().min(1).max(512).optional(),
  page_size: z.number().int().min(1).max(500).optional(),
  wait_ms: z.number().int().min(0).max(25_000).optional(),
});

/** POST /agent/v1/svids/x509: up to 500 CSRs, each for one authorized entry. */
export const SignX509SvidsBody = z.strictObject({
  requests: z.array(z.strictObject({ entry_id: z.string().min(1).max(255), csr: z.string().min(1).max(16384) })).min(1).max(500),
});

/** POST /agent/v1/svids/jwt: a JWT-SVID for one authorized entry. */
export const SignJwtSvidBody = z.strictObject({
  entry_id: z.string().min(1).max(255),
  audience: z.array(z.string().min(1).max(1024)).min(1).max(32),
});
