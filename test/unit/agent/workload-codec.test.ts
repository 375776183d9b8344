/**
 * The hand-written codec (src/agent/workload/messages.ts) against the .proto read by an independent
 * protobuf implementation (protobufjs through @grpc/proto-loader): every response we encode decodes
 * to the same values there, and every request it encodes decodes to the same values here.
 */
import { loadSync, type MethodDefinition } from "@grpc/proto-loader";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  decodeJwtSvidRequest,
  decodeValidateJwtSvidRequest,
  decodeEmptyRequest,
  encodeJwtBundlesResponse,
  encodeJwtSvidResponse,
  encodeValidateJwtSvidResponse,
  encodeX509BundlesResponse,
  encodeX509SvidResponse,
  ProtobufError,
} from "../../../src/agent/workload/messages";
import { WORKLOAD_API_SERVICE } from "../../../src/agent/workload/service";

const definition = loadSync(join(import.meta.dirname, "../../../src/agent/workload/proto/workload.proto"), { keepCase: true, longs: Number, bytes: Buffer, defaults: true, objects: true, arrays: true, oneofs: true });
const service = definition.SpiffeWorkloadAPI as Record<string, MethodDefinition<unknown, unknown>>;
const rpc = (name: string) => service[name]!;
const bytes = (s: string) => Buffer.from(s);

describe("Workload API codec against the .proto", () => {
  it("the service has the standard's seven RPCs, paths without a package, and the same streaming kinds as ours", () => {
    expect(Object.keys(service).sort()).toEqual(Object.keys(WORKLOAD_API_SERVICE).sort());
    expect(Object.keys(service)).toHaveLength(7);
    for (const [name, ours] of Object.entries(WORKLOAD_API_SERVICE)) {
      const theirs = rpc(name);
      expect([theirs.path, theirs.requestStream, theirs.responseStream]).toEqual([ours.path, ours.requestStream, ours.responseStream]);
      expect(ours.path).toBe(`/SpiffeWorkloadAPI/${name}`);
    }
  });

  it("X509SVIDResponse", () => {
    const encoded = encodeX509SvidResponse(
      [
        { spiffeId: "spiffe://example.org/a", x509Svid: bytes("leafint"), x509SvidKey: bytes("pkcs8"), bundle: bytes("ca"), hint: "internal" },
        { spiffeId: "spiffe://example.org/b", x509Svid: bytes("leaf2"), x509SvidKey: bytes("k2"), bundle: bytes("ca"), hint: "" },
      ],
      new Map([["spiffe://peer.example", bytes("peer-ca")], ["spiffe://other.example", bytes("x")]]),
    );
    expect(rpc("FetchX509SVID").responseDeserialize(encoded)).toEqual({
      svids: [
        { spiffe_id: "spiffe://example.org/a", x509_svid: bytes("leafint"), x509_svid_key: bytes("pkcs8"), bundle: bytes("ca"), hint: "internal" },
        { spiffe_id: "spiffe://example.org/b", x509_svid: bytes("leaf2"), x509_svid_key: bytes("k2"), bundle: bytes("ca"), hint: "" },
      ],
      crl: [],
      federated_bundles: { "spiffe://peer.example": bytes("peer-ca"), "spiffe://other.example": bytes("x") },
    });
  });

  it("X509BundlesResponse, JWTBundlesResponse, JWTSVIDResponse", () => {
    const m = new Map([["spiffe://example.org", bytes("der")]]);
    expect(rpc("FetchX509Bundles").responseDeserialize(encodeX509BundlesResponse(m))).toEqual({ crl: [], bundles: { "spiffe://example.org": bytes("der") } });
    expect(rpc("FetchJWTBundles").responseDeserialize(encodeJwtBundlesResponse(new Map([["spiffe://example.org", bytes('{"keys":[]}')]])))).toEqual({ bundles: { "spiffe://example.org": bytes('{"keys":[]}') } });
    expect(rpc("FetchJWTSVID").responseDeserialize(encodeJwtSvidResponse([{ spiffeId: "spiffe://example.org/a", svid: "h.c.s", hint: "ü" }]))).toEqual({ svids: [{ spiffe_id: "spiffe://example.org/a", svid: "h.c.s", hint: "ü" }] });
  });

  it("ValidateJWTSVIDResponse with every kind of google.protobuf.Value", () => {
    const claims = { sub: "spiffe://example.org/a", aud: ["x", "y"], exp: 1767225600, frac: -1.5, zero: 0, t: true, f: false, n: null, obj: { nested: [1, "two", { three: 3 }] }, empty: {}, list: [] };
    const decoded = rpc("ValidateJWTSVID").responseDeserialize(encodeValidateJwtSvidResponse("spiffe://example.org/a", claims)) as { spiffe_id: string; claims: { fields: Record<string, unknown> } };
    expect(decoded.spiffe_id).toBe("spiffe://example.org/a");
    // Struct → plain JSON, the way every protobuf library's JSON mapping reads it.
    // (protobufjs names the nested well-known types' members in camelCase whatever keepCase says.)
    const toJson = (v: Record<string, unknown>): unknown => {
      const kind = (v.kind as string).replace(/_(.)/g, (_m, c: string) => c.toUpperCase());
      const value = v[kind] ?? v[v.kind as string];
      if (kind === "nullValue") return null;
      if (kind === "structValue") return Object.fromEntries(Object.entries((value as { fields: Record<string, Record<string, unknown>> }).fields).map(([k, x]) => [k, toJson(x)]));
      if (kind === "listValue") return (value as { values: Record<string, unknown>[] }).values.map(toJson);
      return value;
    };
    const json = toJson({ kind: "struct_value", struct_value: decoded.claims });
    expect(json).toEqual(claims);
  });

  it("requests encoded by protobufjs decode to the same values", () => {
    const jwt = rpc("FetchJWTSVID").requestSerialize({ audience: ["a", "b"], spiffe_id: "spiffe://example.org/x" });
    expect(decodeJwtSvidRequest(jwt)).toEqual({ audience: ["a", "b"], spiffeId: "spiffe://example.org/x" });
    expect(decodeJwtSvidRequest(Buffer.alloc(0))).toEqual({ audience: [], spiffeId: "" });
    const v = rpc("ValidateJWTSVID").requestSerialize({ audience: "db", svid: "h.c.s" });
    expect(decodeValidateJwtSvidRequest(v)).toEqual({ audience: "db", svid: "h.c.s" });
    expect(decodeEmptyRequest(rpc("FetchX509SVID").requestSerialize({}))).toEqual({});
    // Unknown fields are skipped (proto3); a WITSVIDRequest's spiffe_id is one for the empty decoder.
    expect(decodeEmptyRequest(rpc("FetchWITSVID").requestSerialize({ spiffe_id: "spiffe://example.org/x" }))).toEqual({});
  });

  it.each([
    ["a truncated varint", [0x0a, 0x80]],
    ["a length past the end", [0x0a, 0x05, 0x61]],
    ["wire type 3 (groups)", [0x0b]],
    ["field number 0", [0x02, 0x00]],
    ["an over-long varint", [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ["a string that is not UTF-8", [0x0a, 0x02, 0xc3, 0x28]],
    ["a string field sent as a varint", [0x08, 0x01]],
  ])("refuses %s", (_name, input) => {
    expect(() => decodeJwtSvidRequest(Buffer.from(input))).toThrow(ProtobufError);
  });
});
