/**
 * The key broker handshake (src/lib/kbs/guest.ts `runHandshake`) takes a fetch; in signet-agent it gets
 * this one, which sends over src/node/http-request.ts instead of Node's fetch: the first fetch() loads
 * undici (~10 MB of the agent's RSS, for good), and the agent attests at start and again later.
 *
 * The answer is a Response in shape only: `status`, `ok`, `headers` (`get`, `has`, `getSetCookie`),
 * `body` (a web ReadableStream of the bytes read), `text()`, `json()`, `arrayBuffer()`. It never
 * touches the `Response`/`Headers` globals. A body over `maxBodyBytes` reads as an answer declaring
 * that it is larger (so a bounded reader refuses it as too large); a body that broke off reads as a
 * stream that errors, as fetch's does; a failure before any answer rejects with `{ cause: { code } }`.
 */
import type { Fetch } from "../lib/kbs/guest";
import type { HttpAnswer, HttpFailure, HttpRequest } from "./http-request";
import type { Result } from "../lib/result";

type Transport = (request: HttpRequest) => Promise<Result<HttpAnswer, HttpFailure>>;

/** Larger than anything the handshake reads (its resource answers are bounded well below). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** The handshake bounds each request with its own AbortSignal; this is only a backstop. */
const BACKSTOP_MS = 10 * 60_000;

export function kbsFetch(transport: Transport, maxBodyBytes = MAX_BODY_BYTES): Fetch {
  return async (url, init) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    const body = typeof init.body === "string" ? new TextEncoder().encode(init.body) : undefined;
    const r = await transport({ method: init.method ?? "GET", url: new URL(url), headers, ...(body ? { body } : {}), timeoutMs: BACKSTOP_MS, ...(init.signal ? { signal: init.signal } : {}), maxBodyBytes });
    if (!r.ok) {
      const error = new Error(`fetch failed: ${r.error.code}`, { cause: { code: r.error.code, message: r.error.code } });
      // As fetch names it: the handshake's AbortSignal.timeout, or the backstop.
      if (r.error.code === "timed out" || (init.signal?.reason as Error | undefined)?.name === "TimeoutError") error.name = "TimeoutError";
      throw error;
    }
    return answerLike(r.value, maxBodyBytes) as unknown as Response;
  };
}

function answerLike(answer: HttpAnswer, maxBodyBytes: number) {
  const bytes = answer.body instanceof Uint8Array ? answer.body : new Uint8Array(0);
  const declared = answer.body === "too_large" ? String(maxBodyBytes + 1) : undefined;
  const get = (name: string): string | null => (name.toLowerCase() === "content-length" && declared !== undefined ? declared : (answer.header(name) ?? null));
  let used = false;
  const take = async (): Promise<Uint8Array> => {
    if (used) throw new TypeError("Body is unusable: Body has already been read");
    used = true;
    if (answer.body === "broken") throw new TypeError("terminated");
    return bytes;
  };
  const broken = answer.body === "broken";
  return {
    status: answer.status,
    ok: answer.status >= 200 && answer.status <= 299,
    headers: { get, has: (name: string) => get(name) !== null, getSetCookie: () => [...answer.headerLines("set-cookie")] },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        if (broken) controller.error(new TypeError("terminated"));
        else {
          if (bytes.length > 0) controller.enqueue(bytes);
          controller.close();
        }
      },
    }),
    text: async () => new TextDecoder().decode(await take()),
    json: async () => JSON.parse(new TextDecoder().decode(await take())) as unknown,
    arrayBuffer: async () => (await take()).slice().buffer,
  };
}
