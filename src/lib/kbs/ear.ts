/**
 * The claims of the key broker's attestation token: an EAR (draft-ietf-rats-ear) in the shape
 * Trustee's attestation service issues (specs/kbs-protocol.md §5.1), so Trustee resource policies
 * and guests read it unchanged. Signing is `token.ts`; appraisal is `attestation-policy.ts`.
 *
 *   {
 *     "eat_profile": "tag:github.com,2024:confidential-containers/Trustee",
 *     "iat": <s>, "exp": <iat + lifetime>, "iss": <issuer>,
 *     "ear.verifier-id": { "developer": "signet", "build": "signet <version>" },
 *     "submods": { "cpu0": {
 *       "ear.status": "affirming" | "warning" | "contraindicated" | "none",
 *       "ear.trustworthiness-vector": { <the eight AR4SI claims, kebab-case> },
 *       "ear.appraisal-policy-id": <policy id>,
 *       "ear.veraison.annotated-evidence": {
 *         "<snp|tdx|sample>": <the verifier's claims>,
 *         "report_data": <as the verifier reports it>,
 *         "runtime_data_claims": { "nonce", "tee-pubkey", "additional-evidence" (verbose only) },
 *         "init_data": <digest>, "init_data_claims": <the TOML's data> | null   (only with init-data, as Trustee)
 *       } } }
 *   }
 *
 * Not emitted: Trustee's policy extensions (`ear.trustee.identifiers`), and submods for additional
 * devices (Signet appraises one CPU TEE per attestation).
 */
import type { TeeClaims } from "../attestation";
import type { Appraisal } from "./attestation-policy";

export type EarStatus = "none" | "affirming" | "warning" | "contraindicated";

/** The AR4SI trustworthiness claims, in the order Trustee prints them. */
export const TRUST_CLAIMS = ["instance-identity", "configuration", "executables", "file-system", "hardware", "runtime-opaque", "storage-opaque", "sourced-data"] as const;
export type TrustClaim = (typeof TRUST_CLAIMS)[number];
export type TrustVector = Readonly<Record<TrustClaim, number>>;

export const EAR_PROFILE = "tag:github.com,2024:confidential-containers/Trustee";
/** `ear.verifier-id`; a unit test keeps the version equal to package.json's. */
export const EAR_VERIFIER_ID: Readonly<{ developer: string; build: string }> = Object.freeze({ developer: "signet", build: "signet 0.1.0" });

const SEVERITY: Readonly<Record<EarStatus, number>> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

/** The tier of one claim value (rust `ear` crate `TrustClaim::tier`). */
export function tierOf(v: number): EarStatus {
  if (v >= -1 && v <= 1) return "none";
  if (v >= -32 && v <= 31) return "affirming";
  if (v >= -96 && v <= 95) return "warning";
  return "contraindicated";
}

/** `ear.status`: the worst tier over the vector (none < affirming < warning < contraindicated). */
export function statusOf(vector: TrustVector): EarStatus {
  let worst: EarStatus = "none";
  for (const c of TRUST_CLAIMS) {
    const t = tierOf(vector[c]);
    if (SEVERITY[t] > SEVERITY[worst]) worst = t;
  }
  return worst;
}

