/**
 * A guest for the Workers-pool tests: the RCAR handshake as guest-components runs it, with the
 * sample attester (evidence {"svn":"1","report_data": base64(H(JCS(runtime data)))}).
 */
import { toBase64 } from "../../src/lib/encoding";
import { expectedReportData, generateTeeKeyPair, teePubKeyJwk, type TeeKeyPair } from "../../src/lib/kbs";

/** How a guest reaches the key broker: the Worker in-process by default (tests pass fetch to a server). */
export type Send = (path: string, init?: RequestInit) => Promise<Response>;

let send: Send = async (path, init) => (await import("./worker-client")).call(path, init);

/** Points the helpers at another transport (the e2e tests: a real `npm run dev` over HTTP). */
export function useTransport(next: Send): void {
  send = next;
}

function call(path: string, init?: RequestInit): Promise<Response> {
  return send(path, init);
}

export interface Handshake {
  readonly cookie: string;
  readonly nonce: string;
  readonly keys: TeeKeyPair;
  readonly attest: Response;
}

let guests = 0;

/**
 * `POST /kbs/v0/auth`. Each call comes from its own client address (a distinct guest), unless the
 * caller names one: /auth is rate-limited per client, and the tests play many guests.
 */
export async function authRequest(body: unknown = { version: "0.4.0", tee: "sample", "extra-params": { "supported-hash-algorithms": ["sha384"] } }, headers: Record<string, string> = {}): Promise<Response> {
  guests++;
  const client = { "CF-Connecting-IP": `2001:db8::${(guests % 65535).toString(16)}` };
  return call("/kbs/v0/auth", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "Content-Type": "application/json", ...client, ...headers } });
}

export function cookieOf(res: Response): string {
  const set = res.headers.get("Set-Cookie") ?? "";
  const m = /kbs-session-id=([0-9a-f]{32})/.exec(set);
  if (!m) throw new Error(`no session cookie in ${JSON.stringify(set)}`);
  return `kbs-session-id=${m[1]}`;
}

export async function sampleAttestation(nonce: string, keys: TeeKeyPair, over: { reportData?: Uint8Array; initData?: unknown } = {}): Promise<Record<string, unknown>> {
  const runtime = { nonce, teePubKey: keys.teePubKey, additionalEvidence: "" };
  const digest = over.reportData ?? (await expectedReportData(runtime, "sha384"));
  return {
    "init-data": over.initData ?? null,
    "runtime-data": { nonce, "tee-pubkey": teePubKeyJwk(keys.teePubKey) },
    "tee-evidence": { primary_evidence: { svn: "1", report_data: toBase64(digest) }, additional_evidence: "" },
  };
}

export async function attestRequest(cookie: string | undefined, body: unknown): Promise<Response> {
  return call("/kbs/v0/attest", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "Content-Type": "application/json", ...(cookie ? { Cookie: cookie } : {}) } });
}

/** /auth then /attest with good sample evidence (unless `tamper` changes the attestation). */
export async function handshake(tamper?: (a: Record<string, unknown>) => Record<string, unknown>): Promise<Handshake> {
  const auth = await authRequest();
  if (auth.status !== 200) throw new Error(`/auth answered ${auth.status}: ${await auth.text()}`);
  const cookie = cookieOf(auth);
  const { nonce } = (await auth.json()) as { nonce: string };
  const keys = await generateTeeKeyPair("ECDH-ES+A256KW-P256");
  const body = await sampleAttestation(nonce, keys);
  const attest = await attestRequest(cookie, tamper ? tamper(body) : body);
  return { cookie, nonce, keys, attest };
}

export async function getResource(path: string, auth: { cookie?: string; bearer?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (auth.cookie) headers.Cookie = auth.cookie;
  if (auth.bearer) headers.Authorization = `Bearer ${auth.bearer}`;
  return call(`/kbs/v0/resource/${path}`, { headers });
}
