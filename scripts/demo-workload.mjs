#!/usr/bin/env node
// One workload of `npm run demo` (and test/e2e/demo.test.ts), run as its own uid: it holds a
// FetchX509SVID stream open on the agent's Workload API socket and, from nothing but the SVID, its
// key and the bundle that stream delivers (re-read on every update), serves mutual TLS and dials
// its peers. Peers are authorized by SPIFFE ID (the URI SAN), never by host name.
//
//   node scripts/demo-workload.mjs --socket /path/agent.sock --name a [--allow spiffe://td/b …] [--want ID]
//
// It speaks JSON lines: events on stdout, commands on stdin (each answered by a {"event":"reply"}
// with the command's "id"):
//   {"cmd":"connect","port":P,"expect":"spiffe://…"}   one mTLS connection (ping, pong)
//   {"cmd":"loop","port":P,"expect":…,"intervalMs":N}   keep connecting until "stop-loop"
//   {"cmd":"stop-loop"}                                 the loop's counts and the issuers seen
//   {"cmd":"jwt","audience":"…"}                        FetchJWTSVID (for --want's ID, if given)
//   {"cmd":"exit"}
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { loadSync } from "@grpc/proto-loader";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    socket: { type: "string" },
    name: { type: "string", default: "workload" },
    allow: { type: "string", multiple: true, default: [] },
    // Which of the delivered SVIDs to use (default: the first, as the SPIFFE libraries do).
    want: { type: "string" },
  },
});
if (!opts.socket) {
  process.stderr.write("usage: demo-workload.mjs --socket PATH [--name N] [--allow SPIFFE_ID …]\n");
  process.exit(2);
}

const PROTO = new URL("../src/agent/workload/proto/workload.proto", import.meta.url).pathname;
const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, name: opts.name, at: Date.now(), ...fields })}\n`);

const definition = loadSync(PROTO, { keepCase: true, longs: Number, bytes: Buffer, defaults: true, arrays: true, objects: true });
const Client = grpc.loadPackageDefinition(definition).SpiffeWorkloadAPI;
const client = new Client(`unix://${opts.socket}`, grpc.credentials.createInsecure());
const header = () => {
  const md = new grpc.Metadata();
  md.set("workload.spiffe.io", "true");
  return md;
};

/** Splits concatenated DER certificates (what the Workload API sends) into PEM. */
function derChainToPem(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    if (buf[i] !== 0x30) throw new Error("not a DER SEQUENCE");
    let len = buf[i + 1];
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i + 2 + k];
      head = 2 + n;
    }
    const der = buf.subarray(i, i + head + len);
    out.push(`-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`);
    i += head + len;
  }
  return out;
}

const short = (cert) => cert.fingerprint256.replace(/:/g, "").slice(0, 16).toLowerCase();

/** The one URI SAN of a peer certificate (tls's getPeerCertificate form), or undefined. */
function spiffeIdOf(peer) {
  const uris = (peer?.subjectaltname ?? "").split(", ").filter((s) => s.startsWith("URI:"));
  return uris.length === 1 ? uris[0].slice(4) : undefined;
}

/** Which bundle CA signed a certificate (short SHA-256 fingerprint), if any. */
function issuerIn(certPem, bundlePems) {
  const leaf = new X509Certificate(certPem);
  for (const pem of bundlePems) {
    const ca = new X509Certificate(pem);
    if (leaf.checkIssued(ca) && leaf.verify(ca.publicKey)) return short(ca);
  }
  return undefined;
}

/** What the latest stream message gave this workload: its SVID, key and bundle, as PEM. */
let current;
let updates = 0;