export interface EarClaimsInput {
  readonly claims: TeeClaims;
  readonly appraisal: Appraisal;
  readonly policyId: string;
  readonly runtimeData: { readonly nonce: string; readonly teePubKey: Record<string, unknown>; readonly additionalEvidence?: string };
  /** Only when the guest sent init-data and its digest was verified against the evidence. */
  readonly initData?: { readonly digest: string; readonly claims: Record<string, unknown> | null };
  readonly issuer: string;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** Token lifetime (300: Trustee's default five minutes). */
  readonly lifetimeSeconds: number;
  /** Keep `additional-evidence` in `runtime_data_claims` (Trustee `verbose_token`). */
  readonly verbose?: boolean;
}

export interface EarSubmod {
  readonly "ear.status": EarStatus;
  readonly "ear.trustworthiness-vector": TrustVector;
  readonly "ear.appraisal-policy-id": string;
  readonly "ear.veraison.annotated-evidence": Readonly<Record<string, unknown>>;
}

export interface EarClaims {
  readonly eat_profile: string;
  readonly iat: number;
  readonly exp: number;
  readonly iss: string;
  readonly "ear.verifier-id": Readonly<{ developer: string; build: string }>;
  readonly submods: { readonly cpu0: EarSubmod };
}

/** The token claims for one appraised attestation. A status that is not the vector's worst tier is a caller bug (TypeError). */
export function earClaims(input: EarClaimsInput): EarClaims {
  const { claims, appraisal, runtimeData, initData } = input;
  if (!Number.isFinite(input.now)) throw new TypeError("now must be a finite number of milliseconds");
  if (!Number.isInteger(input.lifetimeSeconds) || input.lifetimeSeconds <= 0) throw new TypeError("lifetimeSeconds must be a positive integer");
  if (statusOf(appraisal.trustVector) !== appraisal.status) throw new TypeError("appraisal.status is not the worst tier of its trust vector");
  const vector = Object.fromEntries(TRUST_CLAIMS.map((c) => [c, appraisal.trustVector[c]])) as Record<TrustClaim, number>;
  const iat = Math.floor(input.now / 1000);
  return {
    eat_profile: EAR_PROFILE,
    iat,
    exp: iat + input.lifetimeSeconds,
    iss: input.issuer,
    "ear.verifier-id": { ...EAR_VERIFIER_ID },
    submods: {
      cpu0: {
        "ear.status": appraisal.status,
        "ear.trustworthiness-vector": vector,
        "ear.appraisal-policy-id": input.policyId,
        "ear.veraison.annotated-evidence": {
          [claims.tee]: claims.evidenceClaims,
          report_data: claims.reportData,
          // Signet's addition: the verified platform identity (SNP CHIP_ID, TDX PPID), which node
          // attestation derives stable agent IDs from; not every TEE's claims carry it.
          platform_id: claims.platformId,
          runtime_data_claims: {
            nonce: runtimeData.nonce,
            "tee-pubkey": runtimeData.teePubKey,
            ...(input.verbose && runtimeData.additionalEvidence !== undefined ? { "additional-evidence": runtimeData.additionalEvidence } : {}),
          },
          ...(initData ? { init_data: initData.digest, init_data_claims: initData.claims } : {}),
        },
      },
    },
  };
}

/**
 * Where a token carries the TEE public key, in Trustee's search order (§4.4, `kbs/src/token`):
 * Intel Trust Authority, the legacy CoCo token, EAR, then the top level. The first pointer that
 * resolves wins, whatever it holds, as in Trustee.
 */
export const TEE_PUBKEY_POINTERS: readonly string[] = [
  "/tdx/attester_runtime_data/tee-pubkey",
  "/tdx/attester_user_data/tee-pubkey",
  "/customized_claims/runtime_data/tee-pubkey",
  "/submods/cpu0/ear.veraison.annotated-evidence/runtime_data_claims/tee-pubkey",
  "/tee-pubkey",
];

/**
 * RFC 6901: `~1` is `/` and `~0` is `~` within a segment (dots are ordinary characters). Only own
 * properties are followed (never `__proto__` or `constructor`); array indices are canonical
 * decimals. Returns undefined when the pointer does not resolve or is malformed. Never throws.
 */
export function resolveJsonPointer(value: unknown, pointer: string): unknown {
  if (pointer === "") return value;
  if (!pointer.startsWith("/")) return undefined;
  let here: unknown = value;
  for (const raw of pointer.slice(1).split("/")) {
    if (/~(?![01])/.test(raw)) return undefined;
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(here)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key) || Number(key) >= here.length) return undefined;
      here = here[Number(key)];
    } else if (typeof here === "object" && here !== null && Object.hasOwn(here, key)) {
      here = (here as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return here;
}

/** The TEE public key of verified token claims (first pointer of `TEE_PUBKEY_POINTERS` that resolves), or undefined. */
export function teePubKeyFromClaims(claims: unknown): unknown {
  for (const p of TEE_PUBKEY_POINTERS) {
    const v = resolveJsonPointer(claims, p);
    if (v !== undefined) return v;
  }
  return undefined;
}
