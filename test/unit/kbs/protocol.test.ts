/**
 * Protocol rules: Trustee's exact version gate and message, TEE names, hash negotiation on both
 * sides, nonces, session ids, and the wire builders.
 */
import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../../src/lib/encoding";
import {
  attestationWire,
  challengeExtraParams,
  challengeWire,
  checkNonce,
  checkProtocolVersion,
  isKbsTee,
  isWellFormedString,
  KBS_PROTOCOL_VERSION,
  KBS_TEES,
  negotiateHash,
  newNonce,
  newSessionId,
  parseSessionId,
  requestWire,
  selectedHashAlgorithm,
  type Nonce,
} from "../../../src/lib/kbs/protocol";
import { VECTOR } from "./kbs-fixtures";

describe("checkProtocolVersion (trustee backend.rs: semver, VersionReq =0.4.0)", () => {
  it("accepts 0.4.0, and 0.4.0 with build metadata (ignored by semver matching)", () => {
    expect(KBS_PROTOCOL_VERSION).toBe("0.4.0");
    expect(checkProtocolVersion("0.4.0")).toEqual({ ok: true, value: undefined });
    expect(checkProtocolVersion("0.4.0+build.7").ok).toBe(true);
  });

  it.each(["0.3.0", "0.4.1", "0.5.0", "1.4.0", "0.4.0-rc1", "0.4.0-alpha.1+b"])("%s is a mismatch, in Trustee's words", (v) => {
    expect(checkProtocolVersion(v)).toEqual({
      ok: false,
      error: { reason: "protocol_version_mismatch", detail: `KBS Client Protocol Version Mismatch: expect =0.4.0 while the request is ${v}` },
    });
  });

  it.each(["", "0.4", "v0.4.0", " 0.4.0", "0.4.0 ", "00.4.0", "0.04.0", "0.4.0-", "0.4.0-01", "0.4.0+", "0.4.0-a..b", "0.4.x", "18446744073709551616.0.0"])(
    "%j does not parse as semver",
    (v) => {
      const r = checkProtocolVersion(v);
      expect(!r.ok && r.error).toEqual({ reason: "malformed_version", detail: "failed to parse KBS version" });
    },
  );

  it.each([null, 4, ["0.4.0"], { version: "0.4.0" }, undefined])("%j is not a version string", (v) => {
    const r = checkProtocolVersion(v);
    expect(!r.ok && r.error.reason).toBe("malformed_version");
  });

  it("u64-sized numbers parse (then mismatch)", () => {
    const r = checkProtocolVersion("18446744073709551615.0.0");
    expect(!r.ok && r.error.reason).toBe("protocol_version_mismatch");
  });
});

describe("TEE names", () => {
  it("are kbs-types 0.18's serde names", () => {
    expect(KBS_TEES).toEqual(["az-snp-vtpm", "az-tdx-vtpm", "nvidia", "sgx", "snp", "tdx", "cca", "csv", "se", "hygondcu", "dpu", "tpm", "sample", "sampledevice"]);
    expect(isKbsTee("snp")).toBe(true);
    expect(isKbsTee("SNP")).toBe(false);
    expect(isKbsTee("sev")).toBe(false);
    expect(isKbsTee(1)).toBe(false);
  });
});

describe("hash negotiation", () => {
  it.each([undefined, null, [], ["sha256"], ["sha512", "sha384"], ["sm3"], "sha512", { x: 1 }])("the server picks sha384 whatever the client lists (%j), as Trustee", (supported) => {
    expect(negotiateHash(supported)).toBe("sha384");
  });

  it("the Challenge says nothing for sha384 (Trustee's empty string) and names any other choice", () => {
    expect(challengeExtraParams("sha384")).toBe("");
    expect(challengeExtraParams("sha512")).toEqual({ "selected-hash-algorithm": "sha512" });
  });

  it.each([
    ["", "sha384"],
    [null, "sha384"],
    [{}, "sha384"],
    [[], "sha384"],
    [{ "selected-hash-algorithm": "sha256" }, "sha256"],
    [{ "selected-hash-algorithm": "SHA512" }, "sha512"],
    [{ "selected-hash-algorithm": "Sha384" }, "sha384"],
  ])("guest side: extra-params %j selects %s", (extra, want) => {
    expect(selectedHashAlgorithm(extra)).toEqual({ ok: true, value: want });
  });

  it.each([{ "selected-hash-algorithm": "" }, { "selected-hash-algorithm": "foo" }, { "selected-hash-algorithm": "sm3" }, { "selected-hash-algorithm": 384 }, { "selected-hash-algorithm": null }])(
    "guest side: %j is an unsupported hash algorithm",
    (extra) => {
      const r = selectedHashAlgorithm(extra);
      expect(!r.ok && r.error.reason).toBe("unsupported_hash_algorithm");
    },
  );
});

