/** `signet verify tdx` through main() on the fixture files: exit codes 0/1/2 and the JSON shape. */
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TDX_COLLATERAL_FILES } from "../../../src/lib/attestation/tdx/collateral";
import { runCli, scratchDir } from "../cli/run-cli";
import { FIXTURES } from "./tdx-fixtures";

const V4 = "automata-v4-00806f050000-col0625";
const V4_AT = "2025-06-05T03:45:00Z";

let scratch: Awaited<ReturnType<typeof scratchDir>>;
beforeEach(async () => {
  scratch = await scratchDir();
});
afterEach(() => scratch.remove());

const run = (args: string[], cwd = FIXTURES) => runCli(["verify", "tdx", ...args], { cwd });

function outcome(stdout: string): Record<string, unknown> {
  expect(stdout.endsWith("\n")).toBe(true);
  expect(stdout.trim().split("\n")).toHaveLength(1);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("signet verify tdx", () => {
  it("verifies a v4 quote offline and prints the claims (exit 0), paths relative to the cwd", async () => {
    const r = await run(["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", V4_AT]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const o = outcome(r.stdout) as { ok: boolean; tee: string; claims: Record<string, unknown> };
    expect(Object.keys(o)).toEqual(["ok", "tee", "claims"]);
    expect(o.ok).toBe(true);
    expect(o.tee).toBe("tdx");
    expect(o.claims.tcb_status).toBe("OutOfDate");
    expect(o.claims.quote_version).toBe(4);
    expect(o.claims.fmspc).toBe("00806f050000");
    expect(o.claims.advisory_ids).toEqual(["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"]);
    expect(o.claims.collateral_expires_at).toBe("2025-07-04T09:19:31.000Z");
  });

  it("verifies a v5 TD 1.5 quote with absolute paths", async () => {
    const dir = join(FIXTURES, "automata-v5-td15-90c06f-alibaba");
    const r = await run(["--quote", join(dir, "quote.bin"), "--collateral", dir, "--at", "2025-06-15T00:00:00Z"], scratch.path);
    expect(r.code).toBe(0);
    const o = outcome(r.stdout) as { claims: Record<string, unknown> };
    expect(o.claims.tcb_status).toBe("UpToDate");
    expect(o.claims.mr_service_td).toMatch(/^383c87d3/);
  });

  it("rejects with the failure code (exit 1): expired collateral, no TCB level", async () => {
    const expired = await run(["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", "2025-07-04T09:19:32Z"]);
    expect(expired.code).toBe(1);
    const o = outcome(expired.stdout);
    expect(Object.keys(o)).toEqual(["ok", "error", "detail"]);
    expect(o).toMatchObject({ ok: false, error: "pck_crl_expired" });
    expect(expired.stderr).toBe("signet: verification failed: pck_crl_expired\n");

    const g = "google-v4-50806f-spr-e4";
    const unsupported = await run(["--quote", `${g}/quote.bin`, "--collateral", g, "--at", "2023-07-01T01:00:00Z"]);
    expect(unsupported.code).toBe(1);
    expect(outcome(unsupported.stdout)).toMatchObject({ ok: false, error: "tcb_not_supported" });
  });

  it("rejects tampered collateral and a root CRL offered as the PCK CRL (exit 1)", async () => {
    for (const name of Object.values(TDX_COLLATERAL_FILES)) await copyFile(join(FIXTURES, V4, name), join(scratch.path, name));
    await copyFile(join(FIXTURES, "negative", `${V4}--tcbinfo-tampered`, "tcb_info.json"), join(scratch.path, "tcb_info.json"));
    const tampered = await run(["--quote", join(FIXTURES, V4, "quote.bin"), "--collateral", scratch.path, "--at", V4_AT]);
    expect(tampered.code).toBe(1);
    expect(outcome(tampered.stdout)).toMatchObject({ ok: false, error: "tcb_info_untrusted" });

    await copyFile(join(FIXTURES, V4, "tcb_info.json"), join(scratch.path, "tcb_info.json"));
    await copyFile(join(FIXTURES, V4, "root_ca_crl.der"), join(scratch.path, "pck_crl.der"));
    const wrongCrl = await run(["--quote", join(FIXTURES, V4, "quote.bin"), "--collateral", scratch.path, "--at", V4_AT]);
    expect(outcome(wrongCrl.stdout)).toMatchObject({ ok: false, error: "pck_crl_wrong_issuer" });
  });

  it("rejects a malformed quote (exit 1)", async () => {
    const r = await run(["--quote", `negative/${V4}--truncated/quote.bin`, "--collateral", V4, "--at", V4_AT]);
    expect(r.code).toBe(1);
    expect(outcome(r.stdout)).toMatchObject({ ok: false, error: "quote_truncated" });
  });

  it("appraises against --policy: allow (exit 0) and deny (exit 1, policy_denied:<rule>)", async () => {
    const allow = join(scratch.path, "allow.json");
    const deny = join(scratch.path, "deny.json");
    await writeFile(allow, JSON.stringify({ accepted_tcb_statuses: ["UpToDate", "OutOfDate"] }));
    await writeFile(deny, JSON.stringify({ accepted_tcb_statuses: ["UpToDate"] }));
    const ok = await run(["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", V4_AT, "--policy", allow]);
    expect(ok.code).toBe(0);
    expect(outcome(ok.stdout).ok).toBe(true);
    const denied = await run(["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", V4_AT, "--policy", deny]);
    expect(denied.code).toBe(1);
    expect(outcome(denied.stdout)).toMatchObject({ ok: false, error: "policy_denied:tcb_status" });
  });

  it.each([
    ["no --quote", ["--collateral", V4]],
    ["no --collateral", ["--quote", `${V4}/quote.bin`]],
    ["a missing quote file", ["--quote", "nope.bin", "--collateral", V4]],
    ["a collateral directory without the files", ["--quote", `${V4}/quote.bin`, "--collateral", "negative"]],
    ["a bad --at", ["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", "yesterday"]],
    ["an unknown flag", ["--quote", `${V4}/quote.bin`, "--collateral", V4, "--nonce", "x"]],
  ])("%s is a usage error (exit 2, nothing on stdout)", async (_name, args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^signet: /);
  });

  it("a policy file that is not JSON or not a policy is a usage error (exit 2)", async () => {
    const notJson = join(scratch.path, "a.json");
    const unknown = join(scratch.path, "b.json");
    await writeFile(notJson, "{");
    await writeFile(unknown, JSON.stringify({ allow_debugging: true }));
    for (const p of [notJson, unknown]) {
      const r = await run(["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", V4_AT, "--policy", p]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
    }
    const r = await run(["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", V4_AT, "--policy", unknown]);
    expect(r.stderr).toMatch(/unknown policy field 'allow_debugging'/);
  });

  it("--help prints the usage (exit 0) and the command is listed", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: signet verify tdx --quote FILE --collateral DIR/);
    const list = await runCli(["--help"], { cwd: FIXTURES });
    expect(list.stdout).toMatch(/verify tdx/);
  });

  describe.runIf(process.platform !== "win32")("reads only regular files within their limit (exit 2 at once)", () => {
    /** A copy of the V4 collateral directory in the scratch directory, with `name` made `kind`. */
    async function special(kind: "/dev/zero" | "FIFO" | "directory", at: string): Promise<void> {
      if (kind === "/dev/zero") await symlink("/dev/zero", at);
      else if (kind === "FIFO") execFileSync("mkfifo", [at]);
      else await mkdir(at);
    }
    const KINDS = [
      ["/dev/zero", "a character device"],
      ["FIFO", "a FIFO"],
      ["directory", "a directory"],
    ] as const;

    it.each(KINDS)("a %s as the quote, a collateral file or the policy", async (kind, described) => {
      const col = join(scratch.path, "col");
      await mkdir(col);
      const names = Object.values(TDX_COLLATERAL_FILES);
      for (const name of names) await copyFile(join(FIXTURES, V4, name), join(col, name));
      const bad = join(scratch.path, "bad");
      await special(kind, bad);
      const cases: [string[], string][] = [
        [["--quote", bad, "--collateral", col], `quote ${bad}`],
        [["--quote", `${V4}/quote.bin`, "--collateral", col, "--policy", bad], `policy file ${bad}`],
      ];
      for (const name of [names[0]!, names[names.length - 1]!]) {
        const dir = join(scratch.path, `col-${name}`);
        await mkdir(dir);
        for (const n of names) if (n !== name) await copyFile(join(FIXTURES, V4, n), join(dir, n));
        await special(kind, join(dir, name));
        cases.push([["--quote", `${V4}/quote.bin`, "--collateral", dir], `collateral file ${join(dir, name)}`]);
      }
      for (const [args, what] of cases) {
        const r = await run([...args, "--at", V4_AT]);
        expect([r.code, r.stdout]).toEqual([2, ""]);
        expect(r.stderr).toBe(`signet: ${what} is not a regular file (${described}) (see 'signet verify tdx --help')\n`);
      }
    }, 5000);

    it("a quote or a collateral file over 1 MiB is refused by its size", async () => {
      const quote = join(scratch.path, "quote.bin");
      await writeFile(quote, "");
      await truncate(quote, 1024 * 1024 + 1);
      const r = await run(["--quote", quote, "--collateral", V4, "--at", V4_AT]);
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(/is larger than 1048576 bytes/);
    });
  });
});

describe("signet verify tdx: --report-data and --init-data-digest (the contract's binding)", () => {
  const args = ["--quote", `${V4}/quote.bin`, "--collateral", V4, "--at", V4_AT];
  // The quote's REPORTDATA is all zero, so any digest of zeros binds and anything else does not.
  it.each<[string, string[], number, string | true]>([
    ["a zero digest of 48 bytes", ["--report-data", "00".repeat(48)], 0, true],
    ["a zero MRCONFIGID digest", ["--init-data-digest", "00".repeat(48)], 0, true],
    ["a non-zero report data", ["--report-data", "01"], 1, "report_data_mismatch"],
    ["a non-zero init-data digest", ["--init-data-digest", "00".repeat(47) + "01"], 1, "init_data_mismatch"],
  ])("%s → exit %i", async (_what, extra, exit, result) => {
    const r = await run([...args, ...extra]);
    expect(r.code).toBe(exit);
    const o = outcome(r.stdout);
    expect(result === true ? o.ok : o.error).toBe(result);
  });

  it("bad hex is a usage error (exit 2)", async () => {
    const r = await run([...args, "--init-data-digest", "0x00"]);
    expect([r.code, r.stdout]).toEqual([2, ""]);
  });
});
