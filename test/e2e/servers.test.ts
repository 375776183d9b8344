/**
 * Issue 11, "End to end with real servers": Debian's nginx (+ njs) and PostgreSQL 15 run from the
 * shipped examples (examples/nginx, examples/postgresql; only paths and ports replaced), each as a uid
 * of its own, with SVID, key and bundle files written by `signet-agent helper` as that uid, which
 * sends the server SIGHUP after every SVID and bundle change:
 * - nginx: the client SVID of spiffe://example.org/client/app gets 200, another valid SVID 403 (the
 *   njs URI SAN check), no client certificate 400; the clients check nginx's DNS SAN web.example.org;
 * - PostgreSQL `hostssl … cert map=spiffe`: psql verify-full (db.example.org) with app's SVID (CN
 *   app-user.db.example.org, mapped to app_user) gets in, the other SVID is refused; with a DN map of
 *   O=Signet,C=US (never shipped) the other SVID gets in, which is why;
 * - the CA rotates (its state moved past 1/2 of CA_TTL=1h, the next CA activating ~25 s later) while
 *   client loops keep opening mTLS connections to both servers: zero failures, servers and clients
 *   end on SVIDs from the new CA.
 * A Signet of its own (scripts/demo-lib.mjs). Skipped with a message without nginx/njs/PostgreSQL/root.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { request } from "node:https";
import { checkServerIdentity } from "node:tls";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleAuthorities,
  bundleFingerprints,
  cleanup,
  cleanupServers,
  cleanupServersSync,
  createInstance,
  ensureBuilt,
  FILES,
  freePort,
  installExitHandlers,
  issuerOf,
  missingServers,
  psqlConnect,
  startAgent,
  startHelper,
  startNginx,
  startPostgres,
  tempDir,
  type Instance,
  type Postgres,
} from "../support/servers.mjs";

const TD = "example.org";
const ID = { node: `spiffe://${TD}/servers/node`, web: `spiffe://${TD}/srv/web`, db: `spiffe://${TD}/srv/db`, app: `spiffe://${TD}/client/app`, other: `spiffe://${TD}/client/other` };
// PostgreSQL runs as Debian's postgres user (initdb wants a passwd entry); the others as bare uids.
const UID = { web: 61010, db: postgresUid(), app: 61012, other: 61013 };
const DNS: Partial<Record<keyof typeof UID, string>> = { web: "web.example.org", db: "db.example.org", app: "app-user.db.example.org" };
const SVID_TTL = "40s";
function postgresUid(): number {
  const line = /^postgres:[^:]*:(\d+):/m.exec(existsSync("/etc/passwd") ? readFileSync("/etc/passwd", "utf8") : "");
  return line ? Number(line[1]) : -1;
}
const missing = missingServers();
if (missing.length > 0) console.warn(`servers.test: skipped, missing ${missing.join(", ")} (.ci/run installs nginx, libnginx-mod-http-js and postgresql)`);

interface Ctx {
  dir: string;
  signet: Instance;
  startMs: number;
  certs: Record<keyof typeof UID, string>;
  nginxPort: number;
  pgPort: number;
  pg: Postgres;
  errorLog: () => string;
}
const ctx = {} as Ctx;
let failed: string | undefined;

/** GET / on nginx with a client's SVID (or none); the server must be web.example.org by DNS SAN and `expectServer` by URI SAN. */
function get(port: number, client?: keyof typeof UID, expectServer = ID.web): Promise<{ status: number; body: string }> {
  const dir = client && ctx.certs[client];
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        servername: "web.example.org",
        path: "/",
        agent: false,
        timeout: 5000,
        checkServerIdentity: (host, cert) => checkServerIdentity(host, cert) ?? (cert.subjectaltname?.split(", ").includes(`URI:${expectServer}`) ? undefined : new Error(`server is not ${expectServer}: ${cert.subjectaltname}`)),
        ca: readFileSync(join(dir ?? ctx.certs.app, FILES.bundle)),
        ...(dir ? { cert: readFileSync(join(dir, FILES.cert)), key: readFileSync(join(dir, FILES.key)) } : {}),
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

const pgAs = (client: keyof typeof UID, host?: string) => psqlConnect({ port: ctx.pgPort, certDir: ctx.certs[client], bundle: join(ctx.certs[client], FILES.bundle), ...(host ? { host } : {}) });

beforeAll(() => {
  installExitHandlers();
  process.on("exit", cleanupServersSync);
});
afterAll(async () => {
  await cleanupServers();
  await cleanup();
});

const steps: [string, number, () => Promise<void>][] = [
  [
    "a Signet of its own (CA_TTL=1h), entries for nginx, PostgreSQL and two clients, signet-agent",
    90_000,
    async () => {
      await ensureBuilt();
      ctx.dir = await tempDir("signet-servers-");
      ctx.signet = await createInstance({ dir: join(ctx.dir, "signet"), vars: { CA_TTL: "1h" } });
      const t0 = Date.now();
      await ctx.signet.start();
      ctx.startMs = Date.now() - t0;
      const create = (args: string[]) => ctx.signet.cliOk(["entry", "create", ...args, "--output", "json"]);
      await create(["--spiffe-id", ID.node, "--node", "--selector", "tee:type:sample"]);
      await Promise.all(
        (Object.keys(UID) as (keyof typeof UID)[]).map((w) =>
          create(["--spiffe-id", ID[w], "--parent-id", ID.node, "--selector", `unix:uid:${UID[w]}`, "--x509-svid-ttl", SVID_TTL, ...(DNS[w] ? ["--dns", DNS[w]] : [])]),
        ),
      );
      const socketDir = join(ctx.dir, "agent");
      await mkdir(socketDir);
      await chmod(socketDir, 0o755);
      const agent = startAgent({ url: ctx.signet.url, socket: join(socketDir, "agent.sock"), attestation: "sample" });
      await agent.waitFor((l) => l.msg === "workload api listening", "the Workload API socket");
      ctx.certs = {} as Ctx["certs"];
      for (const w of Object.keys(UID) as (keyof typeof UID)[]) ctx.certs[w] = join(ctx.dir, "certs", w);
    },
  ],
  [
    "nginx and PostgreSQL from Debian, as uids of their own, with files written by the helper",
    60_000,
    async () => {
      const socket = join(ctx.dir, "agent", "agent.sock");
      await mkdir(join(ctx.dir, "certs"));
      await chmod(join(ctx.dir, "certs"), 0o755);
      ctx.nginxPort = await freePort();
      ctx.pgPort = await freePort();
      const nginxDir = join(ctx.dir, "nginx");
      const pgDir = join(ctx.dir, "postgres");
      await Promise.all(
        (["app", "other"] as const).map((w) => startHelper({ name: w, uid: UID[w], socket, dir: ctx.certs[w] })),
      );
      // The shipped helper.conf files, their paths replaced.
      const web = { file: "nginx/helper.conf", replace: [["/etc/nginx/svid", ctx.certs.web], ["/run/nginx.pid", join(nginxDir, "nginx.pid")]] as [string, string][] };
      const db = { file: "postgresql/helper.conf", replace: [["/var/lib/signet-helper/postgresql", ctx.certs.db], ["/run/postgresql/postmaster.pid1", join(pgDir, "postmaster.pid1")]] as [string, string][] };
      await startHelper({ name: "web", uid: UID.web, socket, dir: ctx.certs.web, example: web });
      await startHelper({ name: "db", uid: UID.db, socket, dir: ctx.certs.db, example: db });
      const nginx = await startNginx({ dir: nginxDir, uid: UID.web, port: ctx.nginxPort, certDir: ctx.certs.web });
      ctx.errorLog = nginx.errorLog;
      ctx.pg = await startPostgres({ dir: pgDir, uid: UID.db, port: ctx.pgPort, certDir: ctx.certs.db });
      const subject = (w: keyof typeof UID) => new X509Certificate(readFileSync(join(ctx.certs[w], FILES.cert))).subject.replace(/\n/g, ",");
      expect(subject("app"), "a DNS-named SVID's subject").toBe("C=US,O=Signet,CN=app-user.db.example.org");
      expect(subject("other"), "an SVID without DNS names").toBe("C=US,O=Signet");
    },
  ],
  [
    "nginx: the allowed SPIFFE ID gets 200, another valid SVID 403, no client certificate 400",
    30_000,
    async () => {
      const app = await get(ctx.nginxPort, "app");
      expect(app, ctx.errorLog()).toEqual({ status: 200, body: `hello ${ID.app}\n` });
      const other = await get(ctx.nginxPort, "other");
      expect(other).toEqual({ status: 403, body: `forbidden: ${ID.other}\n` });
      const none = await get(ctx.nginxPort);
      expect(none.status).toBe(400);
      expect(none.body).toMatch(/No required SSL certificate was sent/);
      // And the client's side: nginx's SVID is not the one a client expecting the database wants.
      await expect(get(ctx.nginxPort, "app", ID.db)).rejects.toThrow(`server is not ${ID.db}`);
    },
  ],
  [
    "PostgreSQL: app's SVID maps to app_user, the other SVID is refused; a DN map of O=Signet,C=US would let it in",
    30_000,
    async () => {
      expect(await pgAs("app")).toEqual({ ok: true, out: "app_user" });
      // psql's side (verify-full): the server's SVID names db.example.org, not web.example.org.
      const wrongHost = await pgAs("app", "web.example.org");
      expect(wrongHost.ok).toBe(false);
      expect(wrongHost.out).toMatch(/does not match host name "web\.example\.org"/);
      const other = await pgAs("other");
      expect(other.ok, other.out).toBe(false);
      expect(other.out).toMatch(/certificate authentication failed|does not contain a common name|no pg_ident.conf entry/);
      // What the README warns against: a map on the DN every SVID without DNS names shares.
      const shippedHba = readFileSync(join(ctx.pg.data, "pg_hba.conf"), "utf8").replace(/^local .*\n/, "");
      const shippedIdent = readFileSync(join(ctx.pg.data, "pg_ident.conf"), "utf8");
      await ctx.pg.configure("hostssl all all 127.0.0.1/32 cert clientname=DN map=dn\n", 'dn "O=Signet,C=US" app_user\n');
      const letIn = await pgAs("other");
      expect(letIn, "with clientname=DN and a map of O=Signet,C=US, any SVID of the trust domain is app_user").toEqual({ ok: true, out: "app_user" });
      await ctx.pg.configure(shippedHba, shippedIdent);
      expect((await pgAs("other")).ok, "refused again under the shipped configuration").toBe(false);
      expect(await pgAs("app")).toEqual({ ok: true, out: "app_user" });
    },
  ],
  [
    "the CA rotates under client loops to nginx and PostgreSQL: zero failed connections",
    170_000, // beyond the sum of the step's own bounded waits (restart, activation ≤ 40 s, renewals ≤ 45 s after it)
    async () => {
      const [oldCa] = await bundleAuthorities(ctx.signet.url);
      const counts = { nginx: { ok: 0, failed: 0, torn: 0, errors: [] as string[] }, pg: { ok: 0, failed: 0, torn: 0, errors: [] as string[] } };
      let running = true;
      const loop = async (c: typeof counts.nginx, once: () => Promise<string | undefined>, pause: number) => {
        while (running) {
          let err = await once().catch((e: Error) => e.message);
          // A client that loads svid.pem and svid_key.pem per connection can read them on either side of
          // the helper's two renames (a few microseconds): OpenSSL's "key values mismatch", before any
          // byte reaches the server. Such a client retries (README, "Clients that read the files"); it
          // is counted apart, and a second mismatch in a row is a failure.
          if (err?.includes("key values mismatch")) {
            c.torn++;
            await sleep(10);
            err = await once().catch((e: Error) => e.message);
          }
          if (err === undefined) c.ok++;
          else {
            c.failed++;
            if (c.errors.length < 5) c.errors.push(`${new Date().toISOString()} ${err}`);
          }
          await sleep(pause);
        }
      };
      const loops = Promise.all([
        loop(counts.nginx, async () => ((await get(ctx.nginxPort, "app")).status === 200 ? undefined : "not 200"), 100),
        loop(counts.pg, async () => ((r) => (r.ok && r.out === "app_user" ? undefined : r.out))(await pgAs("app")), 150),
      ]);
      try {
        // SVIDs that outlast the restart: wait until every one has >= 25 s left (renewed at half-life, 20 s).
        const left = () => Math.min(...Object.values(ctx.certs).map((d) => Date.parse(new X509Certificate(readFileSync(join(d, FILES.cert))).validTo) - Date.now()));
        for (let t = Date.now(); left() < 25_000 && Date.now() - t < 25_000; ) await sleep(200);
        await ctx.signet.stop();
        const activateIn = Math.min(40_000, Math.max(25_000, 2 * ctx.startMs + 12_000));
        await ctx.signet.shiftCa({ activateInMs: activateIn });
        const activateAt = Date.now() + activateIn;
        await ctx.signet.start();
        const newCa = (await bundleAuthorities(ctx.signet.url)).find((f) => f !== oldCa);
        expect(newCa, "a prepared CA in /bundle").toBeDefined();
        const until = async (what: string, ok: () => boolean, ms: number) => {
          for (const t = Date.now(); !ok(); await sleep(200)) if (Date.now() - t > ms) throw new Error(`timed out: ${what}`);
        };
        for (const w of Object.keys(UID) as (keyof typeof UID)[]) {
          await until(`${w}'s bundle file with the new CA`, () => bundleFingerprints(join(ctx.certs[w], FILES.bundle)).includes(newCa!), Math.max(0, activateAt - Date.now()) + 5000);
        }
        expect(Date.now() < activateAt, "every bundle file had the new CA before it signed anything").toBe(true);
        for (const w of Object.keys(UID) as (keyof typeof UID)[]) {
          await until(`${w}'s SVID from the new CA`, () => issuerOf(join(ctx.certs[w], FILES.cert), join(ctx.certs[w], FILES.bundle)) === newCa, Math.max(0, activateAt - Date.now()) + 45_000);
        }
        await sleep(1500);
      } finally {
        running = false;
        await loops;
      }
      console.log(JSON.stringify({ metric: "servers_rotation_connections", nginx: { ok: counts.nginx.ok, failed: counts.nginx.failed, torn_reads_retried: counts.nginx.torn }, postgres: { ok: counts.pg.ok, failed: counts.pg.failed, torn_reads_retried: counts.pg.torn } }));
      expect(counts.nginx.ok, "connections to nginx across the rotation").toBeGreaterThan(100);
      expect(counts.pg.ok, "connections to PostgreSQL across the rotation").toBeGreaterThan(50);
      expect({ nginx: counts.nginx.errors, pg: counts.pg.errors }).toEqual({ nginx: [], pg: [] });
      expect([counts.nginx.failed, counts.pg.failed]).toEqual([0, 0]);
    },
  ],
];

describe("examples/nginx/spiffe_id.js (the njs module, run in Node: plain ES5 and Buffer)", () => {
  const pemOf = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
  const load = async () => {
    const src = readFileSync(join(__dirname, "..", "..", "examples", "nginx", "spiffe_id.js"), "utf8");
    const mod = (await import(`data:text/javascript,${encodeURIComponent(src)}`)) as { default: { id(r: unknown): string } };
    return (pem: string, verify = "SUCCESS") => mod.default.id({ variables: { ssl_client_verify: verify, ssl_client_raw_cert: pem } });
  };
  const opensslCert = async (dir: string, san: string | undefined) => {
    const { execFileSync } = await import("node:child_process");
    const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-days", "1", "-subj", "/O=Signet/C=US"];
    execFileSync("openssl", san ? [...args, "-addext", `subjectAltName=${san}`] : args, { stdio: "ignore" });
    return readFileSync(join(dir, "c.pem"), "utf8");
  };

  it("reads the one spiffe:// URI SAN; two URIs, none, a non-SPIFFE URI, an unverified client or any truncation give \"\"", async () => {
    const id = await load();
    const dir = await tempDir("signet-njs-");
    const one = await opensslCert(dir, "DNS:web.example.org,URI:spiffe://example.org/client/app");
    expect(id(one)).toBe("spiffe://example.org/client/app");
    expect(id(one, "FAILED:certificate has expired")).toBe("");
    expect(id(await opensslCert(dir, "URI:spiffe://example.org/a,URI:spiffe://example.org/b"))).toBe("");
    expect(id(await opensslCert(dir, "URI:https://example.org/a"))).toBe("");
    expect(id(await opensslCert(dir, undefined))).toBe("");
    expect(id("")).toBe("");
    expect(id("x".repeat(20_000))).toBe("");
    // Every prefix of the DER, and every single-byte change: never a throw, never another ID.
    const der = new X509Certificate(one).raw;
    let runs = 0;
    for (let n = 0; n < der.length; n++, runs++) expect(id(pemOf(der.subarray(0, n)))).toBe("");
    for (let i = 0; i < der.length; i++, runs++) {
      const bad = Buffer.from(der);
      bad[i] = bad[i]! ^ 0xff;
      expect(["", "spiffe://example.org/client/app"]).toContain(id(pemOf(bad)));
    }
    expect(runs, "prefixes and mutations tried").toBe(2 * der.length);
  });
});

describe("the README's nginx and PostgreSQL blocks are the shipped examples", () => {
  it("every directive of the README's nginx block, its pg_hba line and its pg_ident mapping are in examples/", () => {
    const root = join(__dirname, "..", "..");
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const from = readme.indexOf("## In front of real servers: nginx and PostgreSQL");
    const section = readme.slice(from, readme.indexOf("\n## ", from + 3));
    expect(section.length, "the README section").toBeGreaterThan(1000);
    const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2]! }));
    const squash = (t: string) => t.replace(/\s+/g, " ").trim();
    const nginx = squash(readFileSync(join(root, "examples", "nginx", "signet-mtls.conf"), "utf8"));
    const directives = blocks.find((b) => b.lang === "nginx")!.text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => /^(load_module|js_|ssl_|listen)/.test(l));
    expect(directives.length, "directives compared").toBeGreaterThanOrEqual(9);
    for (const d of directives) expect(nginx, d).toContain(squash(d));
    expect(nginx).toContain('map $spiffe_id $spiffe_allowed { default 0; "spiffe://example.org/client/app" 1; }');
    const ident = readFileSync(join(root, "examples", "postgresql", "pg_ident.conf"), "utf8");
    expect(ident).toMatch(/^spiffe\s+app-user\.db\.example\.org\s+app_user$/m);
    expect(section).toMatch(/^spiffe\s+app-user\.db\.example\.org\s+app_user$/m);
    expect(readFileSync(join(root, "examples", "postgresql", "pg_hba.conf"), "utf8")).toMatch(/^hostssl\s+all\s+all\s+127\.0\.0\.1\/32\s+cert map=spiffe$/m);
  });
});

describe.skipIf(missing.length > 0)("nginx and PostgreSQL from Debian with SVIDs from signet-agent helper", () => {
  for (const [title, timeout, run] of steps) {
    it(title, { timeout }, async () => {
      if (failed) throw new Error(`not run: an earlier step failed (${failed})`);
      try {
        await run();
      } catch (e) {
        failed = title;
        throw new Error(`${e instanceof Error ? e.message : String(e)}${ctx.pg ? `\n--- postgres ---\n${ctx.pg.log()}` : ""}${ctx.errorLog ? `\n--- nginx ---\n${ctx.errorLog()}` : ""}`, { cause: e });
      }
    });
  }
});
