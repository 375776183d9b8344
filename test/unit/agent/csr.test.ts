/**
 * src/agent/csr.ts: the workload keys and CSRs the agent makes synchronously (node:crypto), checked
 * with the server's own CSR verifier (src/lib/x509/csr.ts) and with OpenSSL's view of the PKCS#8 key.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createCsr, generateSvidKey, workloadKeyAndCsr, workloadKeysAndCsrs } from "../../../src/agent/csr";
import { fromBase64 } from "../../../src/lib/encoding";
import { parseAndVerifyCsr } from "../../../src/lib/x509/csr";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("workload keys and CSRs", () => {
  it("the CSR verifies as the server verifies it and carries the key's SPKI; the PKCS#8 key is its private half", async () => {
    const k = workloadKeyAndCsr();
    const verified = await parseAndVerifyCsr(fromBase64(k.csr)!);
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
    if (!verified.ok) return;
    expect(hex(verified.value.spki)).toBe(hex(k.spki));
    const priv = createPrivateKey({ key: Buffer.from(k.pkcs8), format: "der", type: "pkcs8" });
    expect(priv.asymmetricKeyType).toBe("ec");
    expect(priv.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(hex(createPublicKey(priv).export({ type: "spki", format: "der" }))).toBe(hex(k.spki));
  });

  it("a CSR whose signature is changed is refused by the server's verifier (the check is real)", async () => {
    const der = fromBase64(workloadKeyAndCsr().csr)!;
    der[der.length - 5]! ^= 0x01;
    expect((await parseAndVerifyCsr(der)).ok).toBe(false);
  });

  it("the agent's own WebCrypto key makes the same kind of CSR", async () => {
    const key = await generateSvidKey(false);
    const verified = await parseAndVerifyCsr(await createCsr(key));
    expect(verified.ok && hex(verified.value.spki) === hex(key.spki)).toBe(true);
  });

  it("a batch of n: n distinct keys, made in slices that let the event loop run in between", async () => {
    let turns = 0;
    let counting = true;
    const tick = () => {
      if (!counting) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const keys = await workloadKeysAndCsrs(100);
    counting = false;
    expect(keys).toHaveLength(100);
    expect(new Set(keys.map((k) => hex(k.spki))).size).toBe(100);
    expect(turns, "event-loop turns while 100 keys were made").toBeGreaterThanOrEqual(3);
    expect(await workloadKeysAndCsrs(0)).toEqual([]);
  });
});