describe("nonces and session ids", () => {
  it("a nonce is 32 bytes in standard base64 with padding", () => {
    const seen = new Set<string>();
    let runs = 0;
    for (let i = 0; i < 200; i++, runs++) {
      const n = newNonce();
      expect(n).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(fromBase64(n)!.length).toBe(32);
      seen.add(n);
    }
    expect(runs).toBe(200);
    expect(seen.size).toBe(200);
  });

  it("an injected random source gives the §12 nonce; a wrong-sized one is misuse", () => {
    expect(newNonce((n) => Uint8Array.from({ length: n }, (_, i) => i))).toBe(VECTOR.nonce);
    expect(() => newNonce(() => new Uint8Array(31))).toThrow(TypeError);
  });

  it("a session id is a UUIDv4 in simple form: 32 lowercase hex digits", () => {
    let runs = 0;
    for (let i = 0; i < 200; i++, runs++) {
      const id = newSessionId();
      expect(id).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
      expect(parseSessionId(id)).toEqual({ ok: true, value: id });
    }
    expect(runs).toBe(200);
    expect(newSessionId((n) => new Uint8Array(n).fill(0xff))).toBe("ffffffffffff4fffbfffffffffffffff");
  });

  it.each(["", "ABCDEF0123456789abcdef0123456789", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "g123456789abcdef0123456789abcdef", 7, null])(
    "%j is not a session id",
    (v) => {
      const r = parseSessionId(v);
      expect(!r.ok && r.error.reason).toBe("malformed_session_id");
    },
  );

  it("checkNonce compares the strings exactly", () => {
    const n = VECTOR.nonce as Nonce;
    expect(checkNonce(VECTOR.nonce, n).ok).toBe(true);
    const r = checkNonce(VECTOR.nonce.replace("=", ""), n);
    expect(!r.ok && r.error.reason).toBe("nonce_mismatch");
  });
});

describe("wire builders", () => {
  it("Challenge, Request and Attestation bodies use the kbs-types spellings", () => {
    expect(JSON.stringify(challengeWire({ nonce: VECTOR.nonce as Nonce, extraParams: "" }))).toBe(`{"nonce":"${VECTOR.nonce}","extra-params":""}`);
    expect(requestWire("snp")).toEqual({ version: "0.4.0", tee: "snp", "extra-params": { "supported-hash-algorithms": ["sha256", "sha384", "sha512"] } });
    const body = attestationWire({
      initData: null,
      runtimeData: { nonce: VECTOR.nonce, teePubKey: VECTOR.teePubKey },
      teeEvidence: { primaryEvidence: VECTOR.sampleEvidence, additionalEvidence: "" },
    });
    expect(JSON.stringify(body)).toBe(
      `{"init-data":null,"runtime-data":{"nonce":"${VECTOR.nonce}","tee-pubkey":${JSON.stringify(VECTOR.teePubKey)}},"tee-evidence":{"primary_evidence":${JSON.stringify(VECTOR.sampleEvidence)},"additional_evidence":""}}`,
    );
  });

  it("isWellFormedString finds lone surrogates only", () => {
    expect(isWellFormedString("plain ✓ 😀")).toBe(true);
    expect(isWellFormedString("\ud800")).toBe(false);
    expect(isWellFormedString("x\udc00y")).toBe(false);
  });
});
