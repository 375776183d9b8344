/**
 * A key broker for the guest's unit tests, just enough of Trustee RCAR 0.4.0 and built from the
 * server half of src/lib/kbs and the wire schemas: /auth (version gate, nonce, `kbs-session-id`
 * cookie with Expires), /attest (the session's nonce, sample evidence checked against
 * H(JCS(runtime data)); other TEEs' evidence is recorded, not verified), /resource (the attested
 * session's key, a JWE from `encryptResource`; a missing resource is 401 PluginInternalError as
 * Trustee answers). Errors are Trustee's `{type, detail}`. `script` answers a request first when it
 * returns something, for the failure cases. Reachable as a `fetch` (guest.ts) or over HTTP (the CLI).
 */
import { toBase64, toBase64Url, utf8 } from "../../../src/lib/encoding";
import {
  challengeExtraParams,
  checkNonce,
  checkProtocolVersion,
  encryptResource,
  expectedReportData,
  newNonce,
  newSessionId,
  type HashAlgorithm,
  type KbsAttestation,
  type Nonce,
  type TeePubKey,
} from "../../../src/lib/kbs";
import { KbsAttestationBody, KbsRequestBody } from "../../../src/workers/schemas/kbs";
import type { FakeAnswer, Handler } from "../cli/fake-server";

export interface KbsRequest {
  readonly method: string;
  /** Path and query, e.g. `/kbs/v0/resource/a/b/c?x=1`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface KbsAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

interface Session {
  readonly nonce: Nonce;
  readonly tee: string;
  attested?: { readonly teePubKey: TeePubKey; readonly attestation: KbsAttestation };
}

export const kbsError = (status: number, variant: string, detail: string): KbsAnswer => ({
  status,
  body: JSON.stringify({ type: `https://github.com/confidential-containers/kbs/errors/${variant}`, detail }),
});

const json = (body: unknown, headers: Record<string, string> = {}): KbsAnswer => ({ status: 200, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

export class FakeKbs {
  readonly requests: KbsRequest[] = [];
  readonly resources = new Map<string, Uint8Array>();
  readonly sessions = new Map<string, Session>();
  /** What each /attest carried, in order. */
  readonly attestations: KbsAttestation[] = [];
  hash: HashAlgorithm = "sha384";
  script: ((req: KbsRequest) => KbsAnswer | undefined) | undefined;
  /** The token's `exp` (seconds). */
  tokenExp = 1_900_000_000;

  async handle(req: KbsRequest): Promise<KbsAnswer> {
    this.requests.push(req);
    const scripted = this.script?.(req);
    if (scripted) return scripted;
    const path = req.path.split("?")[0]!;
    if (req.method === "POST" && path === "/kbs/v0/auth") return this.#auth(req);
    if (req.method === "POST" && path === "/kbs/v0/attest") return this.#attest(req);
    if (req.method === "GET" && path.startsWith("/kbs/v0/resource/")) return this.#resource(req, path.slice("/kbs/v0/resource/".length));
    return kbsError(404, "PluginNotFound", "Plugin not found");
  }

  /** Guest-side transport: the fake as a `fetch`. */
  readonly fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const u = new URL(url);
    const answer = await this.handle({
      method: init.method ?? "GET",
      path: `${u.pathname}${u.search}`,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: typeof init.body === "string" ? init.body : "",
    });
    return new Response(answer.body, { status: answer.status, headers: answer.headers ?? {} });
  };

  /** Handler for FakeSignetServer (the CLI over real HTTP). */
  readonly httpHandler: Handler = async (req): Promise<FakeAnswer> => {
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]));
    const answer = await this.handle({ method: req.method, path: req.path, headers, body: req.body });
    return { status: answer.status, body: answer.body, headers: answer.headers ?? {} };
  };

  #session(req: KbsRequest): [string, Session] | undefined {
    const id = /(?:^|;\s*)kbs-session-id=([0-9a-f]{32})/.exec(req.headers.cookie ?? "")?.[1];
    const session = id === undefined ? undefined : this.sessions.get(id);
    return session && id ? [id, session] : undefined;
  }

  #auth(req: KbsRequest): KbsAnswer {
    const parsed = KbsRequestBody.safeParse(safeJson(req.body));
    if (!parsed.success) return kbsError(401, "AttestationError", "Attestation error: RCAR handshake Auth failed");
    const version = checkProtocolVersion(parsed.data.version);
    if (!version.ok) return kbsError(401, "AttestationError", `Attestation error: RCAR handshake Auth failed: ${version.error.detail}`);
    const id = newSessionId();
    const nonce = newNonce();
    this.sessions.set(id, { nonce, tee: parsed.data.tee });
    return json({ nonce, "extra-params": challengeExtraParams(this.hash) }, { "set-cookie": `kbs-session-id=${id}; Expires=Wed, 21 Oct 2037 07:28:00 GMT` });
  }

  async #attest(req: KbsRequest): Promise<KbsAnswer> {
    const refused = kbsError(401, "AttestationError", "Attestation error: RCAR handshake Attest failed");
    const found = this.#session(req);
    const parsed = KbsAttestationBody.safeParse(safeJson(req.body));
    if (!found || !parsed.success) return refused;
    const [id, session] = found;
    const a = parsed.data;
    this.attestations.push(a);
    if (!checkNonce(a.runtimeData.nonce, session.nonce).ok) return refused;
    if (session.tee === "sample") {
      const digest = await expectedReportData({ nonce: session.nonce, teePubKey: a.runtimeData.teePubKey, additionalEvidence: a.teeEvidence.additionalEvidence }, this.hash);
      const evidence = a.teeEvidence.primaryEvidence as { svn?: unknown; report_data?: unknown };
      if (evidence.svn !== "1" || evidence.report_data !== toBase64(digest)) return refused;
    }
    session.attested = { teePubKey: a.runtimeData.teePubKey, attestation: a };
    const token = [{ alg: "ES256" }, { exp: this.tokenExp, sub: id }].map((p) => toBase64Url(utf8(JSON.stringify(p)))).join(".") + ".c2lnbmF0dXJl";
    return json({ token }, { "set-cookie": `kbs-session-id=${id}; Expires=Wed, 21 Oct 2037 07:28:00 GMT` });
  }

  async #resource(req: KbsRequest, path: string): Promise<KbsAnswer> {
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*\/[A-Za-z0-9_-][A-Za-z0-9_.-]*\/[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(path)) return kbsError(404, "InvalidRequestPath", "Invalid request path");
    const found = this.#session(req);
    if (!found?.[1].attested) return kbsError(401, "TokenNotFound", "Token not found");
    const secret = this.resources.get(path);
    if (!secret) return kbsError(401, "PluginInternalError", "Plugin internal error: resource not found");
    return json(await encryptResource(found[1].attested.teePubKey, secret));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