function onSvids(msg) {
  updates++;
  const ids = msg.svids.map((s) => s.spiffe_id);
  const svid = opts.want ? msg.svids.find((s) => s.spiffe_id === opts.want) : msg.svids[0];
  if (!svid) return;
  const chain = derChainToPem(svid.x509_svid);
  const bundle = derChainToPem(svid.bundle);
  const key = createPrivateKey({ key: svid.x509_svid_key, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" });
  const leaf = new X509Certificate(chain[0]);
  current = { spiffeId: svid.spiffe_id, cert: chain.join(""), key, ca: bundle, issuer: issuerIn(chain[0], bundle), serial: leaf.serialNumber, bundle: bundle.map((p) => short(new X509Certificate(p))) };
  server?.setSecureContext(serverOptions());
  emit("svids", { update: updates, ids, spiffe_id: current.spiffeId, serial: current.serial, not_after: Date.parse(leaf.validTo), issuer: current.issuer, bundle: current.bundle });
}

let stream;
function openStream() {
  stream = client.FetchX509SVID({}, header());
  stream.on("data", onSvids);
  stream.on("error", (e) => {
    if (e.code === grpc.status.CANCELLED) return;
    emit("stream_error", { code: e.code, status: grpc.status[e.code], details: e.details });
    // As the SPIFFE client libraries do: retry (a restarted agent, a new entry).
    setTimeout(openStream, 500).unref();
  });
}
openStream();

let served = 0;
let refused = 0;
const serverOptions = () => ({ cert: current.cert, key: current.key, ca: current.ca, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" });

let server;
async function listen() {
  while (!current) await sleep(20);
  server = tls.createServer(serverOptions(), (socket) => {
    const peer = spiffeIdOf(socket.getPeerCertificate());
    if (!opts.allow.includes(peer)) {
      refused++;
      emit("refused", { peer: peer ?? null, reason: "SPIFFE ID not authorized" });
      socket.destroy();
      return;
    }
    served++;
    socket.once("data", () => socket.end(`pong from ${current.spiffeId} to ${peer}\n`));
    socket.on("error", () => {});
  });
  server.on("tlsClientError", (e) => emit("handshake_refused", { reason: e.code ?? e.message }));
  server.listen(0, "127.0.0.1", () => emit("listening", { port: server.address().port, spiffe_id: current.spiffeId }));
}
void listen();

/** One mTLS connection to a peer that must present `expect`: ping, then the peer's pong. */
function connect(port, expect) {
  return new Promise((resolve) => {
    if (!current) return resolve({ ok: false, error: "no SVID yet" });
    const own = current;
    let peerIssuer;
    let answer = "";
    const done = (r) => {
      socket.destroy();
      resolve({ ...r, own_issuer: own.issuer, peer_issuer: peerIssuer });
    };
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      cert: own.cert,
      key: own.key,
      ca: own.ca,
      minVersion: "TLSv1.3",
      // The peer is authorized by its SPIFFE ID, not by a host name.
      checkServerIdentity: (_host, cert) => (spiffeIdOf(cert) === expect ? undefined : new Error(`peer is ${spiffeIdOf(cert)}, expected ${expect}`)),
    });
    socket.setTimeout(5000, () => done({ ok: false, error: "timeout" }));
    socket.on("secureConnect", () => {
      const peer = socket.getPeerX509Certificate();
      peerIssuer = peer ? issuerIn(peer.toString(), own.ca) : undefined;
      socket.write(`ping from ${own.spiffeId}\n`);
    });
    socket.on("data", (d) => (answer += d.toString()));
    socket.on("end", () => (answer.startsWith("pong ") ? done({ ok: true, answer: answer.trim() }) : done({ ok: false, error: "closed by the peer without an answer (refused)" })));
    socket.on("error", (e) => done({ ok: false, error: e.code ?? e.message }));
  });
}

let loop;
async function runLoop(port, expect, intervalMs) {
  const state = { stop: false, ok: 0, failed: 0, errors: [], ownIssuers: new Set(), peerIssuers: new Set() };
  loop = state;
  state.done = (async () => {
    while (!state.stop) {
      const r = await connect(port, expect);
      if (r.ok) state.ok++;
      else {
        state.failed++;
        if (state.errors.length < 5) state.errors.push(r.error);
      }
      if (r.own_issuer) state.ownIssuers.add(r.own_issuer);
      if (r.peer_issuer) state.peerIssuers.add(r.peer_issuer);
      await sleep(intervalMs);
    }
  })();
}

async function handle(cmd) {
  switch (cmd.cmd) {
    case "connect":
      return connect(cmd.port, cmd.expect);
    case "loop":
      await runLoop(cmd.port, cmd.expect, cmd.intervalMs ?? 100);
      return { started: true };
    case "stop-loop": {
      if (!loop) return { error: "no loop" };
      loop.stop = true;
      await loop.done;
      const { ok, failed, errors, ownIssuers, peerIssuers } = loop;
      loop = undefined;
      return { ok, failed, errors, own_issuers: [...ownIssuers], peer_issuers: [...peerIssuers], served, refused };
    }
    case "jwt":
      return new Promise((resolve) =>
        client.FetchJWTSVID({ audience: [cmd.audience], spiffe_id: opts.want ?? "" }, header(), (e, r) =>
          resolve(e ? { error: { code: e.code, status: grpc.status[e.code], details: e.details } } : { svids: r.svids.map((s) => ({ spiffe_id: s.spiffe_id, token: s.svid })) }),
        ),
      );
    case "state":
      return { spiffe_id: current?.spiffeId, issuer: current?.issuer, bundle: current?.bundle, serial: current?.serial, served, refused, key_sha256: current ? createHash("sha256").update(current.key).digest("hex").slice(0, 16) : undefined };
    case "exit":
      shutdown();
      return { bye: true };
    default:
      return { error: `unknown command ${cmd.cmd}` };
  }
}

function shutdown() {
  stream?.cancel();
  client.close();
  server?.close();
  setTimeout(() => process.exit(0), 50).unref();
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return emit("reply", { error: "not JSON" });
  }
  emit("reply", { id: cmd.id, ...(await handle(cmd)) });
});
process.stdin.on("end", shutdown);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, shutdown);
