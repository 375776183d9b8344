/**
 * The client's side of the Workload API messages (proto/workload.proto): requests encoded, responses
 * decoded. The server's side is workload/messages.ts; both use the same wire primitives
 * (workload/protobuf.ts) and the standard's field numbers. Decoding is strict about types (a string
 * must be UTF-8, a map entry must have its key) and skips unknown fields, as proto3 requires; bytes
 * that are not the message throw ProtobufError, which the CLI reports as an unreadable answer.
 */
import { decodeString, ProtobufError, ProtobufWriter, readFields, type ProtobufField } from "./workload/protobuf";
import type { JsonValue } from "./workload/messages";

export { ProtobufError };

export interface X509SvidEntry {
  readonly spiffeId: string;
  /** Concatenated DER, leaf first. */
  readonly x509Svid: Uint8Array;
  /** PKCS#8 DER. */
  readonly x509SvidKey: Uint8Array;
  /** Concatenated DER of the trust domain's authorities. */
  readonly bundle: Uint8Array;
  readonly hint: string;
}

export interface X509SvidResponse {
  readonly svids: readonly X509SvidEntry[];
  readonly crl: readonly Uint8Array[];
  /** `spiffe://<td>` → concatenated DER. */
  readonly federatedBundles: ReadonlyMap<string, Uint8Array>;
}

export interface X509BundlesResponse {
  readonly crl: readonly Uint8Array[];
  readonly bundles: ReadonlyMap<string, Uint8Array>;
}

export interface JwtSvidEntry {
  readonly spiffeId: string;
  readonly svid: string;
  readonly hint: string;
}

export interface ValidateJwtSvidResponse {
  readonly spiffeId: string;
  readonly claims: { readonly [k: string]: JsonValue };
}

const EMPTY = new Uint8Array(0);

function bytesOf(f: ProtobufField): Uint8Array {
  if (f.wire !== 2 || !f.bytes) throw new ProtobufError(`field ${f.field} is not length-delimited`);
  return f.bytes;
}

/** A `map<string, bytes>` entry. */
function mapEntry(f: ProtobufField, into: Map<string, Uint8Array>): void {
  let key: string | undefined;
  let value: Uint8Array = EMPTY;
  for (const e of readFields(bytesOf(f))) {
    if (e.field === 1) key = decodeString(e);
    else if (e.field === 2) value = bytesOf(e);
  }
  if (key === undefined) throw new ProtobufError(`a map entry of field ${f.field} has no key`);
  into.set(key, value);
}

export function decodeX509SvidResponse(buf: Uint8Array): X509SvidResponse {
  const svids: X509SvidEntry[] = [];
  const crl: Uint8Array[] = [];
  const federatedBundles = new Map<string, Uint8Array>();
  for (const f of readFields(buf)) {
    if (f.field === 1) {
      let spiffeId = "";
      let hint = "";
      let x509Svid: Uint8Array = EMPTY;
      let x509SvidKey: Uint8Array = EMPTY;
      let bundle: Uint8Array = EMPTY;
      for (const s of readFields(bytesOf(f))) {
        if (s.field === 1) spiffeId = decodeString(s);
        else if (s.field === 2) x509Svid = bytesOf(s);
        else if (s.field === 3) x509SvidKey = bytesOf(s);
        else if (s.field === 4) bundle = bytesOf(s);
        else if (s.field === 5) hint = decodeString(s);
      }
      svids.push({ spiffeId, x509Svid, x509SvidKey, bundle, hint });
    } else if (f.field === 2) crl.push(bytesOf(f));
    else if (f.field === 3) mapEntry(f, federatedBundles);
  }
  return { svids, crl, federatedBundles };
}

export function decodeX509BundlesResponse(buf: Uint8Array): X509BundlesResponse {
  const crl: Uint8Array[] = [];
  const bundles = new Map<string, Uint8Array>();
  for (const f of readFields(buf)) {
    if (f.field === 1) crl.push(bytesOf(f));
    else if (f.field === 2) mapEntry(f, bundles);
  }
  return { crl, bundles };
}

/** JWTBundlesResponse: `spiffe://<td>` → JWKS JSON bytes. */
export function decodeJwtBundlesResponse(buf: Uint8Array): ReadonlyMap<string, Uint8Array> {
  const bundles = new Map<string, Uint8Array>();
  for (const f of readFields(buf)) if (f.field === 1) mapEntry(f, bundles);
  return bundles;
}

export function decodeJwtSvidResponse(buf: Uint8Array): JwtSvidEntry[] {
  const out: JwtSvidEntry[] = [];
  for (const f of readFields(buf)) {
    if (f.field !== 1) continue;
    let spiffeId = "";
    let svid = "";
    let hint = "";
    for (const s of readFields(bytesOf(f))) {
      if (s.field === 1) spiffeId = decodeString(s);
      else if (s.field === 2) svid = decodeString(s);
      else if (s.field === 3) hint = decodeString(s);
    }
    out.push({ spiffeId, svid, hint });
  }
  return out;
}

const MAX_DEPTH = 64;

/** google.protobuf.Value (a oneof: the last member on the wire wins). */
function decodeValue(buf: Uint8Array, depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw new ProtobufError("claims nested too deeply");
  let value: JsonValue = null;
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.wire === 0) value = null;
    else if (f.field === 4 && f.wire === 0) value = f.value !== 0;
    else if (f.field === 2 && f.wire === 1) value = Buffer.from(f.bytes!.buffer, f.bytes!.byteOffset, 8).readDoubleLE(0);
    else if (f.wire === 2) {
      if (f.field === 3) value = decodeString(f);
      else if (f.field === 5) value = decodeStruct(f.bytes!, depth + 1);
      else if (f.field === 6) value = readFields(f.bytes!).filter((e) => e.field === 1).map((e) => decodeValue(bytesOf(e), depth + 1));
    }
  }
  return value;
}

/** google.protobuf.Struct: `map<string, Value> fields = 1`. */
export function decodeStruct(buf: Uint8Array, depth = 0): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const f of readFields(buf)) {
    if (f.field !== 1) continue;
    let key: string | undefined;
    let value: JsonValue = null;
    for (const e of readFields(bytesOf(f))) {
      if (e.field === 1) key = decodeString(e);
      else if (e.field === 2) value = decodeValue(bytesOf(e), depth + 1);
    }
    if (key === undefined) throw new ProtobufError("a claim has no name");
    out[key] = value;
  }
  return out;
}

export function decodeValidateJwtSvidResponse(buf: Uint8Array): ValidateJwtSvidResponse {
  let spiffeId = "";
  let claims: { [k: string]: JsonValue } = {};
  for (const f of readFields(buf)) {
    if (f.field === 1) spiffeId = decodeString(f);
    else if (f.field === 2) claims = decodeStruct(bytesOf(f));
  }
  return { spiffeId, claims };
}

export function encodeJwtSvidRequest(audience: readonly string[], spiffeId: string): Buffer {
  const w = new ProtobufWriter(128);
  for (const a of audience) w.bytesAlways(1, Buffer.from(a, "utf8"));
  return w.string(2, spiffeId).finish();
}

export function encodeValidateJwtSvidRequest(audience: string, svid: string): Buffer {
  return new ProtobufWriter(svid.length + audience.length + 16).string(1, audience).string(2, svid).finish();
}

/** The empty requests (X509SVIDRequest, X509BundlesRequest, JWTBundlesRequest). */
export function encodeEmptyRequest(): Buffer {
  return Buffer.alloc(0);
}
