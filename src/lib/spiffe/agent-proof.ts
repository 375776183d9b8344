/**
 * The agent proof: how a signet-agent proves, on every `/agent/v1` call, that it holds its agent SVID's
 * key (mutual TLS to a Worker is not available everywhere). DPoP-style (RFC 9449 in spirit): a compact
 * JWS signed by the SVID key, carrying the SVID, bound to the request.
 *
 *   header  {"typ":"signet-agent-proof+jwt","alg":"ES256"|"ES384"|"RS256"|"PS256","x5c":["<std b64 DER leaf>"]}
 *   claims  {"htm":"<method>","htu":"<path>","ath":"<b64url SHA-256 of the body>","iat":<s>,"jti":"<16-64 b64url>"}
 *
 * The server checks the SVID (an agent ID of its trust domain, signed by its CA, valid now), the
 * signature with the SVID's key, that method, path and body digest are this request's, that `iat` is
 * within ±60 s, and remembers `jti` until the proof expires (replays refused, by the caller's store).
 * Never throws on hostile input.
 */
import { fromBase64, toBase64, toBase64Url, utf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import { parseSpki } from "../x509/spki";
import { pathOf, type SpiffeId, type TrustDomain } from "./id";
import { verifyX509Svid, type X509SvidErrorReason } from "./x509-svid";
import { decodeJwsJsonPart } from "../jws-parts";

export const AGENT_PROOF_TYPE = "signet-agent-proof+jwt";
/** How far `iat` may be from the server's clock, seconds; also how long a proof is remembered. */
export const AGENT_PROOF_WINDOW_SECONDS = 60;
export const MAX_AGENT_PROOF_LENGTH = 16 * 1024;
/** Agent SPIFFE IDs are `spiffe://<td>/signet/agent/<method>/<stable id>`. */
export const AGENT_ID_PREFIX = "/signet/agent/";

export type AgentProofAlgorithm = "ES256" | "ES384" | "RS256" | "PS256";

export type AgentProofErrorReason =
  | "proof_malformed"
  | "proof_algorithm"
  | "proof_signature"
  | "proof_mismatch"
  | "proof_stale"
  | "proof_not_agent"
  | X509SvidErrorReason;

export interface AgentProofError {
  readonly reason: AgentProofErrorReason;
  readonly detail: string;
}

const SIGN: Record<AgentProofAlgorithm, { readonly name: string; readonly hash?: string; readonly saltLength?: number }> = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  ES384: { name: "ECDSA", hash: "SHA-384" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
};

function fail(reason: AgentProofErrorReason, detail: string): { readonly ok: false; readonly error: AgentProofError } {
  return err({ reason, detail });
}

async function bodyDigest(body: Uint8Array): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>)));
}

export interface AgentProofInput {
  readonly method: string;
  /** The request path (no query). */
  readonly path: string;
  readonly body: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** Agent side: a proof for one request, signed with the agent SVID's private key. */
export async function createAgentProof(
  key: CryptoKey,
  alg: AgentProofAlgorithm,
  svid: Uint8Array,
  input: AgentProofInput & { readonly jti?: string },
): Promise<string> {
  const jti = input.jti ?? toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
  const header = { typ: AGENT_PROOF_TYPE, alg, x5c: [toBase64(svid)] };
  const claims = { htm: input.method, htu: input.path, ath: await bodyDigest(input.body), iat: Math.floor(input.now / 1000), jti };
  const signingInput = `${toBase64Url(utf8(JSON.stringify(header)))}.${toBase64Url(utf8(JSON.stringify(claims)))}`;
  const signature = new Uint8Array(await crypto.subtle.sign(SIGN[alg], key, utf8(signingInput)));
  return `${signingInput}.${toBase64Url(signature)}`;
}


export interface VerifiedAgentProof {
  readonly agentId: SpiffeId;
  readonly jti: string;
  /** Remember `jti` until then (ms). */
  readonly expiresAt: number;
  /** The agent SVID's serial (lowercase hex) and expiry (ms). */
  readonly svidSerial: string;
  readonly svidExpiresAt: number;
}

export interface VerifyAgentProofInput extends AgentProofInput {
  readonly proof: string;
  /** DER CA certificates of this trust domain's bundle. */
  readonly authorities: readonly Uint8Array[];
  readonly trustDomain: TrustDomain;
}

export async function verifyAgentProof(input: VerifyAgentProofInput): Promise<Result<VerifiedAgentProof, AgentProofError>> {
  if (input.proof.length > MAX_AGENT_PROOF_LENGTH) return fail("proof_malformed", "the proof is too long");
  const parts = input.proof.split(".");
  if (parts.length !== 3) return fail("proof_malformed", "not a compact JWS");
  const header = decodeJwsJsonPart(parts[0]!);
  const claims = decodeJwsJsonPart(parts[1]!);
  if (!header || !claims) return fail("proof_malformed", "the header or claims are not base64url JSON objects");
  if (header.typ !== AGENT_PROOF_TYPE) return fail("proof_malformed", `typ must be ${AGENT_PROOF_TYPE}`);
  const alg = header.alg;
  if (typeof alg !== "string" || !Object.hasOwn(SIGN, alg)) return fail("proof_algorithm", "alg must be ES256, ES384, RS256 or PS256");
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > 4 || !x5c.every((c) => typeof c === "string" && c.length <= 8192)) {
    return fail("proof_malformed", "x5c must hold the agent SVID (standard base64 DER)");
  }
  const chain: Uint8Array[] = [];
  for (const c of x5c as string[]) {
    const der = /^[A-Za-z0-9+/]+={0,2}$/.test(c) ? fromBase64(c) : undefined;
    if (!der) return fail("proof_malformed", "x5c holds something that is not standard base64");
    chain.push(der);
  }

