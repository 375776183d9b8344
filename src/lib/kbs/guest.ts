/**
 * The guest side of the key broker protocol (Trustee RCAR 0.4.0), as guest-components' cookie client
 * (`kbs_protocol/src/client/rcar_client.rs`) runs it: `POST /auth` (Request → Challenge and the
 * `kbs-session-id` cookie), a fresh TEE key, the evidence bound to H(JCS(runtime data)), `POST /attest`
 * (→ token), then `GET /resource/<repo>/<type>/<tag>` with the cookie and the JWE decrypted with the
 * TEE key. On a 401 from /resource the whole handshake is run again, at most 3 attempts in all; a 404
 * stops at once (specs/kbs-protocol.md §2.3). Runtime-agnostic: `fetch` and the attester are injected,
 * the cookie is kept by hand (no jar), and the binding rule is runtime-data.ts's, as the server's.
 * Expected failures are values (`GuestError`); a caller's misuse throws TypeError.
 */
import { concatBytes, fromBase64, fromUtf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import { INIT_DATA_FORMAT } from "./init-data";
import { attestationWire, isWellFormedString, requestWire, selectedHashAlgorithm, type KbsTee } from "./protocol";
import { decryptResource, generateTeeKeyPair, type TeeKeyAlgorithm, type TeeKeyPair } from "./resource-jwe";
import { parseResourcePath } from "./resource-path";
import { expectedReportData } from "./runtime-data";

/** The TEEs a Signet guest attests as. */
export const GUEST_TEES = ["sample", "snp", "tdx"] as const satisfies readonly KbsTee[];
export type GuestTee = (typeof GUEST_TEES)[number];

export type GuestFailureReason =
  /** The key broker could not be reached, or the connection broke (DNS, refused, TLS, timeout). */
  | "kbs_unreachable"
  /** The key broker answered an error (Trustee's `{type, detail}` when it sent one). */
  | "kbs_refused"
  /** `GET /resource` answered 404 (a bad path or an unknown plugin): not retried. */
  | "resource_not_found"
  /** A 2xx (or 3xx) answer the guest cannot use: not JSON, no cookie, no token, a JWE that does not decrypt. */
  | "kbs_bad_response"
  /** The TEE gave no evidence (no configfs-tsm, permissions, I/O). */
  | "evidence_unavailable"
  /** The TEE is not the one asked for (`--tee snp` on a TDX guest). */
  | "tee_mismatch"
  /** Another writer kept changing the report request while it was read. */
  | "evidence_conflict"
  /** The TEE's answer cannot be turned into evidence JSON. */
  | "evidence_malformed"
  /** A resource URI outside the grammar of specs/kbs-protocol.md §10.1. */
  | "bad_resource_uri";

export type GuestStep = "auth" | "attest" | "resource";

/** Plain data: it survives structured clone and JSON. */
export interface GuestError {
  readonly reason: GuestFailureReason;
  readonly detail: string;
  /** The call that failed (key broker failures only). */
  readonly step?: GuestStep;
  readonly status?: number;
  /** Trustee's error variant, the last segment of `type` (`PolicyDeny`, `PluginInternalError`, …). */
  readonly kbsType?: string;
  /** Resource requests made (getResource only). */
  readonly attempts?: number;
}

/** Evidence for one TEE: `primary_evidence` JSON with `reportData` (the digest) bound in. */
export interface Attester {
  readonly tee: GuestTee;
  evidence(reportData: Uint8Array): Promise<Result<unknown, GuestError>>;
}

/** What the guest needs of `fetch` (Node's and the Workers' both fit). */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface KbsEndpoint {
  /** The key broker's base URL; `kbs/v0/…` is resolved against it. */
  readonly server: string | URL;
  readonly fetch: Fetch;
  /** Per HTTP request (default 60 s, guest-components' timeout). */
  readonly timeoutMs?: number;
}

export interface HandshakeInput extends KbsEndpoint {
  readonly attester: Attester;
  /** guest-components' `tee_key_algorithm` (default `ECDH-ES+A256KW-P256`). */
  readonly keyAlgorithm?: TeeKeyAlgorithm;
  /** The init-data TOML text, sent verbatim as `init-data` (format `toml`); default none (`null`). */
  readonly initData?: string;
  /**
   * The TEE key to bind instead of a fresh one (signet-agent binds its agent SVID key, so that node
   * attestation can check the CSR's key is the one the evidence bound); `keyAlgorithm` is then unused.
   */
  readonly teeKeys?: TeeKeyPair;
}

/** An attested session: the cookie that names it, the token, and the key the resources come encrypted to. */
export interface GuestSession {
  readonly token: string;
  readonly keys: TeeKeyPair;
  /** The `kbs-session-id` cookie value. */
  readonly cookie: string;
  /** The token's `exp` in ms since the epoch, when it has one (the server decides; this is for renewal). */
  readonly expiresAt: number | undefined;
}

export interface GetResourceInput extends KbsEndpoint {
  /** `<repo>/<type>/<tag>`. */
  readonly path: string;
  /** Passed on verbatim after `?` (the resource plugin's query). */
  readonly query?: string;
  /** How to attest: run for the first attempt (unless `session` is given) and after each 401. */
  readonly handshake: () => Promise<Result<GuestSession, GuestError>>;
  /** A session to try first. */
  readonly session?: GuestSession;
}

export const COOKIE_NAME = "kbs-session-id";
export const RESOURCE_ATTEMPTS = 3;
const DEFAULT_TIMEOUT_MS = 60_000;
/** Challenge and token answers are small (a token is at most 64 KiB); a resource JWE is at most ~32 MiB. */
const MAX_ANSWER_BYTES = 128 * 1024;
const MAX_RESOURCE_ANSWER_BYTES = 33 * 1024 * 1024;
const MAX_TOKEN_CHARS = 64 * 1024;
const MAX_DETAIL = 500;
/** RFC 6265 cookie-octets, bounded. */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,256}$/;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/;

