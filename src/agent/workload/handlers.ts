/**
 * The Workload API's answers for an attested caller (SPIFFE_Workload_API.md; SPIRE's handler.go for
 * the choices the standard leaves open). Transport-free: each function takes the caller's selectors
 * and returns encoded response bytes or throws `WorkloadApiError` with the gRPC status to send.
 *
 * Status codes: INVALID_ARGUMENT for a missing audience/token, an unusable SPIFFE ID or a token that
 * does not validate (client must not retry); PERMISSION_DENIED when the caller is entitled to nothing
 * ("no identity issued"); UNAVAILABLE before the first sync and when a JWT-SVID cannot be had.
 */
import { parseSpiffeId, trustDomainOf } from "../../lib/spiffe/id";
import { validateJwtSvid } from "../../lib/spiffe/jwt-svid-verify";
import type { AgentState } from "../state";
import { callerView, jwtAuthorities, jwtBundles, uniqueHints, x509Bundles, x509Svids, federatedX509Bundles } from "./compose";
import {
  encodeJwtBundlesResponse,
  encodeJwtSvidResponse,
  encodeValidateJwtSvidResponse,
  encodeX509BundlesResponse,
  encodeX509SvidResponse,
  type JsonValue,
  type JwtSvidRequest,
  type ValidateJwtSvidRequest,
} from "./messages";
import { Status, type StatusCode } from "./grpc-status";

export class WorkloadApiError extends Error {
  override readonly name = "WorkloadApiError";
  constructor(
    readonly code: StatusCode,
    readonly details: string,
  ) {
    super(details);
  }
}

export const NO_IDENTITY = "no identity issued";

function noIdentity(): WorkloadApiError {
  return new WorkloadApiError(Status.PERMISSION_DENIED, NO_IDENTITY);
}

export function requireReady(state: AgentState): void {
  if (!state.ready()) throw new WorkloadApiError(Status.UNAVAILABLE, "the agent has not synchronised with the server yet");
}

export function x509SvidResponse(state: AgentState, selectors: readonly string[]): Buffer {
  const view = callerView(state, selectors);
  if (view.identities.length === 0) throw noIdentity();
  return encodeX509SvidResponse(x509Svids(view), federatedX509Bundles(view));
}

export function x509BundlesResponse(state: AgentState, selectors: readonly string[]): Buffer {
  const view = callerView(state, selectors);
  if (view.identities.length === 0) throw noIdentity();
  return encodeX509BundlesResponse(x509Bundles(view));
}

export function jwtBundlesResponse(state: AgentState, selectors: readonly string[]): Buffer {
  const view = callerView(state, selectors);
  if (view.identities.length === 0) throw noIdentity();
  return encodeJwtBundlesResponse(jwtBundles(view));
}

/** Checks of a FetchJWTSVID request that need no attestation (run first, as SPIRE does). */
export function checkJwtSvidRequest(req: JwtSvidRequest): void {
  if (req.audience.length === 0 || req.audience.some((a) => a === "")) throw new WorkloadApiError(Status.INVALID_ARGUMENT, "audience must be specified");
  if (req.spiffeId !== "" && !parseSpiffeId(req.spiffeId).ok) throw new WorkloadApiError(Status.INVALID_ARGUMENT, "invalid requested SPIFFE ID");
}

export async function jwtSvidResponse(state: AgentState, selectors: readonly string[], req: JwtSvidRequest): Promise<Buffer> {
  const identities = state.x509IdentitiesFor(selectors);
  if (identities.length === 0) throw noIdentity();
  if (req.spiffeId !== "" && !identities.some((i) => i.spiffeId === req.spiffeId)) throw noIdentity();
  let svids;
  try {
    svids = await state.fetchJwtSvids(selectors, req.audience, req.spiffeId === "" ? undefined : req.spiffeId);
  } catch {
    throw new WorkloadApiError(Status.UNAVAILABLE, "could not fetch a JWT-SVID");
  }
  if (svids.length === 0) throw noIdentity();
  return encodeJwtSvidResponse(uniqueHints(svids).map((s) => ({ spiffeId: s.spiffeId, svid: s.token, hint: s.hint })));
}

export function checkValidateRequest(req: ValidateJwtSvidRequest): void {
  if (req.audience === "") throw new WorkloadApiError(Status.INVALID_ARGUMENT, "audience must be specified");
  if (req.svid === "") throw new WorkloadApiError(Status.INVALID_ARGUMENT, "svid must be specified");
}

/** Claims a foreign trust domain's token may pass on (SPIRE's default: no allowed foreign claims). */
const FOREIGN_CLAIMS = new Set(["sub", "exp", "aud"]);

/**
 * Validates with the bundles the caller may see (its own trust domain, and those its identities
 * federate with); any attested caller may validate, as relying parties need no identity of their own.
 */
export async function validateJwtSvidResponse(state: AgentState, selectors: readonly string[], req: ValidateJwtSvidRequest, now: number): Promise<Buffer> {
  const authorities = jwtAuthorities(callerView(state, selectors));
  const result = await validateJwtSvid({ token: req.svid, audience: req.audience, authorities: (td) => authorities.get(`spiffe://${td}`), now });
  if (!result.ok) throw new WorkloadApiError(Status.INVALID_ARGUMENT, `the JWT-SVID does not validate: ${result.error.detail}`);
  const foreign = trustDomainOf(result.value.spiffeId) !== state.trustDomain;
  const claims: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(result.value.claims)) {
    if (foreign && !FOREIGN_CLAIMS.has(k)) continue;
    claims[k] = v as JsonValue;
  }
  if (typeof claims.aud === "string") claims.aud = [claims.aud];
  return encodeValidateJwtSvidResponse(result.value.spiffeId, claims);
}