  const svid = await verifyX509Svid({ chain, authorities: input.authorities, trustDomain: input.trustDomain, now: input.now });
  if (!svid.ok) return svid;
  if (!pathOf(svid.value.spiffeId).startsWith(AGENT_ID_PREFIX)) return fail("proof_not_agent", "the SVID is not an agent SVID");

  const spki = parseSpki(svid.value.leaf.spki);
  if (!spki.ok) return fail("proof_algorithm", "the SVID's key is not supported");
  const info = spki.value;
  const expected = info.kind === "rsa" ? ["RS256", "PS256"] : [info.curve === "P-256" ? "ES256" : "ES384"];
  if (!expected.includes(alg)) return fail("proof_algorithm", `alg ${alg} does not match the SVID's key`);
  const signature = /^[A-Za-z0-9_-]+$/.test(parts[2]!) ? fromBase64(parts[2]!) : undefined;
  if (!signature) return fail("proof_signature", "the signature is not base64url");
  let valid: boolean;
  try {
    const params = info.kind === "ec" ? { name: "ECDSA", namedCurve: info.curve } : { name: alg === "PS256" ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    const key = await crypto.subtle.importKey("spki", svid.value.leaf.spki as Uint8Array<ArrayBuffer>, params, false, ["verify"]);
    valid = await crypto.subtle.verify(SIGN[alg as AgentProofAlgorithm], key, signature as Uint8Array<ArrayBuffer>, utf8(`${parts[0]}.${parts[1]}`));
  } catch {
    valid = false;
  }
  if (!valid) return fail("proof_signature", "the proof is not signed by the SVID's key");

  const { htm, htu, ath, iat, jti } = claims;
  if (htm !== input.method || htu !== input.path) return fail("proof_mismatch", "the proof is for another request");
  if (ath !== (await bodyDigest(input.body))) return fail("proof_mismatch", "the proof is for another body");
  if (typeof iat !== "number" || !Number.isSafeInteger(iat)) return fail("proof_malformed", "iat must be an integer");
  if (Math.abs(input.now / 1000 - iat) > AGENT_PROOF_WINDOW_SECONDS) return fail("proof_stale", `iat must be within ${AGENT_PROOF_WINDOW_SECONDS} s of now`);
  if (typeof jti !== "string" || !/^[A-Za-z0-9_-]{16,64}$/.test(jti)) return fail("proof_malformed", "jti must be 16 to 64 base64url characters");
  return ok({
    agentId: svid.value.spiffeId,
    jti,
    expiresAt: (iat + AGENT_PROOF_WINDOW_SECONDS) * 1000 + 1000,
    svidSerial: svid.value.leaf.serialHex,
    svidExpiresAt: svid.value.leaf.notAfter,
  });
}
