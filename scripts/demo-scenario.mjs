// The chain `npm run demo` shows and test/e2e/demo.test.ts asserts, as one list of steps over a
// shared context: scripts/demo.mjs runs them in order and prints what each checked;
// the test runs each as an `it` with `check` bound to expect(). Issue 10, "End to end".
//
//   1 Signet of our own (CA_TTL 1h, an x509pop trust anchor)   5 JWT-SVID through OIDC discovery
//   2 a node entry (tee:type:sample), two workload entries       6 x509pop: a bootstrap certificate from
//   3 signet-agent run --attestation sample                         the key broker, a second agent
//   4 two workloads, two uids: own SVIDs only, mTLS by SPIFFE ID  7 CA rotation under constant mTLS
import { createRemoteJWKSet, jwtVerify } from "jose";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  bundleAuthorities,
  canSwitchUids,
  createInstance,
  ensureBuilt,
  makeX509PopPki,
  missingTools,
  sleep,
  startAgent,
  startWorkload,
  tempDir,
  workloadRunsAs,
} from "./demo-lib.mjs";

const TD = "example.org";
export const IDS = {
  sampleNode: `spiffe://${TD}/demo/node/sample`,
  x509popNode: `spiffe://${TD}/demo/node/x509pop`,
  a: `spiffe://${TD}/demo/workload-a`,
  b: `spiffe://${TD}/demo/workload-b`,
  c: `spiffe://${TD}/demo/workload-c`,
};
/** Workload uids: a and b on the sample node, `stranger` with no entry, c on the x509pop node. */
export const UIDS = { a: 61001, b: 61002, stranger: 61003, c: 61004 };
const X509POP_CN = "demo-node-1.example.org";
const MINUTE = 60_000;
/**
 * Short X.509-SVIDs, so the agent renews them (at half-life, ~20 s) soon after the CA rotates, yet
 * long enough to outlast a server restart plus the agent's back-off (an expired SVID is dropped).
 */
const SVID_TTL = "40s";
/**
 * How long after the simulated jump the prepared CA activates: room for a restart and the agent's
 * back-off, at least 25 s, more on a machine where Signet took long to start the first time.
 */
const activateInMs = (startMs) => Math.min(45_000, Math.max(25_000, 2 * startMs + 12_000));
/** How long both workloads' SVIDs must stay valid when Signet goes down: a slow restart plus the agent's back-off. */
const OUTAGE_BUDGET_MS = 28_000;

/**
 * @param {{ log?: (line: string) => void, verbose?: boolean }} options
 */
export function createContext({ log = () => {}, verbose = false } = {}) {
  return { log, verbose, events: (name, rec) => verbose && log(`    [${name}] ${JSON.stringify(rec)}`) };
}

async function entry(ctx, args) {
  const out = JSON.parse(await ctx.signet.cliOk(["entry", "create", ...args, "--output", "json"]));
  return out.entry?.id ?? out.id;
}

