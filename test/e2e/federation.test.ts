/**
 * Federation between two Signets, as operators run them: the `npm run dev` server of global-setup
 * (trust domain example.org) federates with a second one started the same way (scripts/dev.mjs) from a
 * copy of the project whose wrangler.toml says TRUST_DOMAIN = "peer.test", on its own port, state and
 * `.dev.vars`. The relationship is made with the real CLI; the federated bundle must be exactly the
 * keys the peer serves at /bundle, and it must survive the peer going away.
 */
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDevServer, type DevServer } from "../support/dev-server";
import { REPO_ROOT, signet, signetOk, tempDir } from "../support/e2e-process";

const url = inject("signetUrl");
const PEER_TD = "peer.test";

let dir: { path: string; remove(): Promise<void> };
let peer: DevServer | undefined;

beforeAll(async () => {
  dir = await tempDir("signet-e2e-federation-");
  const project = join(dir.path, "project");
  await mkdir(project);
  for (const entry of ["package.json", "tsconfig.json", "tsconfig.base.json", "tsconfig.worker.json", "worker-configuration.d.ts", "src", "migrations", "scripts"]) {
    await cp(join(REPO_ROOT, entry), join(project, entry), { recursive: true });
  }
  const toml = await readFile(join(REPO_ROOT, "wrangler.toml"), "utf8");
  const peerToml = toml.replace(/^TRUST_DOMAIN = "[^"]*"$/m, `TRUST_DOMAIN = "${PEER_TD}"`);
  expect(peerToml).not.toBe(toml);
  await writeFile(join(project, "wrangler.toml"), peerToml);
  await symlink(join(REPO_ROOT, "node_modules"), join(project, "node_modules"), "dir");
  peer = await startDevServer({ cwd: project, persistTo: join(dir.path, "state"), configHome: join(dir.path, "config") });
});

afterAll(async () => {
  await peer?.stop();
  await dir?.remove();
});

interface Bundle {
  keys: Record<string, unknown>[];
  spiffe_sequence: number;
  spiffe_refresh_hint: number;
}

async function bundleOf(server: string): Promise<Bundle> {
  const res = await fetch(`${server}/bundle`);
  expect(res.status).toBe(200);
  return (await res.json()) as Bundle;
}

describe("federation with a second Signet (npm run dev on another port)", () => {
  it("signet federation create fetches the peer's bundle at once: the federated bundle is exactly the peer's /bundle", async () => {
    const health = (await (await fetch(`${peer!.url}/healthz`)).json()) as { trust_domain: string };
    expect(health.trust_domain).toBe(PEER_TD);
    const peerBundle = await bundleOf(peer!.url);
    const own = await bundleOf(url);
    expect(peerBundle.keys.length).toBe(3);
    expect(peerBundle.keys).not.toEqual(own.keys);

    const created = JSON.parse(await signetOk(url, ["federation", "create", "--trust-domain", PEER_TD, "--bundle-endpoint-url", `${peer!.url}/bundle`, "--bundle-endpoint-profile", "https_web", "--output", "json"])) as {
      federation: Record<string, unknown>;
      refresh: { outcome: string };
    };
    expect(created.refresh).toEqual({ outcome: "updated" });
    expect(created.federation).toMatchObject({ trust_domain: PEER_TD, bundle_status: "current", spiffe_sequence: peerBundle.spiffe_sequence, x509_authorities: 1, jwt_authorities: 2 });
    expect(created.federation.trust_domain_bundle).toEqual(peerBundle);

    const list = JSON.parse(await signetOk(url, ["federation", "list", "--output", "json"])) as { federations: { trust_domain: string }[] };
    expect(list.federations.map((f) => f.trust_domain)).toContain(PEER_TD);
    const text = await signetOk(url, ["federation", "show", "--trust-domain", PEER_TD]);
    expect(text).toContain(`Bundle                  : current, sequence ${peerBundle.spiffe_sequence}, 1 X.509 authority, 2 JWT authorities`);
  });

  it("refuses https_spiffe and our own trust domain with clear errors", async () => {
    const spiffe = await signet(url, ["federation", "create", "--trust-domain", "other.test", "--bundle-endpoint-url", `${peer!.url}/bundle`, "--bundle-endpoint-profile", "https_spiffe"]);
    expect(spiffe.code).toBe(2);
    expect(spiffe.stderr).toContain("https_spiffe is not supported");
    const own = await signet(url, ["federation", "create", "--trust-domain", "example.org", "--bundle-endpoint-url", `${peer!.url}/bundle`]);
    expect(own.code).toBe(1);
    expect(own.stderr).toContain("code invalid_trust_domain, HTTP 400");
  });

  it("with the peer stopped, a refresh fails and the last good bundle is kept; delete ends the relationship", async () => {
    const before = await bundleOf(peer!.url);
    await peer!.stop();
    peer = undefined;
    const r = await signet(url, ["federation", "refresh", "--trust-domain", PEER_TD, "--output", "json"]);
    expect(r.code, r.stderr).toBe(1);
    const body = JSON.parse(r.stdout) as { federation: Record<string, unknown>; refresh: { outcome: string } };
    expect(body.refresh.outcome).toBe("failed");
    expect(body.federation).toMatchObject({ bundle_status: "stale", trust_domain_bundle: before });
    expect(await signetOk(url, ["federation", "delete", "--trust-domain", PEER_TD])).toBe(`Deleted federation relationship with ${PEER_TD}\n`);
    expect((await signet(url, ["federation", "show", "--trust-domain", PEER_TD])).code).toBe(1);
  });
});
