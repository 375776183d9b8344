/** An agent's side of /agent/v1 in the Workers pool: keys and CSRs, attestation, proven calls, admin entries. */
import { expect } from "vitest";
import { fromBase64 } from "../../src/lib/encoding";
import { createAgentProof } from "../../src/lib/spiffe/agent-proof";
import { ADMIN_TOKEN, call } from "./worker-client";
import { x509 } from "./x509";

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;

export interface AgentKeys {
  readonly pair: CryptoKeyPair;
  readonly csr: string;
}

export interface Attested {
  readonly spiffe_id: string;
  readonly svid: string[];
  readonly bundle: string[];
  readonly expires_at: number;
  readonly reattestable: boolean;
}

export async function agentKeys(): Promise<AgentKeys> {
  const pair = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=agent", keys: pair, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
  return { pair, csr: csr.toString("pem") };
}

export function attest(body: unknown): Promise<Response> {
  return call("/agent/v1/attest", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

export async function joinToken(): Promise<string> {
  const res = await call("/admin/v1/join-tokens", { method: "POST", headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify({ ttl: 600 }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

/** A new agent attested with a join token. */
export async function joinedAgent(): Promise<{ keys: AgentKeys; agent: Attested }> {
  const keys = await agentKeys();
  const res = await attest({ type: "join_token", token: await joinToken(), csr: keys.csr });
  expect(res.status).toBe(200);
  return { keys, agent: (await res.json()) as Attested };
}

/** A call carrying an agent proof over exactly this method, path and body. */
export async function agentCall(keys: AgentKeys, svidB64: string, method: string, path: string, body = "", over: { proof?: string; now?: number } = {}): Promise<Response> {
  const bytes = new TextEncoder().encode(body);
  const proof = over.proof ?? (await createAgentProof(keys.pair.privateKey, "ES256", fromBase64(svidB64)!, { method, path, body: bytes, now: over.now ?? Date.now() }));
  return call(path, { method, headers: { "Signet-Agent-Proof": proof, ...(body ? { "Content-Type": "application/json" } : {}) }, ...(body ? { body } : {}) });
}

export interface EntryOptions {
  readonly dnsNames?: readonly string[];
  readonly federatesWith?: readonly string[];
  readonly jwtSvidTtl?: number;
  readonly admin?: boolean;
}

export async function createEntry(spiffeId: string, parentId: string, selectors: [string, string][], options: EntryOptions = {}): Promise<{ id: string; revision_number: number }> {
  const res = await call("/admin/v1/entries", {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      entries: [
        {
          spiffe_id: spiffeId,
          parent_id: parentId,
          selectors: selectors.map(([type, value]) => ({ type, value })),
          ...(options.dnsNames ? { dns_names: options.dnsNames } : {}),
          ...(options.federatesWith ? { federates_with: options.federatesWith } : {}),
          ...(options.jwtSvidTtl ? { jwt_svid_ttl: options.jwtSvidTtl } : {}),
          ...(options.admin ? { admin: true } : {}),
        },
      ],
    }),
  });
  const body = (await res.json()) as { results: { status: string; entry: { id: string; revision_number: number } }[] };
  expect(body.results[0]!.status).toBe("created");
  return body.results[0]!.entry;
}