/** A step: a title and what it does; `check(label, actual, expected)` compares deeply. */
export const steps = [
  {
    title: "Start a Signet of our own (wrangler dev, CA_TTL=1h, an x509pop trust anchor)",
    async run(ctx, check) {
      const missing = missingTools();
      if (missing.length > 0) throw new Error(`the demo needs ${missing.join(" and ")} on PATH`);
      await ensureBuilt();
      ctx.dir = await tempDir();
      ctx.pki = await makeX509PopPki(join(ctx.dir, "x509pop"), X509POP_CN);
      ctx.log(`  made an x509pop CA and a bootstrap certificate (CN=${X509POP_CN}) with openssl in ${ctx.dir}/x509pop`);
      ctx.signet = await createInstance({ dir: join(ctx.dir, "signet"), vars: { CA_TTL: "1h", X509POP_CA_BUNDLE: ctx.pki.caPem }, log: (l) => ctx.log(`  ${l}`) });
      const t0 = Date.now();
      await ctx.signet.start();
      ctx.startMs = Date.now() - t0;
      const health = await (await fetch(`${ctx.signet.url}/healthz`)).json();
      check("healthz", { status: health.status, trust_domain: health.trust_domain }, { status: "ok", trust_domain: TD });
      ctx.initialAuthorities = await bundleAuthorities(ctx.signet.url);
      check("X.509 authorities in the bundle at start", ctx.initialAuthorities.length, 1);
    },
  },
  {
    title: "Register a node entry for tee:type:sample and two workload entries by uid (signet entry create)",
    async run(ctx, check) {
      ctx.separateUids = canSwitchUids();
      if (ctx.separateUids) {
        const why = await workloadRunsAs(UIDS.a);
        if (why) {
          ctx.log(`  ! uid ${UIDS.a} cannot run the workload from this checkout (${why}); clone it where other users can read it.`);
          ctx.separateUids = false;
        }
      } else {
        ctx.log("  ! not root (or no setpriv): both workloads run as this user, so each is also entitled to the other's");
        ctx.log("    identity; run `sudo npm run demo` to see workloads told apart by uid.");
      }
      const me = process.getuid?.() ?? 0;
      const uid = (w) => (ctx.separateUids ? UIDS[w] : me);
      await Promise.all([
        entry(ctx, ["--spiffe-id", IDS.sampleNode, "--node", "--selector", "tee:type:sample"]),
        ...["a", "b"].map((w) => entry(ctx, ["--spiffe-id", IDS[w], "--parent-id", IDS.sampleNode, "--selector", `unix:uid:${uid(w)}`, "--x509-svid-ttl", SVID_TTL])),
      ]);
      ctx.log(`  ${IDS.sampleNode}: node entry, selects agents with tee:type:sample`);
      for (const w of ["a", "b"]) ctx.log(`  ${IDS[w]}  <=  unix:uid:${uid(w)} on such a node (X.509-SVID TTL ${SVID_TTL})`);
      const listed = JSON.parse(await ctx.signet.cliOk(["entry", "list", "--parent-id", IDS.sampleNode, "--output", "json"]));
      check("entries parented to the node entry", listed.entries.map((e) => e.spiffe_id).sort(), [IDS.a, IDS.b]);
    },
  },
  {
    title: "Start signet-agent with the sample TEE (node attestation through the key broker)",
    async run(ctx, check) {
      ctx.socket = join(ctx.dir, "agent-sample", "agent.sock");
      await mkdirShared(join(ctx.dir, "agent-sample"));
      ctx.agent = startAgent({ url: ctx.signet.url, socket: ctx.socket, attestation: "sample", name: "agent", log: ctx.events });
      const attested = await ctx.agent.waitFor((l) => l.msg === "attested", "the agent to attest");
      ctx.log(`  agent ID ${attested.spiffe_id}`);
      check("agent ID shape", /^spiffe:\/\/example\.org\/signet\/agent\/tee\/[0-9a-f]{32}$/.test(attested.spiffe_id), true);
      await ctx.agent.waitFor((l) => l.msg === "workload api listening", "the Workload API socket");
      ctx.log(`  Workload API on unix://${ctx.socket}`);
    },
  },
  {
    title: "Two workloads as two uids fetch their X.509-SVIDs over the Workload API; each gets only its own",
    async run(ctx, check) {
      const uidOf = (w) => (ctx.separateUids ? UIDS[w] : undefined);
      ctx.a = startWorkload({ socket: ctx.socket, name: "workload-a", uid: uidOf("a"), allow: [IDS.b], want: IDS.a, log: ctx.events });
      ctx.b = startWorkload({ socket: ctx.socket, name: "workload-b", uid: uidOf("b"), allow: [IDS.a], want: IDS.b, log: ctx.events });
      const [sa, sb] = [await ctx.a.svids(), await ctx.b.svids()];
      for (const [w, s] of [["a", sa], ["b", sb]]) ctx.log(`  uid ${uidOf(w) ?? "(ours)"}: ${s.spiffe_id}, serial ${s.serial}, issued by CA ${s.issuer}, bundle [${s.bundle.join(", ")}]`);
      check("workload a's SVID", sa.spiffe_id, IDS.a);
      check("workload b's SVID", sb.spiffe_id, IDS.b);
      check("a's SVID chains to its bundle", sa.issuer, ctx.initialAuthorities[0]);
      check("b's SVID chains to its bundle", sb.issuer, ctx.initialAuthorities[0]);
      if (!ctx.separateUids) return ctx.log("  (skipped: identity separation by uid needs root)");
      check("identities delivered to a", sa.ids, [IDS.a]);
      check("identities delivered to b", sb.ids, [IDS.b]);
      const stranger = startWorkload({ socket: ctx.socket, name: "stranger", uid: UIDS.stranger, log: ctx.events });
      const denied = await stranger.waitFor((e) => e.event === "stream_error" || e.event === "svids", "PermissionDenied");
      await stranger.stop();
      ctx.log(`  uid ${UIDS.stranger} (no entry): ${denied.status ?? denied.event} ${denied.details ?? ""}`);
      check("a uid with no entry", { event: denied.event, status: denied.status }, { event: "stream_error", status: "PERMISSION_DENIED" });
    },
  },
  {
    title: "Mutual TLS between them with nothing but the SVIDs, keys and bundle; peers checked by SPIFFE ID",
    async run(ctx, check) {
      ctx.portA = await ctx.a.port();
      ctx.portB = await ctx.b.port();
      const ab = await ctx.a.command({ cmd: "connect", port: ctx.portB, expect: IDS.b });
      const ba = await ctx.b.command({ cmd: "connect", port: ctx.portA, expect: IDS.a });
      ctx.log(`  a -> b: ${ab.ok ? ab.answer : ab.error}`);
      ctx.log(`  b -> a: ${ba.ok ? ba.answer : ba.error}`);
      check("a -> b", { ok: ab.ok, answer: ab.answer }, { ok: true, answer: `pong from ${IDS.b} to ${IDS.a}` });
      check("b -> a", { ok: ba.ok, answer: ba.answer }, { ok: true, answer: `pong from ${IDS.a} to ${IDS.b}` });
      // a's server accepts only b: a client presenting a's own (valid) SVID is refused by its check.
      const self = await ctx.a.command({ cmd: "connect", port: ctx.portA, expect: IDS.a });
      const refused = await ctx.a.waitFor((e) => e.event === "refused", "the refusal");
      ctx.log(`  a -> a's server (which accepts only ${IDS.b}): ${self.error}; the server logged ${JSON.stringify({ peer: refused.peer, reason: refused.reason })}`);
      check("a client with the wrong SPIFFE ID", { ok: self.ok, refusedPeer: refused.peer }, { ok: false, refusedPeer: IDS.a });
      // And the client side: b's server is not the ID a expects.
      const wrong = await ctx.a.command({ cmd: "connect", port: ctx.portB, expect: IDS.c });
      ctx.log(`  a -> b expecting ${IDS.c}: ${wrong.error}`);
      check("a server with the wrong SPIFFE ID", wrong.ok, false);
    },
  },
  {
    title: "A JWT-SVID from the agent validates through the OIDC discovery document",
    async run(ctx, check) {
      const r = await ctx.a.command({ cmd: "jwt", audience: "demo-audience" });
      check("FetchJWTSVID", r.svids?.map((s) => s.spiffe_id), [IDS.a]);
      const discovery = await (await fetch(`${ctx.signet.url}/.well-known/openid-configuration`)).json();
      ctx.log(`  issuer ${discovery.issuer}, jwks_uri ${discovery.jwks_uri}`);
      const { payload, protectedHeader } = await jwtVerify(r.svids[0].token, createRemoteJWKSet(new URL(discovery.jwks_uri)), { issuer: discovery.issuer, audience: "demo-audience" });
      ctx.log(`  verified ${protectedHeader.alg} kid ${protectedHeader.kid}: sub ${payload.sub}, aud ${JSON.stringify(payload.aud)}, exp in ${payload.exp - Math.floor(Date.now() / 1000)} s`);
      check("JWT-SVID subject", payload.sub, IDS.a);
    },
  },
  {
    title: "The seed's path: a bootstrap certificate released by the key broker, and an agent that attests with it over x509pop",
    async run(ctx, check) {
      const stored = await Promise.all(
        [["bootstrap-cert", ctx.pki.certPem], ["bootstrap-key", ctx.pki.keyPem]].map(([tag, body]) => ctx.signet.admin("POST", `/kbs/v0/resource/demo/agent/${tag}`, body, "application/octet-stream")),
      );
      check("admin put demo/agent/bootstrap-cert and -key", stored.map((r) => r.status), [200, 200]);
      ctx.log("  admin stored demo/agent/bootstrap-cert and demo/agent/bootstrap-key as key broker resources");
      const guest = join(ctx.dir, "guest");
      await mkdirShared(guest);
      const uidC = ctx.separateUids ? UIDS.c : (process.getuid?.() ?? 0);
      await Promise.all([
        ...[["bootstrap-cert", "bootstrap.pem"], ["bootstrap-key", "bootstrap.key"]].map(([tag, file]) =>
          ctx.signet.cliOk(["kbs", "get-resource", `kbs:///demo/agent/${tag}`, "--tee", "sample", "--output", join(guest, file)]),
        ),
        entry(ctx, ["--spiffe-id", IDS.x509popNode, "--node", "--selector", `x509pop:subject:cn:${X509POP_CN}`]),
        entry(ctx, ["--spiffe-id", IDS.c, "--parent-id", IDS.x509popNode, "--selector", `unix:uid:${uidC}`]),
      ]);
      check("released certificate", await readFile(join(guest, "bootstrap.pem"), "utf8"), ctx.pki.certPem);
      check("released key", await readFile(join(guest, "bootstrap.key"), "utf8"), ctx.pki.keyPem);
      ctx.log(`  a sample guest fetched both (signet kbs get-resource --tee sample) into ${guest}`);
      ctx.log(`  node entry ${IDS.x509popNode} selects x509pop:subject:cn:${X509POP_CN}; ${IDS.c} <= unix:uid:${uidC} under it`);

      const socket = join(ctx.dir, "agent-x509pop", "agent.sock");
      await mkdirShared(join(ctx.dir, "agent-x509pop"));
      const agent = startAgent({ url: ctx.signet.url, socket, attestation: `x509pop:${join(guest, "bootstrap.pem")},${join(guest, "bootstrap.key")}`, name: "agent-x509pop", log: ctx.events });
      const attested = await agent.waitFor((l) => l.msg === "attested", "the x509pop agent to attest");
      ctx.log(`  second agent attested over x509pop: ${attested.spiffe_id}`);
      check("x509pop agent ID", attested.spiffe_id, `spiffe://${TD}/signet/agent/x509pop/${ctx.pki.leafSha1}`);
      await agent.waitFor((l) => l.msg === "workload api listening", "the second Workload API socket");
      const c = startWorkload({ socket, name: "workload-c", uid: ctx.separateUids ? UIDS.c : undefined, want: IDS.c, log: ctx.events });
      const sc = await c.svids();
      ctx.log(`  workload c on the x509pop node: ${sc.spiffe_id}, issued by CA ${sc.issuer}`);
      check("workload c's SVID", sc.spiffe_id, IDS.c);
      if (ctx.separateUids) check("identities delivered to c", sc.ids, [IDS.c]);
      // c's SVID is valid, but a's server authorizes only b.
      const before = ctx.a.events.length;
      const ca = await c.command({ cmd: "connect", port: ctx.portA, expect: IDS.a });
      const refused = await ctx.a.waitFor((e) => e.event === "refused", "a's refusal of c", 10_000, before);
      ctx.log(`  c -> a: refused by a's check (${refused.peer} is not ${IDS.b})`);
      check("c -> a refused by SPIFFE ID", { ok: ca.ok, refusedPeer: refused.peer }, { ok: false, refusedPeer: IDS.c });
      await c.stop();
      await agent.stop();
      check("the x509pop agent stopped cleanly", agent.child.exitCode, 0);
    },
  },
  {
    title: "The CA rotates (its state moved past 1/2 of CA_TTL, activation due ~25 s later) under constant mTLS traffic",
    async run(ctx, check) {
      const oldCa = ctx.initialAuthorities[0];
      await ctx.a.command({ cmd: "loop", port: ctx.portB, expect: IDS.b, intervalMs: 50 });
      await ctx.b.command({ cmd: "loop", port: ctx.portA, expect: IDS.a, intervalMs: 50 });
      ctx.log("  a and b keep opening mTLS connections to each other (every 50 ms), re-reading SVID and bundle from their streams");

      // The server goes down for a restart: start it with SVIDs fresh enough to outlast that and the
      // agent's back-off (an expired SVID would fail handshakes, and that is not what is tested here).
      const fresh = await freshSvids(ctx, OUTAGE_BUDGET_MS);
      ctx.log(`  both SVIDs valid for at least ${(fresh / 1000).toFixed(0)} s more: restarting Signet now`);

      // Simulated time: as if ~50 min of the CA's 1 h had passed. Past 1/2 the next key is prepared and
      // published at once; at 5/6 (here 25 s from now, in real time, by the CA's alarm) it starts signing.
      await ctx.signet.stop();
      const activateIn = activateInMs(ctx.startMs);
      const { rows, shiftMs } = await ctx.signet.shiftCa({ activateInMs: activateIn });
      const activateAt = Date.now() + activateIn;
      ctx.log(`  stopped Signet, moved ${rows} CA authorities ${(shiftMs / MINUTE).toFixed(1)} min into the past, starting it again`);
      await ctx.signet.start();
      const prepared = await bundleAuthorities(ctx.signet.url);
      check("X.509 authorities in the bundle past the prepare point", prepared.length, 2);
      const newCa = prepared.find((f) => f !== oldCa);
      ctx.log(`  /bundle holds the old CA ${oldCa} and the prepared CA ${newCa}; it activates in ${((activateAt - Date.now()) / 1000).toFixed(1)} s`);
      for (const w of [ctx.a, ctx.b]) {
        const s = await w.waitFor((e) => e.event === "svids" && e.bundle.includes(newCa), "a bundle with the prepared CA", Math.max(0, activateAt - Date.now()) + 5000);
        ctx.log(`  ${w.name} got the new bundle [${s.bundle.join(", ")}] ${((activateAt - s.at) / 1000).toFixed(1)} s before activation; its SVID is still from ${s.issuer}`);
        check(`${w.name} trusts the prepared CA before it signs anything`, s.at < activateAt, true);
      }

      // The agent renews each SVID at its half-life: the renewals after activation come from the new CA.
      for (const w of [ctx.a, ctx.b]) {
        const s = await w.waitFor((e) => e.event === "svids" && e.issuer === newCa, "an SVID from the new CA", Math.max(0, activateAt - Date.now()) + 45_000);
        ctx.log(`  ${w.name} renewed ${((s.at - activateAt) / 1000).toFixed(1)} s after activation: serial ${s.serial} issued by the new CA ${s.issuer}, bundle [${s.bundle.join(", ")}]`);
        check(`${w.name}'s bundle after rotation`, [...s.bundle].sort(), [oldCa, newCa].sort());
      }
      await sleep(1000);
      const ra = await ctx.a.command({ cmd: "stop-loop" });
      const rb = await ctx.b.command({ cmd: "stop-loop" });
      ctx.rotation = { a: ra, b: rb };
      for (const [n, r] of [["a -> b", ra], ["b -> a", rb]]) {
        ctx.log(`  ${n}: ${r.ok} handshakes ok, ${r.failed} failed${r.errors.length ? ` (${r.errors.join("; ")})` : ""}; peer SVIDs seen from CAs [${r.peer_issuers.join(", ")}]`);
      }
      check("a -> b and b -> a kept connecting all along (at least 100 handshakes each)", [ra.ok >= 100, rb.ok >= 100], [true, true]);
      check("failed handshakes a -> b", { failed: ra.failed, errors: ra.errors }, { failed: 0, errors: [] });
      check("failed handshakes b -> a", { failed: rb.failed, errors: rb.errors }, { failed: 0, errors: [] });
      check("a saw b's SVIDs from both CAs", [...ra.peer_issuers].sort(), [oldCa, newCa].sort());
      check("b saw a's SVIDs from both CAs", [...rb.peer_issuers].sort(), [oldCa, newCa].sort());
      const all = [...ctx.a.events, ...ctx.b.events].filter((e) => e.event === "svids");
      if (ctx.separateUids) check("only own identities were ever delivered", all.every((e) => e.ids.length === 1 && e.ids[0] === (e.name === "workload-a" ? IDS.a : IDS.b)), true);
      ctx.log(`  ${all.length} SVID updates delivered to a and b over the run`);
    },
  },
];

/** Waits (up to an SVID lifetime) until both a's and b's SVIDs have `ms` left; returns what is left. */
async function freshSvids(ctx, ms) {
  // They are renewed at half-life (~20 s): within one period both have been, or the wait ends.
  const deadline = Date.now() + 25_000;
  for (;;) {
    const left = Math.min(...[ctx.a, ctx.b].map((w) => w.events.filter((e) => e.event === "svids").at(-1).not_after)) - Date.now();
    if (left >= ms || Date.now() > deadline) return left;
    await sleep(200);
  }
}

/** A directory other uids can enter (the workloads reach sockets inside). */
async function mkdirShared(path) {
  await mkdir(path, { recursive: true });
  await chmod(path, 0o755);
}
