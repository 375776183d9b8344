/**
 * The Workload API server against an independent client: Debian's python3-grpcio with stubs that
 * grpc_tools.protoc generates from our .proto at test time, calling over the real unix socket. Every
 * RPC and every status code the standard names; attestation from the kernel's peer credentials of
 * the Python process (root's process matches by uid, exe path and sha256; a second process run as
 * `nobody` through setpriv gets only nobody's identity).
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkloadApi, type WorkloadApiServer } from "../../../src/agent/workload";
import { issueIdentity, MemoryAgentState, mintJwt, trustDomainMaterial, type TrustDomainMaterial } from "../../support/agent-state";
import { x509 } from "../../support/x509";

const PYTHON = "/usr/bin/python3";
const CLIENT = join(import.meta.dirname, "workload_api_client.py");
const PROTO_DIR = join(import.meta.dirname, "../../../src/agent/workload/proto");
const hasPython = existsSync(PYTHON) && (() => {
  try {
    execFileSync(PYTHON, ["-c", "import grpc, grpc_tools"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const isRoot = process.getuid?.() === 0;
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

type Line = Record<string, unknown> & { error?: string; details?: string };

let dir: string;
let stubs: string;
let socketPath: string;
let server: WorkloadApiServer;
let state: MemoryAgentState;
let own: TrustDomainMaterial;
let peer: TrustDomainMaterial;
let other: TrustDomainMaterial;
const pythonExe = hasPython ? realpathSync(PYTHON) : "";
const pythonSha = hasPython ? createHash("sha256").update(readFileSync(pythonExe)).digest("hex") : "";

function python(ops: readonly Record<string, unknown>[], asUser?: number): Promise<Line[]> {
  const argv = [CLIENT, socketPath, JSON.stringify(ops)];
  const [cmd, args] = asUser === undefined ? [PYTHON, argv] : [SETPRIV!, [`--reuid=${asUser}`, `--regid=${asUser}`, "--clear-groups", PYTHON, ...argv]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PYTHONPATH: stubs, PYTHONDONTWRITEBYTECODE: "1" } });
    let out = "";
    let errText = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (errText += d.toString()));
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`python exited ${code}: ${errText}`));
      else resolve(out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line));
    });
  });
}

async function one(op: Record<string, unknown>, asUser?: number): Promise<Line> {
  const lines = await python([op], asUser);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

const ROOT_ID = "spiffe://example.org/workload/python-root";
const NOBODY_ID = "spiffe://example.org/workload/nobody";

describe.skipIf(!hasPython)("Workload API with python3-grpcio as the client", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "signet-workload-py-"));
    chmodSync(dir, 0o755);
    stubs = join(dir, "stubs");
    mkdirSync(stubs);
    const wellKnown = execFileSync(PYTHON, ["-c", "import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), '_proto'))"]).toString().trim();
    execFileSync(PYTHON, ["-m", "grpc_tools.protoc", `-I${PROTO_DIR}`, `-I${wellKnown}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, "workload.proto"], { stdio: "pipe" }).toString();
    chmodSync(stubs, 0o755);
    for (const f of readdirSync(stubs)) chmodSync(join(stubs, f), 0o644);
    socketPath = join(dir, "api.sock");

    own = await trustDomainMaterial("example.org");
    peer = await trustDomainMaterial("peer.example");
    other = await trustDomainMaterial("other.example");
    state = new MemoryAgentState(own);
    state.setBundle(peer.bundle);
    state.setBundle(other.bundle);
    state.setIdentities([
      await issueIdentity(own, { spiffeId: ROOT_ID, selectors: ["unix:uid:0", `unix:path:${pythonExe}`, `unix:sha256:${pythonSha}`], hint: "main", federatesWith: ["peer.example"] }),
      // Same hint as the first: must not be sent (hints are unique within a response).
      await issueIdentity(own, { spiffeId: "spiffe://example.org/workload/duplicate-hint", selectors: ["unix:uid:0"], hint: "main" }),
      await issueIdentity(own, { spiffeId: "spiffe://example.org/workload/root-any", selectors: ["unix:uid:0", "unix:user:root"] }),
      await issueIdentity(own, { spiffeId: "spiffe://example.org/workload/other-binary", selectors: ["unix:uid:0", `unix:sha256:${"0".repeat(64)}`] }),
      await issueIdentity(own, { spiffeId: NOBODY_ID, selectors: ["unix:uid:65534", "unix:user:nobody"] }),
    ]);
    server = await startWorkloadApi({ socket: `unix://${socketPath}`, state });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("FetchX509SVID: the caller's SVIDs (path and sha256 of its executable matched), keys, bundle, hints, federated bundles", async () => {
    const r = await one({ op: "x509" });
    const svids = r.svids as { spiffe_id: string; x509_svid: string; x509_svid_key: string; bundle: string; hint: string }[];
    expect(svids.map((s) => s.spiffe_id)).toEqual([ROOT_ID, "spiffe://example.org/workload/root-any"]);
    expect(svids[0]!.hint).toBe("main");
    const leaf = new x509.X509Certificate(Buffer.from(svids[0]!.x509_svid, "base64"));
    expect(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items[0]?.value).toBe(ROOT_ID);
    expect(await leaf.verify({ publicKey: own.caKeys.publicKey })).toBe(true);
    // The key is unencrypted PKCS#8 of the leaf's public key.
    const key = await crypto.subtle.importKey("pkcs8", Buffer.from(svids[0]!.x509_svid_key, "base64"), { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
    const jwk = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
    const leafJwk = (await crypto.subtle.exportKey("jwk", await leaf.publicKey.export({ name: "ECDSA", namedCurve: "P-256" }, ["verify"]))) as JsonWebKey;
    expect([jwk.x, jwk.y]).toEqual([leafJwk.x, leafJwk.y]);
    expect(Buffer.from(svids[0]!.bundle, "base64").equals(Buffer.from(own.ca.rawData))).toBe(true);
    expect(Object.keys(r.federated_bundles as object)).toEqual(["spiffe://peer.example"]);
    expect(Buffer.from((r.federated_bundles as Record<string, string>)["spiffe://peer.example"]!, "base64").equals(Buffer.from(peer.ca.rawData))).toBe(true);
  });

  it.skipIf(!isRoot || !SETPRIV)("a caller of another uid (nobody, through setpriv) gets only its own identity and no federated bundles", async () => {
    const r = await one({ op: "x509" }, 65534);
    expect((r.svids as { spiffe_id: string }[]).map((s) => s.spiffe_id)).toEqual([NOBODY_ID]);
    expect(r.federated_bundles).toEqual({});
    const b = await one({ op: "x509_bundles" }, 65534);
    expect(Object.keys(b.bundles as object)).toEqual(["spiffe://example.org"]);
  });

  it("FetchX509Bundles and FetchJWTBundles: own and federated trust domains keyed spiffe://<td>; JWKS without use", async () => {
    const [x, j] = await python([{ op: "x509_bundles" }, { op: "jwt_bundles" }]);
    expect(Object.keys(x!.bundles as object).sort()).toEqual(["spiffe://example.org", "spiffe://peer.example"]);
    expect(Buffer.from((x!.bundles as Record<string, string>)["spiffe://example.org"]!, "base64").equals(Buffer.from(own.ca.rawData))).toBe(true);
    const jwks = j!.bundles as Record<string, { keys: Record<string, unknown>[] }>;
    expect(Object.keys(jwks).sort()).toEqual(["spiffe://example.org", "spiffe://peer.example"]);
    expect(jwks["spiffe://example.org"]!.keys).toEqual([{ kty: "EC", kid: own.kid, crv: "P-256", x: expect.any(String), y: expect.any(String) }]);
  });

  it("FetchJWTSVID: a JWT-SVID for the audience, the requested SPIFFE ID, and INVALID_ARGUMENT / PERMISSION_DENIED / UNAVAILABLE", async () => {
    const [ok, byId, noAud, badId, notMine] = await python([
      { op: "jwt_svid", audience: ["vault"] },
      { op: "jwt_svid", audience: ["vault", "aws"], spiffe_id: "spiffe://example.org/workload/root-any" },
      { op: "jwt_svid", audience: [] },
      { op: "jwt_svid", audience: ["vault"], spiffe_id: "not a spiffe id" },
      { op: "jwt_svid", audience: ["vault"], spiffe_id: NOBODY_ID },
    ]);
    const svid = (ok!.svids as { spiffe_id: string; svid: string; hint: string }[])[0]!;
    expect(svid.spiffe_id).toBe(ROOT_ID);
    expect(svid.hint).toBe("main");
    const claims = JSON.parse(Buffer.from(svid.svid.split(".")[1]!, "base64url").toString()) as { sub: string; aud: string[] };
    expect(claims).toMatchObject({ sub: ROOT_ID, aud: ["vault"] });
    expect((byId!.svids as { spiffe_id: string }[]).map((s) => s.spiffe_id)).toEqual(["spiffe://example.org/workload/root-any"]);
    expect(noAud).toMatchObject({ error: "INVALID_ARGUMENT", details: "audience must be specified" });
    expect(badId).toMatchObject({ error: "INVALID_ARGUMENT" });
    expect(notMine).toMatchObject({ error: "PERMISSION_DENIED", details: "no identity issued" });
    state.jwtUnavailable = true;
    try {
      expect(await one({ op: "jwt_svid", audience: ["not-cached"] })).toMatchObject({ error: "UNAVAILABLE" });
    } finally {
      state.jwtUnavailable = false;
    }
  });

  it("ValidateJWTSVID: own and federated tokens validate (foreign claims filtered); bad ones are INVALID_ARGUMENT", async () => {
    const mine = await mintJwt(own, ROOT_ID, ["db", "other"]);
    const fromPeer = await mintJwt(peer, "spiffe://peer.example/svc", ["db"]);
    const fromOther = await mintJwt(other, "spiffe://other.example/svc", ["db"]);
    const expired = await mintJwt(own, ROOT_ID, ["db"], 10, Date.now() - 3_600_000);
    const tampered = `${mine.slice(0, -4)}${mine.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const [a, b, c, d, e, f, g, h] = await python([
      { op: "validate", audience: "db", svid: mine },
      { op: "validate", audience: "db", svid: fromPeer },
      { op: "validate", audience: "db", svid: fromOther },
      { op: "validate", audience: "wrong", svid: mine },
      { op: "validate", audience: "db", svid: expired },
      { op: "validate", audience: "db", svid: tampered },
      { op: "validate", audience: "", svid: mine },
      { op: "validate", audience: "db", svid: "" },
    ]);
    expect(a).toMatchObject({ spiffe_id: ROOT_ID, has_claims: true });
    expect((a!.claims as Record<string, unknown>)).toMatchObject({ sub: ROOT_ID, aud: ["db", "other"], exp: expect.any(Number), iat: expect.any(Number) });
    expect(b).toMatchObject({ spiffe_id: "spiffe://peer.example/svc" });
    expect(Object.keys(b!.claims as object).sort()).toEqual(["aud", "exp", "sub"]);
    // other.example is held by the agent but no identity of this caller federates with it.
    expect(c).toMatchObject({ error: "INVALID_ARGUMENT" });
    expect(d).toMatchObject({ error: "INVALID_ARGUMENT" });
    expect(e).toMatchObject({ error: "INVALID_ARGUMENT" });
    expect(f).toMatchObject({ error: "INVALID_ARGUMENT" });
    expect(g).toMatchObject({ error: "INVALID_ARGUMENT", details: "audience must be specified" });
    expect(h).toMatchObject({ error: "INVALID_ARGUMENT", details: "svid must be specified" });
  });

  it("every RPC without the security header (or with another value) is INVALID_ARGUMENT; WIT RPCs are UNIMPLEMENTED", async () => {
    const lines = await python([
      { op: "x509", header: false },
      { op: "x509_bundles", header: false },
      { op: "jwt_bundles", header: "false" },
      { op: "jwt_svid", audience: ["a"], header: false },
      { op: "validate", audience: "a", svid: "x", header: "TRUE" },
      { op: "wit_svid", header: false },
      { op: "wit_svid" },
      { op: "wit_bundles" },
    ]);
    expect(lines.slice(0, 6).map((l) => [l.error, l.details])).toEqual(Array(6).fill(["INVALID_ARGUMENT", "security header missing from request"]));
    expect(lines.slice(6).map((l) => l.error)).toEqual(["UNIMPLEMENTED", "UNIMPLEMENTED"]);
  });

  it("a caller matching no entry gets PERMISSION_DENIED on every entitlement RPC", async () => {
    const removed = state.x509IdentitiesFor(["unix:uid:0", "unix:user:root", `unix:path:${pythonExe}`, `unix:sha256:${pythonSha}`]);
    const kept = state.x509IdentitiesFor(["unix:uid:65534", "unix:user:nobody"]);
    state.setIdentities(kept);
    try {
      const lines = await python([{ op: "x509" }, { op: "x509_bundles" }, { op: "jwt_bundles" }, { op: "jwt_svid", audience: ["a"] }]);
      expect(lines.map((l) => l.error)).toEqual(Array(4).fill("PERMISSION_DENIED"));
    } finally {
      state.setIdentities([...removed, ...kept]);
    }
  });

  it("before the first sync every RPC is UNAVAILABLE", async () => {
    state.setReady(false);
    try {
      const lines = await python([{ op: "x509" }, { op: "x509_bundles" }, { op: "jwt_bundles" }, { op: "jwt_svid", audience: ["a"] }, { op: "validate", audience: "a", svid: "x.y.z" }]);
      expect(lines.map((l) => l.error)).toEqual(Array(5).fill("UNAVAILABLE"));
    } finally {
      state.setReady(true);
    }
  });

  it("streams: the full state at once, again after a change, nothing for a change that changes nothing", async () => {
    const child = spawn(PYTHON, [CLIENT, socketPath, JSON.stringify([{ op: "x509_bundles", messages: 2, timeout: 20 }])], { env: { PATH: process.env.PATH ?? "", PYTHONPATH: stubs } });
    const lines: Line[] = [];
    let buffered = "";
    const next = () =>
      new Promise<Line>((resolve) => {
        const check = () => {
          if (lines.length > 0) resolve(lines.shift()!);
          else setTimeout(check, 10);
        };
        check();
      });
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const p of parts) if (p) lines.push(JSON.parse(p) as Line);
    });
    const first = await next();
    expect(Object.keys(first.bundles as object).sort()).toEqual(["spiffe://example.org", "spiffe://peer.example"]);
    state.touch();
    await new Promise((r) => setTimeout(r, 200));
    expect(lines).toHaveLength(0);
    const rotated = await trustDomainMaterial("peer.example");
    state.setBundle({ ...rotated.bundle, x509Authorities: [...peer.bundle.x509Authorities, ...rotated.bundle.x509Authorities] });
    const second = await next();
    const peerBundle = Buffer.from((second.bundles as Record<string, string>)["spiffe://peer.example"]!, "base64");
    expect(peerBundle.equals(Buffer.concat([Buffer.from(peer.ca.rawData), Buffer.from(rotated.ca.rawData)]))).toBe(true);
    await new Promise((r) => child.on("close", r));
    state.setBundle(peer.bundle);
  });
});
