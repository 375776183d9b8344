/**
 * Init-data: TOML parsing, the digest over the whole text, its binding into HOST_DATA and
 * MRCONFIGID, the claims (TOML members as JSON, the agent policy's data), every refusal, and a fuzz
 * over thousands of mutated documents (never throws).
 */
import { describe, expect, it } from "vitest";
import { checkBinding } from "../../../src/lib/attestation";
import { utf8 } from "../../../src/lib/encoding";
import type { KbsFailureReason } from "../../../src/lib/kbs/errors";
import {
  extractPolicyData,
  INIT_DATA_MAX_BYTES,
  initDataClaims,
  initDataDigest,
  parseInitData,
  type InitData,
} from "../../../src/lib/kbs/init-data";
import { fuzz, mutateText } from "./kbs-fixtures";

const POLICY = `package agent_policy

default CreateContainerRequest := false

CreateContainerRequest if {
    some p in policy_data.containers
}

policy_data := {
  "containers": [{"image": "pause"}],
  "common": {"cpath": "/run/kata-containers/shared/containers"},
  "request_defaults": {"ExecProcessRequest": {"allowed_commands": []}}
}
`;

const TOML = `version = "0.1.0"
algorithm = "sha384"

[data]
"aa.toml" = '''
[token_configs]
[token_configs.kbs]
url = "http://10.0.0.1:8080"
'''
"cdh.toml" = '''
socket = 'unix:///run/confidential-containers/cdh.sock'
credentials = []
[kbc]
name = "cc_kbc"
url = "http://10.0.0.1:8080"
when = 1979-05-27T07:32:00Z
big = 9223372036854775807
ratio = nan
'''
"policy.rego" = '''
${POLICY}'''
"plain" = "not toml: ["
`;

function parsed(body: string, format = "toml"): InitData {
  const r = parseInitData({ format, body });
  if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.detail}`);
  return r.value;
}

describe("parseInitData and the digest", () => {
  it("reads version, algorithm and the data map", () => {
    const init = parsed(TOML);
    expect(init.version).toBe("0.1.0");
    expect(init.algorithm).toBe("sha384");
    expect(Object.keys(init.data).sort()).toEqual(["aa.toml", "cdh.toml", "plain", "policy.rego"]);
    expect(init.body).toBe(TOML);
  });

  it.each(["sha256", "sha384", "sha512"] as const)("%s over the whole text's UTF-8 bytes", async (alg) => {
    const body = `algorithm = "${alg}"\nversion = "0.1.0"\n[data]\n"k" = "välue"\n`;
    const digest = await initDataDigest(parsed(body));
    const name = { sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" }[alg];
    expect(digest).toEqual(new Uint8Array(await crypto.subtle.digest(name, utf8(body))));
  });

  // The comparison is the verifiers' one binding rule (lib/attestation/report-data.ts).
  const zeros = new Uint8Array(64);
  const initDataBinds = (field: Uint8Array, digest: Uint8Array) =>
    checkBinding(field.length === 32 ? "snp" : "tdx", { reportData: zeros, initData: field }, { expectedReportData: zeros, expectedInitDataDigest: digest }).ok;

  it("binds SNP HOST_DATA (32 bytes: a sha384 digest truncated) and TDX MRCONFIGID (48 bytes: a sha256 digest padded)", async () => {
    const d384 = await initDataDigest(parsed(TOML));
    expect(initDataBinds(d384.slice(0, 32), d384)).toBe(true);
    const hostData = d384.slice(0, 32);
    hostData[31]! ^= 1;
    expect(initDataBinds(hostData, d384)).toBe(false);
    const d256 = await initDataDigest(parsed(TOML.replace('"sha384"', '"sha256"')));
    const mrConfigId = new Uint8Array(48);
    mrConfigId.set(d256);
    expect(initDataBinds(mrConfigId, d256)).toBe(true);
    mrConfigId[40] = 1;
    expect(initDataBinds(mrConfigId, d256)).toBe(false);
  });

  it("an empty data table and unknown top-level members are fine (serde ignores them)", () => {
    const init = parsed('version = "0.1.0"\nalgorithm = "sha256"\nextra = 1\n[data]\n');
    expect(init.data).toEqual({});
  });
});

describe("refusals, each with its reason", () => {
  const ok = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\nk = "v"\n';
  const cases: [string, string, string, KbsFailureReason][] = [
    ["format json", "json", ok, "unsupported_init_data_format"],
    ["format TOML (case matters)", "TOML", ok, "unsupported_init_data_format"],
    ["format empty", "", ok, "unsupported_init_data_format"],
    ["algorithm sm3 (no WebCrypto)", "toml", ok.replace("sha256", "sm3"), "unsupported_init_data_algorithm"],
    ["algorithm SHA256 (serde names are lowercase)", "toml", ok.replace("sha256", "SHA256"), "unsupported_init_data_algorithm"],
    ["algorithm sha-256 (IANA spelling)", "toml", ok.replace("sha256", "sha-256"), "unsupported_init_data_algorithm"],
    ["algorithm md5", "toml", ok.replace("sha256", "md5"), "unsupported_init_data_algorithm"],
    ["algorithm a number", "toml", ok.replace('"sha256"', "256"), "malformed_init_data"],
    ["version missing", "toml", ok.replace('version = "0.1.0"\n', ""), "malformed_init_data"],
    ["version a number", "toml", ok.replace('"0.1.0"', "1"), "malformed_init_data"],
    ["data missing", "toml", 'version = "0.1.0"\nalgorithm = "sha256"\n', "malformed_init_data"],
    ["data a string", "toml", 'version = "0.1.0"\nalgorithm = "sha256"\ndata = "x"\n', "malformed_init_data"],
    ["a data value that is not a string", "toml", ok.replace('k = "v"', "k = 1"), "malformed_init_data"],
    ["a nested table in data", "toml", `${ok}[data.sub]\nx = "y"\n`, "malformed_init_data"],
    ["not TOML", "toml", "version = ", "malformed_init_data"],
    ["a redefined key", "toml", `${ok}k = "w"\n`, "malformed_init_data"],
    ["a lone surrogate", "toml", `${ok}z = "\ud800"\n`, "malformed_init_data"],
    ["one byte over the limit", "toml", `${ok}#${"x".repeat(INIT_DATA_MAX_BYTES - ok.length)}`, "init_data_too_large"],
    ["over the limit in UTF-8 bytes only", "toml", `${ok}#${"é".repeat((INIT_DATA_MAX_BYTES - ok.length) / 2 + 1)}`, "init_data_too_large"],
  ];

  it.each(cases)("%s → %s", (_, format, body, reason) => {
    const r = parseInitData({ format, body });
    expect(r.ok ? "accepted" : r.error.reason).toBe(reason);
  });

  it("exactly at the limit is accepted", () => {
    const body = `${ok}#${"x".repeat(INIT_DATA_MAX_BYTES - ok.length - 1)}`;
    expect(utf8(body).length).toBe(INIT_DATA_MAX_BYTES);
    expect(parseInitData({ format: "toml", body }).ok).toBe(true);
  });

  it("deep inline nesting is refused, not a stack overflow", () => {
    const deep = `${ok}[x]\ny = ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`;
    const r = parseInitData({ format: "toml", body: deep });
    expect(!r.ok && r.error.reason).toBe("malformed_init_data");
  });
});

