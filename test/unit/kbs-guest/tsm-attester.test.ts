/**
 * The configfs-tsm attester (src/node/attesters/tsm.ts) against the fake configfs tree of
 * fake-configfs.ts, with real evidence as the TSM's answer (an SNP report and a TDX quote from
 * test/fixtures, their REPORT_DATA set to what was written, as the hardware would): the evidence JSON,
 * the order of the kernel calls, provider mismatch, generation races, a missing tsm directory, and
 * the entry removed whatever happened.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { detectTsmTee, nodeTsmFiles, tsmAttester, type TsmAttesterOptions } from "../../../src/node/attesters/tsm";
import { buildCertTable, CERT_TABLE_GUIDS } from "../../../src/lib/attestation/collateral/snp-cert-table";
import { parseSnpEvidence, parseSnpReport, snpEvidenceJson } from "../../../src/lib/attestation/snp";
import { parseTdxEvidence, parseTdxQuote, tdxEvidenceJson } from "../../../src/lib/attestation/tdx";
import { fromPemAll } from "../../../src/lib/encoding";
import { expectedReportData } from "../../../src/lib/kbs";
import { runHandshake, type GuestError } from "../../../src/lib/kbs/guest";
import { ok, type Result } from "../../../src/lib/result";
import { FakeKbs } from "./fake-kbs";
import { FakeConfigfs } from "./fake-configfs";

const SNP_DIR = "test/fixtures/snp/oak-milan-v3";
const SNP_REPORT = new Uint8Array(readFileSync(`${SNP_DIR}/report.bin`));
const VCEK = new Uint8Array(readFileSync(`${SNP_DIR}/vcek.der`));
const [ASK, ARK] = [fromPemAll(readFileSync(`${SNP_DIR}/ask.pem`, "utf8"), "CERTIFICATE")![0]!, fromPemAll(readFileSync(`${SNP_DIR}/ark.pem`, "utf8"), "CERTIFICATE")![0]!];
const TDX_QUOTE = new Uint8Array(readFileSync("test/fixtures/tdx/google-v4-50806f-spr-e4/quote.bin"));
const UNKNOWN_GUID = "00112233-4455-6677-8899-aabbccddeeff";
const CERT_TABLE = buildCertTable([
  [CERT_TABLE_GUIDS.vcek, VCEK],
  [CERT_TABLE_GUIDS.ask, ASK],
  [CERT_TABLE_GUIDS.ark, ARK],
  [UNKNOWN_GUID, new Uint8Array([1, 2, 3])],
]);
const DIGEST = new Uint8Array(48).map((_, i) => i + 1);
const INBLOB = new Uint8Array(64);
INBLOB.set(DIGEST);

/** What the SEV guest driver answers: the report with REPORT_DATA = inblob. */
function snpReportFor(inblob: Uint8Array): Uint8Array {
  const out = SNP_REPORT.slice();
  out.set(inblob, 0x50);
  return out;
}

/** What the TDX quote generation service answers: the quote with REPORTDATA = inblob. */
function tdxQuoteFor(inblob: Uint8Array): Uint8Array {
  const out = TDX_QUOTE.slice();
  const quote = parseTdxQuote(out);
  if (!quote.ok) throw new Error(quote.error.detail);
  quote.value.body.reportData.set(inblob);
  return out;
}

let base: string;
let fs: FakeConfigfs;
const warnings: string[] = [];
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "signet-tsm-"));
  fs = await new FakeConfigfs(base).create();
  fs.report = (inblob) => ({ outblob: snpReportFor(inblob), auxblob: CERT_TABLE });
  warnings.length = 0;
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const options = (tee: "snp" | "tdx", more: Partial<TsmAttesterOptions> = {}): TsmAttesterOptions => ({ tee, root: fs.root, files: fs, warn: (m) => void warnings.push(m), ...more });
const evidence = (tee: "snp" | "tdx", more: Partial<TsmAttesterOptions> = {}) => tsmAttester(options(tee, more)).evidence(DIGEST);

