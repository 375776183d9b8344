/**
 * The agent's own SVID over time (SPIRE's pkg/agent/svid/rotator.go, with Signet's renew call):
 * renewed at half its lifetime (±10 % jitter, fixed when the SVID arrives, so a fleet attested
 * together does not renew together); when the server refuses the renewal or no longer knows the SVID
 * (evicted, replaced), re-attested if the server said the agent may, else the agent stops with a
 * clear message. A server that cannot be reached is not a reason to stop while the SVID is valid.
 */
import type { Clock } from "../lib/clock";
import { err, ok, type Result } from "../lib/result";
import { agentSvidFrom, fromServerError, type AgentSvid, type AttestFailure, type NodeAttestor } from "./attestation";
import { csrText, generateSvidKey } from "./csr";
import type { Logger } from "./log";
import type { AgentApi, ServerError } from "./server-client";

/** Exit codes of signet-agent (the CLI's: 1 refused, 2 usage, 3 unreachable or unreadable). */
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

/** The agent cannot go on; `main` prints the message as one line and exits with the code. */
export class AgentFatalError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "AgentFatalError";
    this.exitCode = exitCode;
  }
}

/** The rotation point: notBefore + lifetime/2, moved by up to ±10 % of the half-life. */
export function rotationTime(notBefore: number, notAfter: number, random: () => number): number {
  const half = (notAfter - notBefore) / 2;
  return Math.floor(notBefore + half + (random() * 2 - 1) * 0.1 * half);
}

export interface AgentIdentityOptions {
  readonly client: AgentApi;
  readonly attestor: NodeAttestor;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
}

export class AgentIdentity {
  readonly #o: AgentIdentityOptions;
  #current: AgentSvid | undefined;
  #rotateAt = 0;

  constructor(options: AgentIdentityOptions) {
    this.#o = options;
  }

  get current(): AgentSvid {
    if (!this.#current) throw new TypeError("the agent has not attested");
    return this.#current;
  }

  get rotateAt(): number {
    return this.#rotateAt;
  }

  /** Attest (first start, or again); refusal is fatal, the rest is a value to retry on. */
  async attest(): Promise<Result<AgentSvid, AttestFailure>> {
    const { attestor, client, clock, log } = this.#o;
    const attested = await attestor.attest(client, () => clock.now());
    if (!attested.ok) {
      if (attested.error.reason === "refused") throw new AgentFatalError(`node attestation (${attestor.method}) was refused: ${attested.error.detail}`, EXIT_REFUSED);
      return attested;
    }
    if (this.#current && this.#current.spiffeId.split("/")[2] !== attested.value.spiffeId.split("/")[2]) {
      throw new AgentFatalError(`re-attestation gave an agent of another trust domain (${attested.value.spiffeId})`, EXIT_REFUSED);
    }
    this.#set(attested.value);
    log.info("attested", { method: attestor.method, spiffe_id: attested.value.spiffeId, expires_at: new Date(attested.value.svid.notAfter).toISOString(), reattestable: attested.value.reattestable });
    return attested;
  }

  /** Renews (or re-attests) when the rotation point has passed. A transient failure is a value. */
  async ensureFresh(): Promise<Result<void, string>> {
    const { clock } = this.#o;
    const current = this.current;
    if (clock.now() < this.#rotateAt) return ok(undefined);
    const key = await generateSvidKey(false);
    const renewed = await this.#o.client.renew(await csrText(key));
    if (renewed.ok) {
      const svid = agentSvidFrom(renewed.value, key, clock.now());
      if (svid.ok && svid.value.spiffeId === current.spiffeId) {
        this.#set(svid.value);
        this.#o.log.info("agent SVID renewed", { spiffe_id: current.spiffeId, expires_at: new Date(svid.value.svid.notAfter).toISOString() });
        return ok(undefined);
      }
      return err(svid.ok ? "the renewed agent SVID is for another agent" : svid.error.detail);
    }
    return this.recover(renewed.error, "renewal");
  }

  /**
   * After a call failed: a refusal of the agent itself (its SVID not the current one, evicted) means
   * re-attest or stop; a ban always stops; anything else is transient unless the SVID has expired.
   */
  async recover(e: ServerError, what: string): Promise<Result<void, string>> {
    const current = this.current;
    const now = this.#o.clock.now();
    if (e.code === "agent_banned") throw new AgentFatalError(`the server banned this agent (${current.spiffeId}); an admin must evict it before it can attest again`, EXIT_REFUSED);
    const refusedAgent = e.reason === "refused" && (e.status === 401 || e.status === 403);
    const expired = now >= current.svid.notAfter;
    if (!refusedAgent && !expired) return err(fromServerError(e, what).detail);
    const why = refusedAgent ? `the server refused the agent SVID (${what}: ${e.detail})` : "the agent SVID expired while the server could not be reached";
    if (!current.reattestable) {
      throw new AgentFatalError(`${why}; this agent attested with a ${this.#o.attestor.method === "join_token" ? "join token, which cannot be used again: start it with a new token" : "method the server does not let re-attest"}`, EXIT_REFUSED);
    }
    this.#o.log.warn("re-attesting", { reason: why });
    const again = await this.attest();
    return again.ok ? ok(undefined) : err(again.error.detail);
  }

  #set(svid: AgentSvid): void {
    this.#current = svid;
    this.#rotateAt = rotationTime(svid.svid.notBefore, svid.svid.notAfter, this.#o.random);
    this.#o.client.setCredential({ key: svid.key.privateKey, alg: "ES256", svid: svid.svid.chain[0]! });
  }
}
