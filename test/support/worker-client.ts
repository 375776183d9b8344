/** Calls the Worker in-process (the Workers test pool), the way a client would over HTTP. */
import { exports } from "cloudflare:workers";

export const ORIGIN = "https://signet.test";
export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123456789abcdef";

export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, init));
}

export async function adminPost(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance: string;
}

export async function problemOf(res: Response): Promise<Problem> {
  if (res.headers.get("Content-Type") !== "application/problem+json") {
    throw new Error(`expected problem+json, got ${res.status} ${res.headers.get("Content-Type")}: ${await res.text()}`);
  }
  return (await res.json()) as Problem;
}