const fail = (reason: GuestFailureReason, detail: string, more: Partial<GuestError> = {}): { readonly ok: false; readonly error: GuestError } =>
  err({ reason, detail, ...more });
const clip = (s: string, max = MAX_DETAIL): string => (s.length > max ? `${s.slice(0, max)}…` : s);

/** /auth → evidence → /attest. Never throws on what the key broker or the TEE answers. */
export async function runHandshake(input: HandshakeInput): Promise<Result<GuestSession, GuestError>> {
  const auth = await call(input, "auth", "kbs/v0/auth", { method: "POST", body: JSON.stringify(requestWire(input.attester.tee)) });
  if (!auth.ok) return auth;
  const challenge = parseChallenge(auth.value.json);
  if (!challenge.ok) return challenge;
  let cookie = sessionCookie(auth.value.headers);
  if (!cookie) return fail("kbs_bad_response", `the /auth answer sets no ${COOKIE_NAME} cookie`, { step: "auth" });
  const hash = selectedHashAlgorithm(challenge.value.extraParams);
  if (!hash.ok) return fail("kbs_bad_response", hash.error.detail, { step: "auth" });

  const keys = input.teeKeys ?? (await generateTeeKeyPair(input.keyAlgorithm ?? "ECDH-ES+A256KW-P256"));
  const nonce = challenge.value.nonce;
  const reportData = await expectedReportData({ nonce, teePubKey: keys.teePubKey, additionalEvidence: "" }, hash.value);
  const evidence = await input.attester.evidence(reportData);
  if (!evidence.ok) return evidence;

  const body = attestationWire({
    initData: input.initData === undefined ? null : { format: INIT_DATA_FORMAT, body: input.initData },
    runtimeData: { nonce, teePubKey: keys.teePubKey },
    teeEvidence: { primaryEvidence: evidence.value, additionalEvidence: "" },
  });
  const attest = await call(input, "attest", "kbs/v0/attest", { method: "POST", body: JSON.stringify(body), cookie });
  if (!attest.ok) return attest;
  const token = parseToken(attest.value.json);
  if (!token.ok) return token;
  cookie = sessionCookie(attest.value.headers) ?? cookie;
  return ok({ token: token.value.token, keys, cookie, expiresAt: token.value.expiresAt });
}

