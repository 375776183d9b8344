/** Wire schemas of the key broker's admin calls on /kbs/v0, as Trustee's kbs-client sends them. */
import { z } from "zod";

/** base64url without padding (Trustee decodes policies with URL_SAFE_NO_PAD). */
const base64UrlNoPad = z.string().max(1024 * 1024).regex(/^[A-Za-z0-9_-]*$/, "must be base64url without padding");

/** `kbs-client config set-attestation-policy`: `{"type","policy_id","policy"}`. */
export const SetAttestationPolicyBody = z.object({
  type: z.string().max(32).optional(),
  policy_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1 to 64 of [A-Za-z0-9_.-]").optional(),
  policy: base64UrlNoPad,
});

/** `kbs-client config set-resource-policy`: `{"policy"}`. */
export const SetResourcePolicyBody = z.object({
  policy: base64UrlNoPad,
});

/** An RVPS message (`kbs-client config set-sample-reference-value`): the `sample` extractor's shape. */
export const ReferenceValueMessage = z.object({
  version: z.literal("0.1.0"),
  type: z.literal("sample"),
  payload: z.string().max(1024 * 1024),
});
