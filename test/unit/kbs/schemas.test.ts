/**
 * The /kbs/v0 wire schemas (src/workers/schemas/kbs.ts): the 0.4.0 bodies parse into the typed
 * forms, serde's required and optional members are kept, and a refused tee-pubkey carries the
 * library's reason.
 */
import { describe, expect, it } from "vitest";
import { attestationWire, requestWire } from "../../../src/lib/kbs/protocol";
import { KbsAttestationBody, KbsChallengeBody, KbsRequestBody, KbsTokenBody } from "../../../src/workers/schemas/kbs";
import { VECTOR } from "./kbs-fixtures";

const ATTESTATION = {
  "init-data": { format: "toml", body: 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n' },
  "runtime-data": { nonce: VECTOR.nonce, "tee-pubkey": { ...VECTOR.teePubKey, kid: "dropped" } },
  "tee-evidence": { primary_evidence: VECTOR.sampleEvidence, additional_evidence: "" },
  unknown: "ignored",
};

describe("KbsRequestBody", () => {
  it("parses what a guest sends", () => {
    const r = KbsRequestBody.safeParse(requestWire("snp"));
    expect(r.success && r.data).toEqual({ version: "0.4.0", tee: "snp", extraParams: { "supported-hash-algorithms": ["sha256", "sha384", "sha512"] } });
  });

  it("keeps any version string for checkProtocolVersion, and an empty-string extra-params", () => {
    const r = KbsRequestBody.safeParse({ version: "0.3.0", tee: "tdx", "extra-params": "" });
    expect(r.success && r.data).toEqual({ version: "0.3.0", tee: "tdx", extraParams: "" });
  });

  it.each([
    ["an unknown TEE", { version: "0.4.0", tee: "sev", "extra-params": "" }],
    ["no extra-params", { version: "0.4.0", tee: "snp" }],
    ["a numeric version", { version: 4, tee: "snp", "extra-params": "" }],
    ["no version", { tee: "snp", "extra-params": "" }],
  ])("refuses %s", (_, body) => {
    expect(KbsRequestBody.safeParse(body).success).toBe(false);
  });
});

describe("KbsAttestationBody", () => {
  it("parses the 0.4.0 shape into the typed form; the key is the re-serializable typed key", () => {
    const r = KbsAttestationBody.safeParse(ATTESTATION);
    expect(r.success && r.data).toEqual({
      initData: ATTESTATION["init-data"],
      runtimeData: { nonce: VECTOR.nonce, teePubKey: VECTOR.teePubKey },
      teeEvidence: { primaryEvidence: VECTOR.sampleEvidence, additionalEvidence: "" },
    });
  });

  it("init-data may be null or absent", () => {
    for (const initData of [null, undefined]) {
      const r = KbsAttestationBody.safeParse({ ...ATTESTATION, "init-data": initData });
      expect(r.success && r.data.initData).toBe(null);
    }
  });

  it("round-trips through the guest's builder", () => {
    const r = KbsAttestationBody.safeParse(ATTESTATION);
    if (!r.success) throw new Error("unexpected");
    const again = KbsAttestationBody.safeParse(JSON.parse(JSON.stringify(attestationWire(r.data))));
    expect(again.success && again.data).toEqual(r.data);
  });

  it("a refused tee-pubkey carries the library's reason", () => {
    const body = { ...ATTESTATION, "runtime-data": { nonce: VECTOR.nonce, "tee-pubkey": { kty: "RSA", alg: "RSA1_5", n: "AQAB", e: "AQAB" } } };
    const r = KbsAttestationBody.safeParse(body);
    expect(r.success).toBe(false);
    const issue = r.error?.issues[0] as { path: unknown[]; params?: { reason?: string } };
    expect(issue.path).toEqual(["runtime-data", "tee-pubkey"]);
    expect(issue.params?.reason).toBe("rsa1_5_refused");
  });

  it.each([
    ["no runtime-data", { ...ATTESTATION, "runtime-data": undefined }],
    ["no tee-evidence", { ...ATTESTATION, "tee-evidence": undefined }],
    ["no primary_evidence", { ...ATTESTATION, "tee-evidence": { additional_evidence: "" } }],
    ["additional_evidence as an object (it is a JSON string)", { ...ATTESTATION, "tee-evidence": { primary_evidence: {}, additional_evidence: {} } }],
    ["a lone surrogate in additional_evidence", { ...ATTESTATION, "tee-evidence": { primary_evidence: {}, additional_evidence: "\ud800" } }],
    ["a lone surrogate in the nonce", { ...ATTESTATION, "runtime-data": { ...ATTESTATION["runtime-data"], nonce: "\udc00" } }],
    ["init-data without body", { ...ATTESTATION, "init-data": { format: "toml" } }],
    ["the 0.3.0 shape", { "tee-pubkey": VECTOR.teePubKey, "tee-evidence": { primary_evidence: {}, additional_evidence: "" } }],
  ])("refuses %s", (_, body) => {
    expect(KbsAttestationBody.safeParse(body).success).toBe(false);
  });

  it("primary_evidence null is a value (serde_json Value::Null)", () => {
    const r = KbsAttestationBody.safeParse({ ...ATTESTATION, "tee-evidence": { primary_evidence: null, additional_evidence: "" } });
    expect(r.success && r.data.teeEvidence.primaryEvidence).toBe(null);
  });
});

describe("guest-side answers", () => {
  it("a Challenge with Trustee's empty extra-params, and a token", () => {
    expect(KbsChallengeBody.safeParse({ nonce: VECTOR.nonce, "extra-params": "" }).data).toEqual({ nonce: VECTOR.nonce, extraParams: "" });
    expect(KbsChallengeBody.safeParse({ nonce: VECTOR.nonce }).success).toBe(false);
    expect(KbsTokenBody.safeParse({ token: "a.b.c" }).success).toBe(true);
    expect(KbsTokenBody.safeParse({ token: "" }).success).toBe(false);
  });
});
