/** Wire schemas of /agent/v1 (node attestation and the agent API). */
import { z } from "zod";

const csr = z.string().min(1).max(16384);

/** POST /agent/v1/attest: one of Signet's node attestation methods. */
export const AttestAgentBody = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("join_token"), token: z.string().min(1).max(128), csr }),
  z.strictObject({ type: z.literal("tee"), attestation_token: z.string().min(1).max(64 * 1024), csr }),
]);

/** POST /agent/v1/renew: a new agent SVID for the key in the CSR. */
export const RenewAgentBody = z.strictObject({ csr });