/** The resource's plaintext, re-attesting after a 401 (at most 3 requests in all). */
export async function getResource(input: GetResourceInput): Promise<Result<Uint8Array, GuestError>> {
  if (parseResourcePath(input.path.split("/")) === undefined) throw new TypeError(`getResource: '${clip(input.path, 100)}' is not <repo>/<type>/<tag>`);
  const target = `kbs/v0/resource/${input.path}${input.query === undefined ? "" : `?${input.query}`}`;
  let last: GuestError | undefined;
  for (let attempt = 1; attempt <= RESOURCE_ATTEMPTS; attempt++) {
    const session = attempt === 1 && input.session ? ok(input.session) : await input.handshake();
    if (!session.ok) return session;
    const answer = await call(input, "resource", target, { method: "GET", cookie: session.value.cookie });
    if (!answer.ok) {
      if (answer.error.status !== 401) return err({ ...answer.error, attempts: attempt });
      last = { ...answer.error, attempts: attempt };
      continue;
    }
    const plain = await decryptResource(answer.value.json, session.value.keys.keyPair.privateKey, session.value.keys.teePubKey);
    if (!plain.ok) return fail("kbs_bad_response", `the resource does not decrypt: ${plain.error.detail}`, { step: "resource", attempts: attempt });
    return ok(plain.value);
  }
  return err(last!);
}

/**
 * A resource URI (guest-components `resource_uri`): `kbs:///<repo>/<type>/<tag>`, or with the plugin
 * named, `kbs+resource://…`; host and port are ignored (the key broker is configured separately), a
 * query is kept, a fragment refused. The bare form `<repo>/<type>/<tag>` is accepted too. The resource
 * plugin takes exactly three segments, each as Trustee's ResourceDesc allows.
 */