function failed<T>(r: Result<T, GuestError>): GuestError {
  if (r.ok) throw new Error("expected a failure");
  return r.error;
}

describe("SNP through configfs-tsm", () => {
  it("writes privlevel 0 and the padded digest, reads report and certificate table, and builds the evidence JSON", async () => {
    const r = await evidence("snp");
    const report = parseSnpReport(snpReportFor(INBLOB));
    if (!report.ok) throw new Error(report.error.detail);
    const chain = [
      { certType: "VCEK", data: VCEK },
      { certType: "ASK", data: ASK },
      { certType: "ARK", data: ARK },
    ];
    expect(r).toEqual(snpEvidenceJson(report.value, chain));
    expect(fs.writes).toEqual(["privlevel=300a", `inblob=${Buffer.from(INBLOB).toString("hex")}`]);
    expect(fs.made).toHaveLength(1);
    expect(fs.made[0]).toMatch(new RegExp(`/signet-${process.pid}-[0-9a-f]{8}$`));
    expect(await fs.entries()).toEqual([]);
  });

  it("evidence the key broker's parser rebuilds into the very report the TSM gave", async () => {
    const r = await evidence("snp");
    const parsed = parseSnpEvidence(r.ok ? r.value : undefined);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    expect(parsed.value.report).toEqual(snpReportFor(INBLOB));
    expect(parsed.value.certChain?.map((e) => e.certType)).toEqual(["VCEK", "ASK", "ARK"]);
  });

  it("an empty auxblob (the host supplied no certificates) is cert_chain null", async () => {
    fs.report = (inblob) => ({ outblob: snpReportFor(inblob), auxblob: new Uint8Array(0) });
    const r = await evidence("snp");
    expect(r.ok && (r.value as { cert_chain: unknown }).cert_chain).toBeNull();
  });

  it("a privlevel the kernel refuses (privlevel_floor above 0) is a clear error, and the entry goes", async () => {
    fs.privlevelFloor = 1;
    expect(failed(await evidence("snp"))).toEqual({
      reason: "evidence_unavailable",
      detail: "the kernel refuses privlevel 0 (see privlevel_floor): this guest cannot make the VMPL 0 report a key broker requires",
    });
    expect(await fs.entries()).toEqual([]);
  });
});

describe("TDX through configfs-tsm", () => {
  it("writes only inblob (no privlevel attribute on tdx_guest), reads the quote, no auxblob", async () => {
    fs.provider = "tdx_guest";
    const read: string[] = [];
    fs.beforeRead = (name) => void read.push(name);
    fs.report = (inblob) => ({ outblob: tdxQuoteFor(inblob) });
    const r = await evidence("tdx");
    expect(r).toEqual(ok(tdxEvidenceJson(tdxQuoteFor(INBLOB))));
    expect(parseTdxEvidence(r.ok ? r.value : undefined)).toEqual(ok(tdxQuoteFor(INBLOB)));
    expect(fs.writes).toEqual([`inblob=${Buffer.from(INBLOB).toString("hex")}`]);
    expect(read).toEqual(["provider", "generation", "outblob", "generation"]);
    expect(await fs.entries()).toEqual([]);
  });
});

