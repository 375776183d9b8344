/**
 * The guest side end to end: the real CLI (`node bin/signet.mjs kbs get-resource`) runs the RCAR
 * handshake with the sample attester against `npm run dev`, after an admin put the secret with the
 * token from `.dev.vars`, and prints (or writes) the plaintext; a missing resource is refused with
 * the key broker's error type.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT, signet, tempDir } from "../support/e2e-process";

const url = inject("signetUrl");
const TEXT = "e2e-cli-secret: hunter2";
const BINARY = new Uint8Array([0, 1, 2, 0x80, 0xfe, 0xff, 0x0a, 0x0d]);

let dir: { path: string; remove(): Promise<void> };

async function put(path: string, body: Uint8Array | string): Promise<void> {
  const token = /^SIGNET_ADMIN_TOKEN=(\S+)$/m.exec(await readFile(join(REPO_ROOT, ".dev.vars"), "utf8"))![1]!;
  const res = await fetch(`${url}/kbs/v0/resource/${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : new Blob([body as Uint8Array<ArrayBuffer>]),
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" },
  });
  expect(res.status, await res.text()).toBe(200);
}

beforeAll(async () => {
  dir = await tempDir("signet-e2e-kbs-cli-");
  await put("e2e-cli/key/text", TEXT);
  await put("e2e-cli/key/binary", BINARY);
});
afterAll(async () => {
  await dir?.remove();
});

describe("signet kbs get-resource against npm run dev", () => {
  it("--tee sample: the handshake runs and the plaintext is printed as stored", async () => {
    const r = await signet(url, ["kbs", "get-resource", "kbs:///e2e-cli/key/text", "--tee", "sample"]);
    expect(r, r.stderr).toEqual({ code: 0, stdout: TEXT, stderr: "" });
  });

  it("--output: binary bytes exactly, mode 0600 (with a P-521 TEE key)", async () => {
    const out = join(dir.path, "secret.bin");
    const r = await signet(url, ["kbs", "get-resource", "e2e-cli/key/binary", "--tee", "sample", "--key-algorithm", "ECDH-ES+A256KW-P521", "--output", out]);
    expect(r, r.stderr).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(new Uint8Array(await readFile(out))).toEqual(BINARY);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it("a missing resource: exit 1 with the key broker's error type on stderr", async () => {
    const r = await signet(url, ["kbs", "get-resource", "kbs:///e2e-cli/key/missing", "--tee", "sample"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("signet: the key broker refused the resource: PluginInternalError: Plugin internal error: resource not found (HTTP 401, after 3 attempts)\n");
  });
});
