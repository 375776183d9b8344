/**
 * Mutual TLS between two Node processes using X509-SVIDs minted by the real CLI: a `node:tls`
 * server in a child process (requiring and verifying client certificates against bundle.pem) and
 * the test process as the client. Each side must see the other's SPIFFE ID; clients without a
 * certificate, or with one from another CA, must be refused.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect, type ConnectionOptions } from "node:tls";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { opensslOk, signetOk, tempDir } from "../support/e2e-process";

const url = inject("signetUrl");

const SERVER_ID = "spiffe://example.org/server";
const CLIENT_ID = "spiffe://example.org/client";

/** The TLS server, run as its own Node process. Reports what happens as JSON lines on stdout. */
const SERVER_SCRIPT = `
import { readFileSync } from "node:fs";
import { createServer } from "node:tls";

const [cert, key, ca] = process.argv.slice(2).map((p) => readFileSync(p));
const emit = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
const uris = (cert) => (cert?.subjectaltname ?? "").split(", ").filter((s) => s.startsWith("URI:")).map((s) => s.slice(4));

const server = createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (socket) => {
  const peer = uris(socket.getPeerCertificate());
  emit({ event: "accepted", client: socket.remotePort, authorized: socket.authorized, peer, protocol: socket.getProtocol() });
  socket.end(JSON.stringify({ peer }) + "\\n");
});
server.on("tlsClientError", (e, socket) => emit({ event: "rejected", client: socket.remotePort, code: e.code ?? null, message: e.message }));
// Every TCP connection reports its end, accepted or not (Node drops an unverified client silently).
// Events name the client by its source port.
server.on("connection", (tcp) => {
  const client = tcp.remotePort;
  tcp.on("close", () => emit({ event: "closed", client }));
});
server.listen(0, "127.0.0.1", () => emit({ event: "listening", port: server.address().port }));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

interface ServerEvent {
  readonly event: "listening" | "accepted" | "rejected" | "closed";
  readonly port?: number;
  readonly client?: number;
  readonly authorized?: boolean;
  readonly peer?: string[];
  readonly code?: string | null;
  readonly message?: string;
}

interface ClientOutcome {
  /** The client's source port, by which the server's events name it. */
  readonly port: number;
  readonly authorized: boolean;
  readonly serverIds: string[];
  readonly data: string;
  readonly error: (Error & { code?: string }) | null;
}

let dir: { path: string; remove(): Promise<void> };
let server: ChildProcess;
let port: number;
const events: ServerEvent[] = [];
let serverStderr = "";
let ca: string;

function uriSans(subjectaltname: string | undefined): string[] {
  return (subjectaltname ?? "")
    .split(", ")
    .filter((s) => s.startsWith("URI:"))
    .map((s) => s.slice(4));
}

/** Connects from this process and collects what the server sends until it closes or errors. */
function tryClient(options: ConnectionOptions): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    let data = "";
    let authorized = false;
    let serverIds: string[] = [];
    let settled = false;
    let localPort = 0;
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ...options });
    const finish = (error: (Error & { code?: string }) | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ port: localPort, authorized, serverIds, data, error });
    };
    const timer = setTimeout(() => finish(new Error("client timed out")), 10_000);
    socket.on("connect", () => (localPort = socket.localPort ?? 0));
    socket.on("secureConnect", () => {
      authorized = socket.authorized;
      serverIds = uriSans(socket.getPeerCertificate().subjectaltname);
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    // An error, if any, comes before "close"; a refused peer may also just see the connection end.
    let error: (Error & { code?: string }) | null = null;
    socket.on("error", (e) => (error ??= e));
    socket.on("close", () => finish(error));
  });
}

/** The server's events about one client connection, once the server has seen it close. */
async function serverEventsFor(outcome: ClientOutcome): Promise<ServerEvent[]> {
  expect(outcome.port).toBeGreaterThan(0);
  const mine = (): ServerEvent[] => events.filter((e) => e.client === outcome.port);
  const deadline = Date.now() + 5_000;
  while (!mine().some((e) => e.event === "closed")) {
    if (Date.now() > deadline) throw new Error(`the server did not report the end of connection ${outcome.port}: ${JSON.stringify(mine())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return mine();
}

