/**
 * The Workload API messages (proto/workload.proto) on the wire: responses encoded, requests decoded.
 * Field numbers are the standard's (specs/spiffe.md §1.6); the codec test checks them against the
 * .proto through an independent protobuf library.
 */
import { decodeString, ProtobufError, ProtobufWriter, readFields } from "./protobuf";

export interface X509SvidMessage {
  readonly spiffeId: string;
  /** Concatenated DER, leaf first. */
  readonly x509Svid: Uint8Array;
  /** PKCS#8 DER. */
  readonly x509SvidKey: Uint8Array;
  /** Concatenated DER of the own trust domain's authorities. */
  readonly bundle: Uint8Array;
  readonly hint: string;
}

export interface JwtSvidMessage {
  readonly spiffeId: string;
  readonly svid: string;
  readonly hint: string;
}

export interface JwtSvidRequest {
  readonly audience: readonly string[];
  readonly spiffeId: string;
}

export interface ValidateJwtSvidRequest {
  readonly audience: string;
  readonly svid: string;
}

/** A JSON value as google.protobuf.Value can carry it. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

function bytesMap(w: ProtobufWriter, field: number, map: ReadonlyMap<string, Uint8Array>): void {
  for (const [key, value] of map) {
    w.message(field, new ProtobufWriter(key.length + value.length + 16).bytesAlways(1, Buffer.from(key, "utf8")).bytesAlways(2, value).finish());
  }
}

export function encodeX509SvidResponse(svids: readonly X509SvidMessage[], federatedBundles: ReadonlyMap<string, Uint8Array>): Buffer {
  const w = new ProtobufWriter(1024);
  for (const s of svids) {
    const m = new ProtobufWriter(s.x509Svid.length + s.x509SvidKey.length + s.bundle.length + 256)
      .string(1, s.spiffeId)
      .bytes(2, s.x509Svid)
      .bytes(3, s.x509SvidKey)
      .bytes(4, s.bundle)
      .string(5, s.hint);
    w.message(1, m.finish());
  }
  bytesMap(w, 3, federatedBundles);
  return w.finish();
}

export function encodeX509BundlesResponse(bundles: ReadonlyMap<string, Uint8Array>): Buffer {
  const w = new ProtobufWriter(2048);
  bytesMap(w, 2, bundles);
  return w.finish();
}

export function encodeJwtBundlesResponse(bundles: ReadonlyMap<string, Uint8Array>): Buffer {
  const w = new ProtobufWriter(2048);
  bytesMap(w, 1, bundles);
  return w.finish();
}

export function encodeJwtSvidResponse(svids: readonly JwtSvidMessage[]): Buffer {
  const w = new ProtobufWriter(1024);
  for (const s of svids) w.message(1, new ProtobufWriter(s.svid.length + 256).string(1, s.spiffeId).string(2, s.svid).string(3, s.hint).finish());
  return w.finish();
}

function encodeValue(v: JsonValue): Buffer {
  const w = new ProtobufWriter(64);
  if (v === null) w.varint(1, 0, true);
  else if (typeof v === "number") w.double(2, v, true);
  else if (typeof v === "string") w.bytesAlways(3, Buffer.from(v, "utf8"));
  else if (typeof v === "boolean") w.varint(4, v ? 1 : 0, true);
  else if (Array.isArray(v)) {
    const list = new ProtobufWriter(64);
    for (const item of v as readonly JsonValue[]) list.message(1, encodeValue(item));
    w.message(6, list.finish());
  } else w.message(5, encodeStruct(v as { readonly [k: string]: JsonValue }));
  return w.finish();
}

/** google.protobuf.Struct: `map<string, Value> fields = 1`. */
export function encodeStruct(obj: { readonly [k: string]: JsonValue }): Buffer {
  const w = new ProtobufWriter(256);
  for (const [key, value] of Object.entries(obj)) {
    w.message(1, new ProtobufWriter(64).bytesAlways(1, Buffer.from(key, "utf8")).message(2, encodeValue(value)).finish());
  }
  return w.finish();
}

export function encodeValidateJwtSvidResponse(spiffeId: string, claims: { readonly [k: string]: JsonValue }): Buffer {
  return new ProtobufWriter(512).string(1, spiffeId).message(2, encodeStruct(claims)).finish();
}

/** Requests without fields (X509SVIDRequest, X509BundlesRequest, JWTBundlesRequest, WIT*): well-formed is all. */
export function decodeEmptyRequest(buf: Uint8Array): Record<string, never> {
  readFields(buf);
  return {};
}

export function decodeJwtSvidRequest(buf: Uint8Array): JwtSvidRequest {
  const audience: string[] = [];
  let spiffeId = "";
  for (const f of readFields(buf)) {
    if (f.field === 1) audience.push(decodeString(f));
    else if (f.field === 2) spiffeId = decodeString(f);
  }
  return { audience, spiffeId };
}

export function decodeValidateJwtSvidRequest(buf: Uint8Array): ValidateJwtSvidRequest {
  let audience = "";
  let svid = "";
  for (const f of readFields(buf)) {
    if (f.field === 1) audience = decodeString(f);
    else if (f.field === 2) svid = decodeString(f);
  }
  return { audience, svid };
}

export { ProtobufError };