export function parseResourceUri(uri: string): Result<{ readonly path: string; readonly query: string | undefined }, GuestError> {
  const bad = (why: string) => fail("bad_resource_uri", `'${clip(uri, 200)}' is not a resource URI: ${why}`);
  let path = uri;
  let query: string | undefined;
  if (uri.includes(":")) {
    const m = /^kbs(?:\+([A-Za-z0-9_-]+))?:\/\/[^/?#]*(\/[^?#]*)(?:\?([^#]*))?$/.exec(uri);
    if (!m) return bad("expected kbs:///<repo>/<type>/<tag> (no fragment)");
    if (m[1] !== undefined && m[1] !== "resource") return bad(`plugin '${m[1]}' is not the resource plugin`);
    path = m[2]!.slice(1);
    query = m[3];
  }
  if (parseResourcePath(path.split("/")) === undefined) {
    return bad("the resource plugin takes exactly three segments, each of [A-Za-z0-9_-][A-Za-z0-9_.-]* (at most 128 characters)");
  }
  return ok({ path, query });
}

interface Answer {
  readonly json: unknown;
  readonly headers: Headers;
}

interface CallInit {
  readonly method: "GET" | "POST";
  readonly body?: string;
  readonly cookie?: string;
}

/** One request; a non-2xx answer becomes a GuestError with Trustee's `{type, detail}` when present. */
async function call(endpoint: KbsEndpoint, step: GuestStep, path: string, init: CallInit): Promise<Result<Answer, GuestError>> {
  const base = new URL(endpoint.server);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  const url = new URL(path, base);
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.cookie !== undefined) headers.cookie = `${COOKIE_NAME}=${init.cookie}`;
  let res: Response;
  let text: string | undefined;
  try {
    res = await endpoint.fetch(url.href, {
      method: init.method,
      headers,
      ...(init.body === undefined ? {} : { body: init.body }),
      redirect: "manual",
      signal: AbortSignal.timeout(endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    text = await readText(res, step === "resource" ? MAX_RESOURCE_ANSWER_BYTES : MAX_ANSWER_BYTES);
  } catch (e) {
    return fail("kbs_unreachable", `cannot reach ${url.origin}: ${networkReason(e)}`, { step });
  }
  const where = `${init.method} ${url.pathname}`;
  if (res.status >= 300 && res.status < 400) return fail("kbs_bad_response", `${where} redirected (HTTP ${res.status}); check the server URL`, { step, status: res.status });
  if (res.status < 200 || res.status > 299) return refusal(step, where, res.status, text);
  if (text === undefined) return fail("kbs_bad_response", `the answer to ${where} is too large or not UTF-8`, { step, status: res.status });
  try {
    return ok({ json: JSON.parse(text) as unknown, headers: res.headers });
  } catch {
    return fail("kbs_bad_response", `the answer to ${where} is not JSON`, { step, status: res.status });
  }
}

function refusal(step: GuestStep, where: string, status: number, text: string | undefined): { readonly ok: false; readonly error: GuestError } {
  const reason: GuestFailureReason = step === "resource" && status === 404 ? "resource_not_found" : "kbs_refused";
  let body: unknown;
  try {
    body = JSON.parse(text ?? "");
  } catch {
    body = undefined;
  }
  const { type, detail } = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  if (typeof type !== "string" || typeof detail !== "string") return fail(reason, `${where} answered without Trustee's {type, detail}`, { step, status });
  const kbsType = clip(/\/errors\/([A-Za-z0-9_]+)$/.exec(type)?.[1] ?? type, 200);
  return fail(reason, clip(detail), { step, status, kbsType });
}

/** The body as text, or undefined when it is larger than `max` or not UTF-8. */
async function readText(res: Response, max: number): Promise<string | undefined> {
  if (Number(res.headers.get("content-length") ?? 0) > max) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done || !value) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return fromUtf8(concatBytes(...chunks));
}

/** The most specific reason a fetch gives (`connect ECONNREFUSED 127.0.0.1:1`, a timeout, …). */
function networkReason(e: unknown): string {
  if (!(e instanceof Error)) return "network error";
  if (e.name === "TimeoutError") return "timed out";
  const cause = (e as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const message = cause instanceof Error ? cause.message : e.message;
  return clip(typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message, 200);
}

/** The `kbs-session-id` a Set-Cookie header sets, if any (attributes such as Expires are not needed). */
function sessionCookie(headers: Headers): string | undefined {
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    if (eq !== -1 && pair!.slice(0, eq).trim() === COOKIE_NAME) {
      const value = pair!.slice(eq + 1).trim();
      if (COOKIE_VALUE.test(value)) return value;
    }
  }
  return undefined;
}

/** The Challenge as the wire schema reads it (`KbsChallengeBody`): a nonce string, `extra-params` present. */
function parseChallenge(json: unknown): Result<{ nonce: string; extraParams: unknown }, GuestError> {
  const v = typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  const nonce = v?.nonce;
  if (typeof nonce !== "string" || nonce.length === 0 || nonce.length > 1024 || !isWellFormedString(nonce)) {
    return fail("kbs_bad_response", "the /auth answer is not a Challenge: no usable nonce", { step: "auth" });
  }
  if (!Object.hasOwn(v!, "extra-params")) return fail("kbs_bad_response", 'the /auth answer is not a Challenge: no "extra-params"', { step: "auth" });
  return ok({ nonce, extraParams: v!["extra-params"] });
}

/** `{"token": <JWT>}` (`KbsTokenBody`); the token must be a compact JWS, its `exp` is read if present. */
function parseToken(json: unknown): Result<{ token: string; expiresAt: number | undefined }, GuestError> {
  const token = typeof json === "object" && json !== null ? (json as Record<string, unknown>).token : undefined;
  const m = typeof token === "string" && token.length <= MAX_TOKEN_CHARS ? JWS_COMPACT.exec(token) : null;
  if (!m) return fail("kbs_bad_response", "the /attest answer has no token (a compact JWS)", { step: "attest" });
  let claims: unknown;
  try {
    claims = JSON.parse(fromUtf8(fromBase64(m[1]!) ?? new Uint8Array([0xff])) ?? "");
  } catch {
    claims = undefined;
  }
  if (typeof claims !== "object" || claims === null) return fail("kbs_bad_response", "the token's payload is not a JSON object", { step: "attest" });
  const exp = (claims as Record<string, unknown>).exp;
  return ok({ token: m.input, expiresAt: typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined });
}
