/**
 * Wire schemas of /kbs/v0 (Trustee RCAR, protocol 0.4.0; kbs-types 0.18). Like serde, they ignore
 * unknown members and require every declared one (`init-data` may be null or absent). Each parses
 * into the typed form `src/lib/kbs` works with; the `tee-pubkey` is parsed by the library, and a
 * refusal carries the library's reason in the issue's `params.reason` (logged, never sent). Strings
 * with a lone surrogate are refused, as serde_json refuses them. Run after `bodyLimit`, on
 * `await c.req.text()` parsed as JSON (never on the `json` target, see STYLE.md).
 */
import { z } from "zod";
import { INIT_DATA_MAX_BYTES } from "../../lib/kbs/init-data";
import { isWellFormedString, KBS_TEES, type KbsAttestation, type KbsRequest } from "../../lib/kbs/protocol";
import { parseTeePubKey, type TeePubKey } from "../../lib/kbs/tee-pubkey";

/** Trustee's default `payload_request_size`: the whole request is at most this. */
export const KBS_MAX_BODY_BYTES = 2 * 1024 * 1024;

const text = (max: number) => z.string().max(max).refine(isWellFormedString, "must not contain a lone surrogate");

/** A JSON value that must be present (serde_json `Value` fields are required; null is a value). */
const required = z.unknown().refine((v) => v !== undefined, "is required");

const teePubKey = z.unknown().transform((v, ctx): TeePubKey => {
  const r = parseTeePubKey(v);
  if (r.ok) return r.value;
  ctx.addIssue({ code: "custom", message: r.error.detail, params: { reason: r.error.reason } });
  return z.NEVER;
});

/** `POST /kbs/v0/auth`. The version is checked afterwards with `checkProtocolVersion`, for Trustee's message. */
export const KbsRequestBody = z
  .object({
    version: text(256),
    tee: z.enum(KBS_TEES),
    "extra-params": required,
  })
  .transform((b): KbsRequest => ({ version: b.version, tee: b.tee, extraParams: b["extra-params"] }));

/** `POST /kbs/v0/attest` (0.4.0). */
export const KbsAttestationBody = z
  .object({
    "init-data": z.object({ format: text(64), body: z.string().max(INIT_DATA_MAX_BYTES) }).nullable().optional(),
    "runtime-data": z.object({ nonce: text(1024), "tee-pubkey": teePubKey }),
    "tee-evidence": z.object({ primary_evidence: required, additional_evidence: text(KBS_MAX_BODY_BYTES) }),
  })
  .transform(
    (b): KbsAttestation => ({
      initData: b["init-data"] ?? null,
      runtimeData: { nonce: b["runtime-data"].nonce, teePubKey: b["runtime-data"]["tee-pubkey"] },
      teeEvidence: { primaryEvidence: b["tee-evidence"].primary_evidence, additionalEvidence: b["tee-evidence"].additional_evidence },
    }),
  );

/** Guest side: the `/auth` answer. `extra-params` is Trustee's `""` or an object (read with `selectedHashAlgorithm`). */
export const KbsChallengeBody = z
  .object({ nonce: text(1024), "extra-params": required })
  .transform((b) => ({ nonce: b.nonce, extraParams: b["extra-params"] }));

/** Guest side: the `/attest` answer. */
export const KbsTokenBody = z.object({ token: z.string().min(1).max(64 * 1024) });