describe("initDataClaims", () => {
  const claims = initDataClaims(parsed(TOML));

  it("aa.toml and cdh.toml become JSON", () => {
    expect(claims["aa.toml"]).toEqual({ token_configs: { kbs: { url: "http://10.0.0.1:8080" } } });
    expect(claims["cdh.toml"]).toEqual({
      socket: "unix:///run/confidential-containers/cdh.sock",
      credentials: [],
      kbc: { name: "cc_kbc", url: "http://10.0.0.1:8080", when: "1979-05-27T07:32:00.000Z", big: "9223372036854775807", ratio: null },
    });
  });

  it("policy.rego is replaced by agent_policy_claims, the JSON after `policy_data := {`", () => {
    expect(claims["policy.rego"]).toBeUndefined();
    expect(claims.agent_policy_claims).toEqual({
      containers: [{ image: "pause" }],
      common: { cpath: "/run/kata-containers/shared/containers" },
      request_defaults: { ExecProcessRequest: { allowed_commands: [] } },
    });
  });

  it("other members stay strings; the claims are plain JSON", () => {
    expect(claims.plain).toBe("not toml: [");
    expect(JSON.parse(JSON.stringify(claims))).toEqual(claims);
  });

  it("members that do not convert are kept as they were", () => {
    const body = `version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"cdh.toml" = "[broken"\n"aa.toml" = "a = ${"[".repeat(100)}${"]".repeat(100)}"\n"policy.rego" = "package x\\npolicy_data := {\\"a\\": 1}\\nallow := true"\n`;
    const c = initDataClaims(parsed(body));
    expect(c).toEqual({ "cdh.toml": "[broken", "aa.toml": `a = ${"[".repeat(100)}${"]".repeat(100)}`, "policy.rego": 'package x\npolicy_data := {"a": 1}\nallow := true' });
  });

  it.each([
    ["no policy_data", "package x\nallow := true", undefined],
    ["policy_data not last", 'policy_data := {"a": 1}\nallow := true', undefined],
    ["trailing whitespace is fine", 'policy_data := {"a": 1}\n\n', { a: 1 }],
    ["nested too deep", `policy_data := {"a": ${"[".repeat(100)}${"]".repeat(100)}}`, undefined],
    ["a lone surrogate escape", 'policy_data := {"a": "\\ud800"}', undefined],
    ["a __proto__ key stays data", 'policy_data := {"__proto__": {"polluted": true}}', JSON.parse('{"__proto__": {"polluted": true}}') as unknown],
  ])("extractPolicyData: %s", (_, rego, want) => {
    expect(extractPolicyData(rego)).toEqual(want);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("fuzz: parseInitData and initDataClaims never throw", () => {
  const POOL = ['"', "'", "[", "]", "=", "\n", "\\", "{", "}", ".", "#", "x", "1", "é", "\u0000"];

  it("3,000 mutated documents: a Result every time, and claims for every accepted one", () => {
    const mutated = (rand: () => number): string => {
      let body = TOML;
      const edits = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < edits; j++) body = mutateText(body, rand, POOL);
      return body;
    };
    const t = fuzz(3000, 0x1d47a, (rand) => parseInitData({ format: "toml", body: mutated(rand) }), (init) => JSON.stringify(initDataClaims(init)));
    expect(t.runs).toBe(3000);
    expect(t.accepted).toBeGreaterThan(0);
    expect(t.reasons.get("malformed_init_data")).toBeGreaterThan(0);
    for (const reason of t.reasons.keys()) expect(["malformed_init_data", "unsupported_init_data_algorithm", "init_data_too_large"]).toContain(reason);
    expect(t.accepted + [...t.reasons.values()].reduce((a, b) => a + b, 0)).toBe(3000);
  });
});
