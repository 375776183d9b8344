/**
 * Issue 10's "End to end", as assertions: the very steps `npm run demo` runs (scripts/demo-scenario.mjs),
 * each an `it` here with the scenario's checks bound to expect(). On a Signet of its own (wrangler dev
 * from a project copy: CA_TTL=1h, an x509pop trust anchor made with openssl, its own port, state and
 * .dev.vars), not the shared server of global-setup:
 * - a node entry for tee:type:sample and two workload entries by uid; signet-agent run --attestation sample;
 * - two workloads as uids 61001 and 61002 (setpriv) get only their own X.509-SVID over the Workload API
 *   (every stream update checked), uid 61003 with no entry gets PermissionDenied;
 * - mutual TLS both ways with Node's tls and nothing but SVID, key and bundle, the peer checked by its
 *   URI SAN; a client with another (valid) SPIFFE ID is refused by the server's check, a server with
 *   another ID by the client's;
 * - a JWT-SVID validates through the OIDC discovery document's jwks_uri (jose);
 * - x509pop: the bootstrap certificate and key stored as key broker resources, released to a sample
 *   guest (signet kbs get-resource), a second agent attests with them (agent ID
 *   .../signet/agent/x509pop/<sha1 of the leaf DER>) and a workload entry parented to the node entry
 *   `x509pop:subject:cn:<cn>` reaches its workload;
 * - the CA rotates (its state moved past 1/2, then past 5/6 of CA_TTL, the server restarted each time)
 *   while both workloads keep opening mTLS connections to each other: zero failed handshakes, SVIDs
 *   from the new CA, a bundle with both.
 * Every process and temp dir is removed in afterAll (and on exit).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canSwitchUids, cleanup, installExitHandlers } from "../../scripts/demo-lib.mjs";
import { createContext, steps, type Check } from "../../scripts/demo-scenario.mjs";

const lines: string[] = [];
const ctx = createContext({ log: (l) => lines.push(l) });
let failed: string | undefined;

beforeAll(() => {
  installExitHandlers();
});

afterAll(async () => {
  await cleanup();
});

const check: Check = (label, actual, expected) => expect(actual, label).toEqual(expected);

describe("npm run demo's chain: entries, agent, two uids over mTLS, JWT-SVID, x509pop seed, CA rotation", () => {
  for (const step of steps) {
    // The rotation waits for a restart, the activation (~25 s) and the renewals at half-life (~20 s).
    // The rotation step's own waits (restart, activation up to 40 s away, renewal up to 45 s after it)
    // time out with a message first; vitest's bound only has to lie beyond their sum on a loaded machine.
    it(step.title, { timeout: step === steps.at(-1) ? 170_000 : 60_000 }, async () => {
      if (failed) throw new Error(`not run: an earlier step failed (${failed})`);
      const from = lines.length;
      try {
        await step.run(ctx, check);
      } catch (e) {
        failed = step.title;
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- what the step printed ---\n${lines.slice(from).join("\n")}${ctx.signet ? `\n--- wrangler ---\n${ctx.signet.output().slice(-4000)}` : ""}`, { cause: e });
      }
    });
  }

  it("ran the workloads as uids of their own (root with setpriv), and counted the handshakes across the rotation", () => {
    if (!canSwitchUids()) {
      console.warn("demo.test: not root (or no setpriv): identity separation by uid was not checked");
      return;
    }
    expect(ctx.separateUids).toBe(true);
    const { a, b } = ctx.rotation!;
    console.log(JSON.stringify({ metric: "demo_rotation_handshakes", a_to_b: { ok: a.ok, failed: a.failed }, b_to_a: { ok: b.ok, failed: b.failed } }));
    expect([a.failed, b.failed]).toEqual([0, 0]);
  });
});
