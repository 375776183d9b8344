/**
 * Node attestation from the agent's side: how it gets its agent SVID (README "Node attestation and
 * the agent API"). Every method makes a fresh, non-extractable ECDSA P-256 key in memory and sends a
 * CSR for it:
 * - `join_token`: the token, once;
 * - `tee` (sample, snp, tdx): the key broker handshake (lib/kbs/guest.ts, as `signet kbs
 *   get-resource` runs it) with that key's public half as `tee-pubkey`, so the hardware evidence binds
 *   the very key the CSR is for; the attestation token is then traded for the SVID;
 * - `x509pop`: the bootstrap chain, the server's challenge, the leaf key's answer (x509pop.ts).
 */
import { runHandshake, type Attester, type Fetch, type GuestError } from "../lib/kbs/guest";
import type { TeeKeyPair } from "../lib/kbs/resource-jwe";
import { parseTeePubKey } from "../lib/kbs/tee-pubkey";
import { err, ok, type Result } from "../lib/result";
import { csrText, generateSvidKey, type SvidKey } from "./csr";
import type { AgentApi, ServerError } from "./server-client";
import { readIssuedSvid, type IssuedSvid } from "./svid";
import { answerX509PopChallenge, type X509PopCredential } from "./x509pop";
import { fromBase64 } from "../lib/encoding";
import { createHttpTransport } from "../node/http-request";
import { kbsFetch } from "../node/kbs-fetch";

export type AttestFailureReason =
  /** The server (or key broker) could not be reached or answered 5xx: worth retrying. */
  | "unreachable"
  /** The server refused the attestation (a spent token, evidence rejected, a banned agent). */
  | "refused"
  /** An answer that cannot be used. */
  | "bad_response"
  /** Local evidence could not be produced (no configfs-tsm, not root). */
  | "evidence";

export interface AttestFailure {
  readonly reason: AttestFailureReason;
  readonly detail: string;
  /** The server's problem code, when it sent one (`attestation_failed`, `agent_banned`, …). */
  readonly code?: string;
}

/** The agent's own identity after attestation or renewal. */
export interface AgentSvid {
  readonly spiffeId: string;
  readonly key: SvidKey;
  readonly svid: IssuedSvid;
  /** DER CA certificates of the own trust domain, as the answer carried them. */
  readonly bundle: readonly Uint8Array[];
  readonly reattestable: boolean;
}

export interface NodeAttestor {
  /** `join_token`, `tee`, `x509pop`: for logs. */
  readonly method: string;
  attest(client: AgentApi, now: () => number): Promise<Result<AgentSvid, AttestFailure>>;
}

export function fromServerError(e: ServerError, what: string): AttestFailure {
  const reason: AttestFailureReason = e.reason === "unreachable" || e.reason === "unavailable" ? "unreachable" : e.reason === "refused" ? "refused" : "bad_response";
  return { reason, detail: `${what}: ${e.detail}`, ...(e.code ? { code: e.code } : {}) };
}

/** The SVID answer of attest or renew, checked against the key that was sent. */
export function agentSvidFrom(
  answer: { spiffe_id: string; svid: string[]; bundle: string[]; reattestable: boolean },
  key: SvidKey,
  now: number,
): Result<AgentSvid, AttestFailure> {
  if (!answer.spiffe_id.includes("/signet/agent/")) return err({ reason: "bad_response", detail: `the server named ${answer.spiffe_id}, which is not an agent ID` });
  const svid = readIssuedSvid(answer.svid, answer.spiffe_id, key.spki, now);
  if (!svid.ok) return err({ reason: "bad_response", detail: `the agent SVID is not usable: ${svid.error}` });
  const bundle = answer.bundle.map((b) => fromBase64(b)!);
  return ok({ spiffeId: answer.spiffe_id, key, svid: svid.value, bundle, reattestable: answer.reattestable });
}

export function joinTokenAttestor(token: string): NodeAttestor {
  return {
    method: "join_token",
    async attest(client, now) {
      const key = await generateSvidKey(false);
      const answer = await client.attest({ type: "join_token", token, csr: await csrText(key) });
      if (!answer.ok) return err(fromServerError(answer.error, "join token attestation"));
      return agentSvidFrom(answer.value, key, now());
    },
  };
}

function guestFailure(e: GuestError): AttestFailure {
  const reason: AttestFailureReason =
    e.reason === "kbs_unreachable" || (e.reason === "kbs_refused" && (e.status ?? 0) >= 500) ? "unreachable"
    : e.reason === "kbs_refused" || e.reason === "resource_not_found" ? "refused"
    : e.reason === "kbs_bad_response" ? "bad_response"
    : "evidence";
  const variant = e.kbsType ? `${e.kbsType}: ` : "";
  return { reason, detail: `key broker ${e.step ?? "handshake"}: ${variant}${e.detail}${e.status ? ` (HTTP ${e.status})` : ""}` };
}

export interface TeeAttestorOptions {
  readonly attester: Attester;
  /** The key broker (the Signet server's own `/kbs/v0`). */
  readonly server: string | URL;
  readonly fetch?: Fetch;
}

export function teeAttestor(options: TeeAttestorOptions): NodeAttestor {
  // Not Node's fetch: its first call loads undici for good (~10 MB of RSS; see src/node/kbs-fetch.ts).
  let viaNodeHttp: Fetch | undefined;
  const handshakeFetch = () => options.fetch ?? (viaNodeHttp ??= kbsFetch(createHttpTransport()));
  return {
    method: "tee",
    async attest(client, now) {
      const key = await generateSvidKey(false);
      const { x, y } = (await crypto.subtle.exportKey("jwk", key.publicKey)) as JsonWebKey;
      const teePubKey = parseTeePubKey({ kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", x, y });
      if (!teePubKey.ok) throw new TypeError(`the agent key is not a TEE key: ${teePubKey.error.detail}`);
      // The pair is only bound into the evidence here; nothing is decrypted with it.
      const teeKeys: TeeKeyPair = { keyPair: { privateKey: key.privateKey, publicKey: key.publicKey }, teePubKey: teePubKey.value };
      const session = await runHandshake({ server: options.server, fetch: handshakeFetch(), attester: options.attester, teeKeys });
      if (!session.ok) return err(guestFailure(session.error));
      const answer = await client.attest({ type: "tee", attestation_token: session.value.token, csr: await csrText(key) });
      if (!answer.ok) return err(fromServerError(answer.error, "tee attestation"));
      return agentSvidFrom(answer.value, key, now());
    },
  };
}

export function x509PopAttestor(credential: X509PopCredential): NodeAttestor {
  return {
    method: "x509pop",
    async attest(client, now) {
      const challenge = await client.x509PopChallenge(credential.certificates);
      if (!challenge.ok) return err(fromServerError(challenge.error, "x509pop attestation"));
      const response = await answerX509PopChallenge(credential.key, challenge.value.challenge);
      if (!response.ok) return err({ reason: "bad_response", detail: `x509pop attestation: ${response.error}` });
      const key = await generateSvidKey(false);
      const answer = await client.attest({
        type: "x509pop_response",
        challenge_id: challenge.value.challenge_id,
        certificates: credential.certificates,
        response: response.value,
        csr: await csrText(key),
      });
      if (!answer.ok) return err(fromServerError(answer.error, "x509pop attestation"));
      return agentSvidFrom(answer.value, key, now());
    },
  };
}