describe("refusals and races", () => {
  it.each([
    ["snp", "tdx_guest", "the configfs-tsm provider is 'tdx_guest', not sev_guest: this guest is not snp (use --tee tdx)"],
    ["tdx", "sev_guest", "the configfs-tsm provider is 'sev_guest', not tdx_guest: this guest is not tdx (use --tee snp)"],
    ["snp", "arm_cca_guest", "the configfs-tsm provider is 'arm_cca_guest', not sev_guest: this guest is not snp"],
  ] as const)("--tee %s on a %s provider: tee_mismatch before anything is written", async (tee, provider, detail) => {
    fs.provider = provider;
    expect(failed(await evidence(tee))).toEqual({ reason: "tee_mismatch", detail });
    expect(fs.writes).toEqual([]);
    expect(await fs.entries()).toEqual([]);
  });

  it("a racing writer once: the first attempt is thrown away, the second gives our report", async () => {
    let raced = 0;
    fs.beforeRead = async (name, entry) => {
      if (name === "outblob" && raced++ === 0) await fs.racingWrite(entry, new Uint8Array(64).fill(0xee));
    };
    const r = await evidence("snp");
    expect(r.ok && (r.value as { attestation_report: { report_data: number[] } }).attestation_report.report_data).toEqual(Array.from(INBLOB));
    expect([raced, fs.made.length]).toEqual([2, 2]);
    expect(await fs.entries()).toEqual([]);
  });

  it("a writer racing every attempt: evidence_conflict after 3, every entry removed", async () => {
    fs.beforeRead = async (name, entry) => {
      if (name === "auxblob") await fs.racingWrite(entry, new Uint8Array(64).fill(0xee));
    };
    expect(failed(await evidence("snp"))).toEqual({ reason: "evidence_conflict", detail: "generation went from 2 to 3 while the report was read: another writer raced us (3 attempts)" });
    expect(fs.made).toHaveLength(3);
    expect(await fs.entries()).toEqual([]);
  });

  it("a generation that does not count our writes (another writer first, or a write dropped at close) is a conflict", async () => {
    fs.dropInblobWrites = true;
    expect(failed(await evidence("snp"))).toEqual({
      reason: "evidence_conflict",
      detail: "generation is 1 after our 2 write(s): another writer changed the request, or the kernel dropped a write (3 attempts)",
    });
    expect(await fs.entries()).toEqual([]);
  });

  it("a report whose REPORT_DATA is not ours is a conflict too", async () => {
    fs.report = () => ({ outblob: snpReportFor(new Uint8Array(64)), auxblob: CERT_TABLE });
    expect(failed(await evidence("snp"))).toMatchObject({ reason: "evidence_conflict", detail: expect.stringContaining("REPORT_DATA is not what was written") });
    expect(fs.made).toHaveLength(3);
  });

  it("no tsm directory: a clear error, nothing made", async () => {
    const root = join(base, "no", "tsm", "report");
    expect(failed(await evidence("snp", { root }))).toEqual({
      reason: "evidence_unavailable",
      detail: `no configfs-tsm report directory ${root}: this is not an SNP or TDX guest with configfs mounted (mount -t configfs none /sys/kernel/config) and the sev-guest or tdx-guest driver loaded`,
    });
  });

  it("not root: permission denied, said so", async () => {
    fs.mkdirError = "EACCES";
    const e = failed(await evidence("snp"));
    expect(e.reason).toBe("evidence_unavailable");
    expect(e.detail).toMatch(/^permission denied creating .*\/signet-\d+-[0-9a-f]{8}: configfs-tsm reports need root$/);
  });

  const throwOn = (attribute: string | undefined, code: string) => (name: string) => {
    if (attribute === undefined || name === attribute) throw Object.assign(new Error(`${code}: read`), { code });
  };
  const arrangements: readonly (readonly [string, () => void, GuestError["reason"]])[] = [
    ["an outblob read that fails (EIO)", () => void (fs.beforeRead = throwOn("outblob", "EIO")), "evidence_unavailable"],
    ["no TSM provider (ENXIO)", () => void (fs.beforeRead = throwOn(undefined, "ENXIO")), "evidence_unavailable"],
    ["an outblob that is not a report", () => void (fs.report = () => ({ outblob: new Uint8Array(100) })), "evidence_malformed"],
    ["an auxblob that is not a certificate table", () => void (fs.report = (inblob) => ({ outblob: snpReportFor(inblob), auxblob: new Uint8Array(30).fill(1) })), "evidence_malformed"],
    ["a generation that is not a number", () => void (fs.beforeRead = (name, entry) => (name === "generation" ? writeFile(join(entry, "generation"), "x\n") : undefined)), "evidence_unavailable"],
  ];
  it.each(arrangements)("%s fails and still removes the entry", async (_, arrange, reason) => {
    arrange();
    expect(failed(await evidence("snp")).reason).toBe(reason);
    expect(fs.made.length).toBeGreaterThan(0);
    expect(await fs.entries()).toEqual([]);
  });

  it("an entry that cannot be removed is warned about; the evidence still stands", async () => {
    fs.rmdirError = "EBUSY";
    expect((await evidence("snp")).ok).toBe(true);
    expect(warnings).toEqual([expect.stringMatching(/^could not remove .*signet-\d+-[0-9a-f]{8}: EBUSY/)]);
  });

  it("report data longer than 64 bytes is the caller's bug", async () => {
    await expect(tsmAttester(options("snp")).evidence(new Uint8Array(65))).rejects.toThrow(TypeError);
  });
});

