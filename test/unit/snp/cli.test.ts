/** `signet verify snp` through main() with a fake CliIo: exit codes 0/1/2 and the one JSON object. */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, scratchDir } from "../cli/run-cli";
import { CRLS, SNP } from "./snp-fixtures";

const noFetch = (() => {
  throw new Error("verify snp must not use the network");
}) as unknown as typeof fetch;

let dir: Awaited<ReturnType<typeof scratchDir>>;
beforeAll(async () => {
  dir = await scratchDir();
  await writeFile(join(dir.path, "deny-debug.json"), JSON.stringify({ allow_debug: false }));
  await writeFile(join(dir.path, "allow-debug.json"), JSON.stringify({ allow_debug: true, max_vmpl: 0, min_tcb: { snp: 5 } }));
  await writeFile(join(dir.path, "typo.json"), JSON.stringify({ allow_debg: true }));
  await writeFile(join(dir.path, "broken.json"), "{ allow_debug: ");
  await writeFile(join(dir.path, "empty.pem"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  await mkdir(join(dir.path, "a-directory"));
  await writeFile(join(dir.path, "huge.bin"), "");
  await truncate(join(dir.path, "huge.bin"), 16 * 1024 * 1024 + 1); // sparse, one byte over the limit
  await writeFile(join(dir.path, "huge.json"), "");
  await truncate(join(dir.path, "huge.json"), 1024 * 1024 + 1);
  if (process.platform !== "win32") execFileSync("mkfifo", [join(dir.path, "fifo")]);
});
afterAll(() => dir.remove());

const F = (p: string) => resolve(SNP, p);
const run = (...argv: string[]) => runCli(["verify", "snp", ...argv], { cwd: dir.path, fetch: noFetch });

function outcome(stdout: string): Record<string, unknown> {
  expect(stdout.endsWith("\n")).toBe(true);
  expect(stdout.trim().split("\n").length).toBe(1);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("signet verify snp: verified (exit 0)", () => {
  it("prints {ok:true, tee:snp, claims} for a DER VCEK", async () => {
    const r = await run("--report", F("gsg-milan-v2/report.bin"), "--vcek", F("gsg-milan-v2/vcek.der"), "--at", "2022-09-25T00:55:28Z");
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const o = outcome(r.stdout);
    expect(Object.keys(o)).toEqual(["ok", "tee", "claims"]);
    expect(o).toMatchObject({ ok: true, tee: "snp", claims: { product: "Milan", signer: "vcek", version: 2, policy: { debug: true } } });
  });

  it("accepts a PEM VCEK, relative paths and a VLEK", async () => {
    const pem = await run("--report", F("oak-turin-v5/report.bin"), "--vcek", F("oak-turin-v5/vcek.pem"), "--at", "2025-07-18T17:04:46Z");
    expect(pem.code).toBe(0);
    expect(outcome(pem.stdout)).toMatchObject({ claims: { product: "Turin", reported_tcb: { fmc: 0, snp: 2 } } });
    const rel = await runCli(["verify", "snp", "--report", "trustee-milan-vlek-v3/report.bin", "--vcek", "trustee-milan-vlek-v3/vlek.der", "--at", "2025-03-01T00:00:00Z"], {
      cwd: resolve(SNP),
      fetch: noFetch,
    });
    expect(rel.code).toBe(0);
    expect(outcome(rel.stdout)).toMatchObject({ claims: { signer: "vlek", vmpl: 1 } });
  });

  it("picks the VCEK out of a PEM bundle (Azure THIM order, or the KDS chain first)", async () => {
    const thim = await run("--report", F("trustee-azure-milan-v2/report.bin"), "--vcek", F("trustee-azure-milan-v2/original/vcek.pem"), "--at", "2023-05-03T21:22:19Z");
    expect([thim.code, outcome(thim.stdout).ok]).toEqual([0, true]);
    const chainFirst = (await readFile(F("oak-milan-v3/cert_chain.pem"), "utf8")) + (await readFile(F("oak-milan-v3/vcek.pem"), "utf8"));
    await writeFile(join(dir.path, "chain-first.pem"), chainFirst);
    const r = await run("--report", F("oak-milan-v3/report.bin"), "--vcek", "chain-first.pem", "--at", "2025-01-16T21:21:54Z");
    expect([r.code, outcome(r.stdout).ok]).toEqual([0, true]);
  });

  it("checks a CRL given as DER or PEM", async () => {
    for (const crl of ["amd-milan-crl.der", "amd-milan-crl.pem"]) {
      const r = await run("--report", F("oak-milan-v3/report.bin"), "--vcek", F("oak-milan-v3/vcek.der"), "--crl", resolve(CRLS, crl), "--at", "2025-06-01T00:00:00Z");
      expect([r.code, outcome(r.stdout).ok]).toEqual([0, true]);
    }
  });

  it("a policy that allows the claims keeps exit 0", async () => {
    const r = await run("--report", F("gsg-milan-v2/report.bin"), "--vcek", F("gsg-milan-v2/vcek.der"), "--at", "2022-09-25T00:55:28Z", "--policy", "allow-debug.json");
    expect(r.code).toBe(0);
  });
});

describe("signet verify snp: rejected (exit 1)", () => {
  it.each<[string, string[], string]>([
    ["a truncated report", ["--report", F("gsg-milan-v2/negative/truncated_1183.bin"), "--vcek", F("gsg-milan-v2/vcek.der"), "--at", "2022-09-25T00:55:28Z"], "bad_length"],
    ["a flipped measurement", ["--report", F("oak-genoa-v5/negative/flip_measurement.bin"), "--vcek", F("oak-genoa-v5/vcek.der"), "--at", "2025-08-08T17:21:41Z"], "bad_report_signature"],
    ["another product's VCEK", ["--report", F("oak-turin-v5/report.bin"), "--vcek", F("oak-turin-v5/negative/vcek_wrong_product.der"), "--at", "2025-08-08T17:21:41Z"], "product_mismatch"],
    ["the expired VLEK, verified now", ["--report", F("trustee-milan-vlek-v3/report.bin"), "--vcek", F("trustee-milan-vlek-v3/vlek.der")], "cert_expired"],
    ["a stale CRL", ["--report", F("tinfoil-genoa-v3/report.bin"), "--vcek", F("tinfoil-genoa-v3/vcek.der"), "--crl", resolve(CRLS, "amd-genoa-crl.der"), "--at", "2026-01-12T16:38:56Z"], "crl_expired"],
    ["no --vcek", ["--report", F("oak-milan-v3/report.bin")], "missing_endorsement_key"],
    ["no --vcek and a bad report", ["--report", F("oak-milan-v3/negative/version_6.bin")], "unsupported_version"],
    ["a PEM without a certificate", ["--report", F("oak-milan-v3/report.bin"), "--vcek", "empty.pem"], "malformed_endorsement_cert"],
    ["a report given as the VCEK", ["--report", F("oak-milan-v3/report.bin"), "--vcek", F("oak-milan-v3/report.bin")], "malformed_endorsement_cert"],
    ["a debug guest under a deny-debug policy", ["--report", F("gsg-milan-v2/report.bin"), "--vcek", F("gsg-milan-v2/vcek.der"), "--at", "2022-09-25T00:55:28Z", "--policy", "deny-debug.json"], "policy_denied:debug"],
  ])("%s → %s", async (_what, argv, code) => {
    const r = await run(...argv);
    expect(r.code).toBe(1);
    const o = outcome(r.stdout);
    expect(Object.keys(o)).toEqual(["ok", "error", "detail"]);
    expect(o).toMatchObject({ ok: false, error: code });
    expect(typeof o.detail).toBe("string");
    expect(r.stderr).toBe(`signet: verification failed: ${code}\n`);
  });
});

describe("signet verify snp: usage errors (exit 2, nothing on stdout)", () => {
  const report = F("oak-milan-v3/report.bin");
  it.each<[string, string[], RegExp]>([
    ["no --report", ["--vcek", F("oak-milan-v3/vcek.der")], /missing required flag --report/],
    ["a missing report file", ["--report", "nope.bin"], /cannot read report nope\.bin \(ENOENT\)/],
    ["a missing VCEK file", ["--report", report, "--vcek", "nope.der"], /cannot read certificate nope\.der/],
    ["a bad --at", ["--report", report, "--at", "yesterday"], /--at must be an ISO 8601 date-time/],
    ["an impossible --at", ["--report", report, "--at", "2025-13-01T00:00:00Z"], /--at is not a valid date-time/],
    ["policy JSON that does not parse", ["--report", report, "--policy", "broken.json"], /is not valid JSON/],
    ["a policy with an unknown field", ["--report", report, "--policy", "typo.json"], /unknown field 'allow_debg'/],
    ["an unknown flag", ["--report", report, "--quote", "x"], /unknown flag --quote/],
  ])("%s", async (_what, argv, message) => {
    const r = await run(...argv);
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\(see 'signet verify snp --help'\)\n$/);
  });

  it("--help prints the usage", async () => {
    const r = await run("--help");
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("Usage: signet verify snp --report FILE")).toBe(true);
  });
});

describe.runIf(process.platform !== "win32")("signet verify snp: only regular files within their limit are read (exit 2 at once)", () => {
  const report = F("gsg-milan-v2/report.bin");
  const vcek = F("gsg-milan-v2/vcek.der");
  const slots: [string, (path: string) => string[], string][] = [
    ["--report", (p) => ["--report", p, "--vcek", vcek], "report"],
    ["--vcek", (p) => ["--report", report, "--vcek", p], "certificate"],
    ["--cert-table", (p) => ["--report", report, "--cert-table", p], "certificate table"],
    ["--crl", (p) => ["--report", report, "--vcek", vcek, "--crl", p], "CRL"],
    ["--policy", (p) => ["--report", report, "--vcek", vcek, "--policy", p], "policy"],
  ];
  const specials: [string, string, string][] = [
    ["/dev/zero", "/dev/zero", "a character device"],
    ["a FIFO", "fifo", "a FIFO"],
    ["a directory", "a-directory", "a directory"],
  ];
  it.each(slots.flatMap(([flag, argv, what]) => specials.map(([name, path, kind]) => [`${flag} ${name}`, argv(path), `${what} ${path} is not a regular file (${kind})`] as const)))(
    "%s",
    async (_name, argv, message) => {
      const r = await run(...argv, "--at", "2022-09-25T00:55:28Z");
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toBe(`signet: ${message} (see 'signet verify snp --help')\n`);
    },
    3000,
  );

  it("a report over 16 MiB or a policy over 1 MiB is refused by its size", async () => {
    const big = await run("--report", "huge.bin", "--vcek", vcek);
    expect([big.code, big.stdout]).toEqual([2, ""]);
    expect(big.stderr).toMatch(/^signet: report huge\.bin is larger than 16777216 bytes /);
    const policy = await run("--report", report, "--vcek", vcek, "--policy", "huge.json");
    expect([policy.code, policy.stdout]).toEqual([2, ""]);
    expect(policy.stderr).toMatch(/^signet: policy huge\.json is larger than 1048576 bytes /);
  });
});

describe("signet verify snp: certificate table (air-gapped)", () => {
  it("verifies with the VCEK from the guest's certificate table", async () => {
    const { buildCertTable, CERT_TABLE_GUIDS } = await import("../../../src/lib/attestation/collateral/snp-cert-table");
    const vcek = new Uint8Array(await readFile(F("gsg-milan-v2/vcek.der")));
    const ask = new Uint8Array(await readFile(F("gsg-milan-v2/ask.pem")));
    await writeFile(join(dir.path, "table.bin"), buildCertTable([[CERT_TABLE_GUIDS.ask, ask], [CERT_TABLE_GUIDS.vcek, vcek]]));
    await writeFile(join(dir.path, "no-ek.bin"), buildCertTable([[CERT_TABLE_GUIDS.ask, ask]]));
    await writeFile(join(dir.path, "garbage.bin"), new Uint8Array(30).fill(7));
    const good = await run("--report", F("gsg-milan-v2/report.bin"), "--cert-table", "table.bin", "--at", "2022-09-25T00:55:28Z");
    expect(good.code).toBe(0);
    expect(outcome(good.stdout)).toMatchObject({ ok: true, claims: { signer: "vcek" } });
    const noEk = await run("--report", F("gsg-milan-v2/report.bin"), "--cert-table", "no-ek.bin", "--at", "2022-09-25T00:55:28Z");
    expect([noEk.code, outcome(noEk.stdout).error]).toEqual([1, "missing_endorsement_key"]);
    const bad = await run("--report", F("gsg-milan-v2/report.bin"), "--cert-table", "garbage.bin");
    expect([bad.code, outcome(bad.stdout).error]).toEqual([1, "malformed_cert_table"]);
    const both = await run("--report", F("gsg-milan-v2/report.bin"), "--cert-table", "table.bin", "--vcek", F("gsg-milan-v2/vcek.der"));
    expect([both.code, both.stdout]).toEqual([2, ""]);
  });
});

describe("signet verify snp: --report-data and --init-data-digest (the contract's binding)", () => {
  const report = F("oak-milan-v3/report.bin");
  const vcek = F("oak-milan-v3/vcek.der");
  const at = "2025-01-16T21:21:54Z";
  const reportData = async () => (await readFile(report)).subarray(0x50, 0x90).toString("hex");

  it("the report's REPORT_DATA (trimmed of its zero padding, or whole) and HOST_DATA's digest verify (exit 0)", async () => {
    const rd = await reportData();
    for (const hex of [rd, rd.replace(/(00)+$/, "")]) {
      const r = await run("--report", report, "--vcek", vcek, "--at", at, "--report-data", hex, "--init-data-digest", "00".repeat(32));
      expect([r.code, outcome(r.stdout).ok]).toEqual([0, true]);
    }
  });

  it.each<[string, (rd: string) => string[], string]>([
    ["a flipped report-data byte", (rd) => ["--report-data", `${rd[0] === "0" ? "1" : "0"}${rd.slice(1)}`], "report_data_mismatch"],
    ["another init-data digest", (rd) => ["--report-data", rd, "--init-data-digest", "ab".repeat(32)], "init_data_mismatch"],
  ])("%s → exit 1, %s", async (_what, extra, code) => {
    const r = await run("--report", report, "--vcek", vcek, "--at", at, ...extra(await reportData()));
    expect([r.code, outcome(r.stdout).error]).toEqual([1, code]);
  });

  it.each([["not hex", "zz"], ["an odd length", "abc"], ["65 bytes", "00".repeat(65)], ["0x-prefixed", "0x00"]])("--report-data %s is a usage error (exit 2)", async (_what, hex) => {
    for (const flag of ["--report-data", "--init-data-digest"]) {
      const r = await run("--report", report, "--vcek", vcek, flag, hex);
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(new RegExp(`${flag} must be 1 to 64 bytes of hex`));
    }
  });

  it("an empty --report-data is a usage error too (exit 2)", async () => {
    const r = await run("--report", report, "--vcek", vcek, "--report-data", "");
    expect([r.code, r.stdout]).toEqual([2, ""]);
  });
});