/** A CA unrelated to Signet, and a leaf it issued for the client's SPIFFE ID, made with openssl. */
async function makeRogue(d: string): Promise<void> {
  await mkdir(d);
  const f = (n: string): string => join(d, n);
  await opensslOk([
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "1", "-subj", "/CN=Rogue CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]); // prettier-ignore
  await opensslOk([
    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", f("leaf.key"), "-out", f("leaf.csr"), "-subj", "/O=SPIRE",
  ]); // prettier-ignore
  await writeFile(
    f("ext.cnf"),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=URI:${CLIENT_ID}\n`,
  );
  await opensslOk([
    "x509", "-req", "-in", f("leaf.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-set_serial", "1",
    "-days", "1", "-extfile", f("ext.cnf"), "-out", f("leaf.pem"),
  ]); // prettier-ignore
}

beforeAll(async () => {
  dir = await tempDir("signet-e2e-mtls-");
  const serverDir = join(dir.path, "server");
  const clientDir = join(dir.path, "client");
  await signetOk(url, ["x509", "mint", "--spiffe-id", SERVER_ID, "--dns", "localhost", "--write", serverDir]);
  await signetOk(url, ["x509", "mint", "--spiffe-id", CLIENT_ID, "--write", clientDir]);
  ca = await readFile(join(clientDir, "bundle.pem"), "utf8");
  await makeRogue(join(dir.path, "rogue"));

  const script = join(dir.path, "tls-server.mjs");
  await writeFile(script, SERVER_SCRIPT);
  server = spawn(process.execPath, [script, join(serverDir, "svid.pem"), join(serverDir, "key.pem"), join(serverDir, "bundle.pem")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stderr?.on("data", (c: Buffer) => (serverStderr += c.toString("utf8")));
  createInterface({ input: server.stdout! }).on("line", (line) => events.push(JSON.parse(line) as ServerEvent));

  const deadline = Date.now() + 10_000;
  while (!events.some((e) => e.event === "listening")) {
    if (server.exitCode !== null || Date.now() > deadline) throw new Error(`the TLS server did not start:\n${serverStderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  port = events.find((e) => e.event === "listening")!.port!;
});

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const gone = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3_000))]);
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  }
  await dir?.remove();
});

describe("mTLS with SVIDs minted by the CLI", () => {
  it("authenticates both sides by their SPIFFE IDs", async () => {
    const clientDir = join(dir.path, "client");
    const outcome = await tryClient({
      cert: await readFile(join(clientDir, "svid.pem")),
      key: await readFile(join(clientDir, "key.pem")),
      ca,
    });
    expect(outcome.error).toBeNull();
    expect(outcome.authorized).toBe(true);
    expect(outcome.serverIds).toEqual([SERVER_ID]);
    expect(JSON.parse(outcome.data)).toEqual({ peer: [CLIENT_ID] });
    const seen = await serverEventsFor(outcome);
    expect(seen).toContainEqual({ event: "accepted", client: outcome.port, authorized: true, peer: [CLIENT_ID], protocol: "TLSv1.3" });
  });

  it("refuses a client that presents no certificate", async () => {
    const outcome = await tryClient({ ca });
    expect(outcome.data).toBe("");
    // TLS 1.3: the server's "certificate required" alert reaches the client after its handshake.
    expect(outcome.error?.code).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    const seen = await serverEventsFor(outcome);
    expect(seen.some((e) => e.event === "accepted")).toBe(false);
    expect(seen).toContainEqual(expect.objectContaining({ event: "rejected", code: "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE" }));
  });

  it("refuses a client whose certificate (same SPIFFE ID) comes from another CA", async () => {
    const f = (n: string): string => join(dir.path, "rogue", n);
    // The rogue certificate is valid in its own right: only its issuer is unknown to the server.
    await opensslOk(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", f("ca.pem"), f("leaf.pem")]);

    const outcome = await tryClient({ cert: await readFile(f("leaf.pem")), key: await readFile(f("leaf.key")), ca });
    // Node verifies the client certificate after the handshake and drops the connection: the
    // client may see only the end of the stream, but never an answer.
    expect(outcome.authorized).toBe(true); // the client trusted the server: the refusal is the server's
    expect(outcome.data).toBe("");
    const seen = await serverEventsFor(outcome);
    expect(seen.some((e) => e.event === "accepted")).toBe(false);
  });

  it("lets the client refuse the server when it trusts another CA", async () => {
    const clientDir = join(dir.path, "client");
    const otherCa = await readFile(join(dir.path, "rogue", "ca.pem"), "utf8");
    const outcome = await tryClient({
      cert: await readFile(join(clientDir, "svid.pem")),
      key: await readFile(join(clientDir, "key.pem")),
      ca: otherCa,
    });
    expect(outcome.data).toBe("");
    expect(outcome.authorized).toBe(false);
    // The server sends its leaf and (OpenSSL's automatic chain building from its `ca`) Signet's root.
    expect(outcome.error?.code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
  });
});