describe("the node file operations", () => {
  // configfs (like sysfs) reports a page as every attribute's size and reads short: the size must not
  // decide anything. A sysfs attribute is the nearest real thing a test machine has.
  const SYSFS = "/sys/devices/system/cpu/online";
  it.skipIf(!existsSync(SYSFS))("read an attribute to its real end, whatever its size says", async () => {
    expect((await stat(SYSFS)).size).toBeGreaterThan(256);
    const bytes = await nodeTsmFiles.read(SYSFS, 256);
    expect(Buffer.from(bytes).toString("utf8")).toMatch(/^[0-9,-]+\n$/);
  });

  it("never create an attribute that is not there, and refuse reads past the limit", async () => {
    await expect(nodeTsmFiles.write(join(base, "inblob"), new Uint8Array(64))).rejects.toMatchObject({ code: "ENOENT" });
    expect(existsSync(join(base, "inblob"))).toBe(false);
    await writeFile(join(base, "outblob"), new Uint8Array(100));
    await expect(nodeTsmFiles.read(join(base, "outblob"), 99)).rejects.toMatchObject({ code: "EFBIG" });
    expect((await nodeTsmFiles.read(join(base, "outblob"), 100)).length).toBe(100);
  });
});

describe("detectTsmTee", () => {
  it.each([
    ["sev_guest", ok("snp")],
    ["tdx_guest", ok("tdx")],
  ] as const)("%s → %j", async (provider, expected) => {
    fs.provider = provider;
    expect(await detectTsmTee({ root: fs.root, files: fs })).toEqual(expected);
    expect(fs.writes).toEqual([]);
    expect(await fs.entries()).toEqual([]);
  });

  it("another provider, or none at all", async () => {
    fs.provider = "arm_cca_guest";
    expect(failed(await detectTsmTee({ root: fs.root, files: fs })).reason).toBe("tee_mismatch");
    expect(failed(await detectTsmTee({ root: join(base, "absent"), files: fs })).reason).toBe("evidence_unavailable");
  });
});

describe("through the handshake", () => {
  it("the digest bound is the key broker's H(JCS(runtime data)), zero-padded into REPORT_DATA", async () => {
    const kbs = new FakeKbs();
    const r = await runHandshake({ server: "http://kbs.test", fetch: kbs.fetch, attester: tsmAttester(options("snp")) });
    expect(r.ok).toBe(true);
    const a = kbs.attestations[0]!;
    const digest = await expectedReportData({ nonce: a.runtimeData.nonce, teePubKey: a.runtimeData.teePubKey, additionalEvidence: "" }, "sha384");
    const parsed = parseSnpEvidence(a.teeEvidence.primaryEvidence);
    if (!parsed.ok) throw new Error(parsed.error.detail);
    const padded = new Uint8Array(64);
    padded.set(digest);
    expect(parsed.value.report.subarray(0x50, 0x90)).toEqual(padded);
  });
});
