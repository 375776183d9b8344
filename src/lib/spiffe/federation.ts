/**
 * SPIFFE federation, consumer side (SPIFFE Trust Domain and Bundle §4, SPIFFE Federation §4-§6;
 * notes in specs/spiffe.md §1.4, §1.5, §2.8): reading a peer's bundle document, when to fetch it
 * again, and whether a fetched bundle may replace the one we hold. Pure; never throws on hostile input.
 *
 * Reading a document (`parsePeerBundle`), all or nothing: a document with one malformed key is refused
 * whole, so a half-read bundle never replaces a good one.
 * - At most MAX_PEER_BUNDLE_BYTES of strict UTF-8 JSON, an object with `keys` (an array, possibly
 *   empty: every key revoked) of at most MAX_PEER_BUNDLE_KEYS members. Unknown set parameters are ignored.
 * - `spiffe_sequence`, `spiffe_refresh_hint`: optional non-negative integers (safe integers: a JSON
 *   number above 2^53 cannot be compared exactly, so it is refused rather than rounded).
 * - A key without `use`, or with a `use` other than `x509-svid` / `jwt-svid`, is ignored (the spec);
 *   so is a key of another `kty` than EC or RSA, and an EC key on a curve other than P-256/P-384
 *   (well formed, but nothing here could verify with it). Those are counted in `ignoredKeys`.
 * - Every key with a recognised use must be public: a private parameter (`d`, `p`, `q`, `dp`, `dq`,
 *   `qi`, `oth`, `k`) refuses the document (a peer leaking its keys is not a peer to trust).
 * - `x509-svid`: exactly one `x5c`, standard base64 DER of a CA certificate (basicConstraints cA)
 *   that our reader parses, whose public key is the JWK's (crv/x/y or n/e).
 * - `jwt-svid`: a `kid` (1-255 characters, unique among the JWT keys), EC (P-256/P-384, point on
 *   the curve) or RSA (2048-8192-bit odd modulus, e = 65537: the same keys lib/x509/spki.ts accepts)
 *   public parameters in unpadded base64url.
 * The result is written in our canonical shape (bundle.ts): public parameters in a fixed order, `use`,
 * `x5c` or `kid`, nothing else, so storing and re-serving it never carries a peer's extra members.
 *
 * Refreshing (`nextRefreshAt`): after a success, in `spiffe_refresh_hint` seconds, clamped to
 * [1 min, 1 h] (1 min is SPIRE's floor; the 1 h ceiling bounds how long a removed key stays trusted
 * here, and polling more often than asked is always allowed since bundle endpoints take anonymous
 * GETs); 5 min without a hint (the spec's default). After n consecutive failures, 1 min × 2^(n-1),
 * capped at 30 min: never aggressive (the spec), never silent for long.
 *
 * Accepting an update (`decideUpdate`). An absent `spiffe_sequence` counts as 0, which is how SPIRE
 * serialises sequence 0 (`omitempty`):
 * - no stored bundle: accept;
 * - a lower sequence than the stored one: refuse (`rollback`): a replayed or stale document;
 * - a higher sequence: accept;
 * - the same sequence and the same keys: `unchanged`;
 * - the same sequence with other keys: if the sequence is 0 the peer does not version its bundle, and
 *   the spec's rule without sequences applies (the newest fetched wins): accept. Otherwise refuse
 *   (`sequence_conflict`). SPIRE just replaces; we do not, because the spec says the sequence changes
 *   on every content change, so equal sequences with different keys mean two diverging producers
 *   (a split deployment behind one URL, or a substituted answer) and flapping between them would
 *   trust each in turn. The stored bundle stays until the peer publishes a higher sequence; an admin
 *   who knows better (a peer rebuilt from scratch) refreshes with `force`, which accepts any valid document.
 */
import { fromBase64, fromUtf8, toBase64, toBase64Url } from "../encoding";
import { err, ok, type Result } from "../result";
import { parseCertificate } from "../x509/cert-reader";
import { decodeUnsignedInteger, readSingle } from "../x509/der-reader";
import { TAG } from "../x509/der-writer";
import { isValidUncompressedPoint } from "../x509/ec-point";
import { isCa } from "../x509/extensions";
import { parseSpki } from "../x509/spki";
import { publicParams, type BundleKey, type PublicJwk, type SpiffeBundleDocument } from "./bundle";

export const MAX_PEER_BUNDLE_BYTES = 256 * 1024;
export const MAX_PEER_BUNDLE_KEYS = 256;
export const MAX_KID_LENGTH = 255;
/** Seconds. */
export const DEFAULT_REFRESH_SECONDS = 300;
export const MIN_REFRESH_SECONDS = 60;
export const MAX_REFRESH_SECONDS = 3600;
export const FIRST_RETRY_SECONDS = 60;
export const MAX_RETRY_SECONDS = 1800;

export interface PeerBundleError {
  readonly reason: "invalid_bundle";
  /** Names the member at fault; never echoes key material. */
  readonly detail: string;
}

export interface PeerBundle {
  /** Canonical; an absent sequence is 0 and an absent hint DEFAULT_REFRESH_SECONDS here. */
  readonly document: SpiffeBundleDocument;
  /** As the peer sent them (undefined: absent). */
  readonly sequence: number | undefined;
  readonly refreshHint: number | undefined;
  readonly ignoredKeys: number;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;
const CURVE_SIZES: Readonly<Record<string, number>> = { "P-256": 32, "P-384": 48 };
const B64URL = /^[A-Za-z0-9_-]+$/;
const F4 = "AQAB";

type Fail = { readonly ok: false; readonly error: PeerBundleError };
const bad = (detail: string): Fail => err({ reason: "invalid_bundle", detail });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalCount(doc: Record<string, unknown>, name: string): Result<number | undefined, PeerBundleError> {
  if (!Object.hasOwn(doc, name)) return ok(undefined);
  const v = doc[name];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return bad(`${name} must be a non-negative integer (at most 2^53-1)`);
  return ok(v);
}

/** Unpadded base64url that decodes and re-encodes to itself (one spelling per value). */
function b64url(v: unknown): Uint8Array | undefined {
  if (typeof v !== "string" || v.length === 0 || v.length > 2048 || !B64URL.test(v)) return undefined;
  const bytes = fromBase64(v);
  return bytes && toBase64Url(bytes) === v ? bytes : undefined;
}

/** EC or RSA public parameters, checked; `where` prefixes the error. */
function readPublicJwk(key: Record<string, unknown>, where: string): Result<PublicJwk, PeerBundleError> {
  if (key.kty === "EC") {
    const crv = key.crv as string;
    const size = CURVE_SIZES[crv]!;
    const x = b64url(key.x);
    const y = b64url(key.y);
    if (!x || !y || x.length !== size || y.length !== size) return bad(`${where}: x and y must be ${size}-byte base64url coordinates`);
    const point = new Uint8Array(1 + 2 * size);
    point[0] = 0x04;
    point.set(x, 1);
    point.set(y, 1 + size);
    if (!isValidUncompressedPoint(crv as "P-256" | "P-384", point)) return bad(`${where}: the point is not on ${crv}`);
    return ok({ kty: "EC", crv, x: key.x as string, y: key.y as string });
  }
  const n = b64url(key.n);
  if (!n || n[0] === 0) return bad(`${where}: n must be a base64url modulus without leading zeros`);
  const bits = (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
  if (bits < 2048 || bits > 8192 || (n[n.length - 1]! & 1) === 0) return bad(`${where}: the RSA modulus must be odd and 2048-8192 bits`);
  if (key.e !== F4) return bad(`${where}: the RSA exponent must be 65537 (AQAB)`);
  return ok({ kty: "RSA", n: key.n as string, e: F4 });
}

/** The JWK a certificate's SubjectPublicKeyInfo is, or undefined when we do not read that key type. */
function jwkOfSpki(spki: Uint8Array): PublicJwk | undefined {
  const info = parseSpki(spki);
  if (!info.ok) return undefined;
  if (info.value.kind === "ec") {
    const point = info.value.subjectPublicKey;
    const size = (point.length - 1) / 2;
    return { kty: "EC", crv: info.value.curve, x: toBase64Url(point.subarray(1, 1 + size)), y: toBase64Url(point.subarray(1 + size)) };
  }
  const top = readSingle(info.value.subjectPublicKey, TAG.SEQUENCE, "RSAPublicKey");
  if (!top.ok) return undefined;
  const r = top.value.reader.enter(top.value.tlv);
  const nTlv = r.expect(TAG.INTEGER, "modulus");
  const eTlv = r.expect(TAG.INTEGER, "publicExponent");
  if (!nTlv.ok || !eTlv.ok) return undefined;
  const n = decodeUnsignedInteger(r.contents(nTlv.value));
  const e = decodeUnsignedInteger(r.contents(eTlv.value));
  return n.ok && e.ok ? { kty: "RSA", n: toBase64Url(n.value), e: toBase64Url(e.value) } : undefined;
}

function sameJwk(a: PublicJwk, b: PublicJwk): boolean {
  return JSON.stringify(publicParams(a)) === JSON.stringify(publicParams(b));
}

function readX509Key(key: Record<string, unknown>, jwk: PublicJwk, where: string): Result<BundleKey, PeerBundleError> {
  const x5c = key.x5c;
  if (!Array.isArray(x5c) || x5c.length !== 1 || typeof x5c[0] !== "string") return bad(`${where}: an x509-svid key must have exactly one x5c certificate`);
  const der = x5c[0].length <= 4 * MAX_PEER_BUNDLE_BYTES ? fromBase64(x5c[0]) : undefined;
  // x5c is standard base64 (RFC 7517 §4.7); one spelling only.
  if (!der || toBase64(der) !== x5c[0]) return bad(`${where}: x5c[0] is not standard base64`);
  const cert = parseCertificate(der);
  if (!cert.ok) return bad(`${where}: x5c[0] is not a certificate we can read (${cert.error.detail ?? cert.error.reason})`);
  const ca = isCa(cert.value);
  if (!ca.ok || !ca.value) return bad(`${where}: x5c[0] is not a CA certificate (basicConstraints cA)`);
  const certJwk = jwkOfSpki(cert.value.spki);
  if (!certJwk) return bad(`${where}: x5c[0] has a public key type we do not accept`);
  if (!sameJwk(certJwk, jwk)) return bad(`${where}: the JWK is not the public key of its x5c certificate`);
  return ok({ ...publicParams(jwk), use: "x509-svid", x5c: [x5c[0]] });
}

/** Reads a peer's bundle document (the body of its bundle endpoint). Never throws. */
export function parsePeerBundle(body: string | Uint8Array): Result<PeerBundle, PeerBundleError> {
  let text: string | undefined;
  if (typeof body === "string") {
    text = body.length > MAX_PEER_BUNDLE_BYTES ? undefined : body;
    if (text === undefined) return bad(`the document is larger than ${MAX_PEER_BUNDLE_BYTES} bytes`);
  } else {
    if (body.length > MAX_PEER_BUNDLE_BYTES) return bad(`the document is larger than ${MAX_PEER_BUNDLE_BYTES} bytes`);
    text = fromUtf8(body);
    if (text === undefined) return bad("the document is not UTF-8");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return bad("the document is not JSON");
  }
  if (!isObject(doc)) return bad("the document is not a JSON object");
  const sequence = optionalCount(doc, "spiffe_sequence");
  if (!sequence.ok) return sequence;
  const refreshHint = optionalCount(doc, "spiffe_refresh_hint");
  if (!refreshHint.ok) return refreshHint;
  const keys = doc.keys;
  if (!Array.isArray(keys)) return bad("keys must be an array");
  if (keys.length > MAX_PEER_BUNDLE_KEYS) return bad(`keys has more than ${MAX_PEER_BUNDLE_KEYS} members`);

  const out: BundleKey[] = [];
  const kids = new Set<string>();
  const certs = new Set<string>();
  let ignoredKeys = 0;
  for (const [i, key] of keys.entries()) {
    const where = `keys[${i}]`;
    if (!isObject(key)) return bad(`${where} is not a JSON object`);
    if (typeof key.kty !== "string") return bad(`${where}: kty is required`);
    const use = key.use;
    const known = (key.kty === "EC" && typeof key.crv === "string" && Object.hasOwn(CURVE_SIZES, key.crv)) || key.kty === "RSA";
    if ((use !== "x509-svid" && use !== "jwt-svid") || !known) {
      ignoredKeys++;
      continue;
    }
    const leaked = PRIVATE_MEMBERS.find((m) => Object.hasOwn(key, m));
    if (leaked !== undefined) return bad(`${where} carries private key member '${leaked}'`);
    const jwk = readPublicJwk(key, where);
    if (!jwk.ok) return jwk;
    if (use === "x509-svid") {
      const x = readX509Key(key, jwk.value, where);
      if (!x.ok) return x;
      if (certs.has(x.value.x5c![0]!)) continue;
      certs.add(x.value.x5c![0]!);
      out.push(x.value);
    } else {
      const kid = key.kid;
      if (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH) return bad(`${where}: a jwt-svid key must have a kid of 1-${MAX_KID_LENGTH} characters`);
      if (kids.has(kid)) return bad(`${where}: kid is not unique among the jwt-svid keys`);
      kids.add(kid);
      out.push({ ...publicParams(jwk.value), use: "jwt-svid", kid });
    }
  }
  return ok({
    document: { keys: out, spiffe_sequence: sequence.value ?? 0, spiffe_refresh_hint: refreshHint.value ?? DEFAULT_REFRESH_SECONDS },
    sequence: sequence.value,
    refreshHint: refreshHint.value,
    ignoredKeys,
  });
}

/** An order-independent fingerprint of a bundle's keys (for "same content"). */
export function keysFingerprint(keys: readonly BundleKey[]): string {
  return JSON.stringify(keys.map((k) => JSON.stringify(k)).sort());
}

export type UpdateDecision =
  | { readonly accept: true; readonly why: "first" | "newer" | "unversioned" | "forced" }
  | { readonly accept: false; readonly why: "unchanged" | "rollback" | "sequence_conflict"; readonly detail: string };

/** Whether `fetched` may replace `stored` (see the header). */
export function decideUpdate(
  stored: { readonly sequence: number; readonly keys: readonly BundleKey[] } | undefined,
  fetched: { readonly sequence: number; readonly keys: readonly BundleKey[] },
  options: { readonly force?: boolean } = {},
): UpdateDecision {
  if (stored === undefined) return { accept: true, why: "first" };
  const same = keysFingerprint(stored.keys) === keysFingerprint(fetched.keys);
  if (same && stored.sequence === fetched.sequence) return { accept: false, why: "unchanged", detail: "the bundle has not changed" };
  if (options.force) return { accept: true, why: "forced" };
  if (fetched.sequence < stored.sequence) {
    return { accept: false, why: "rollback", detail: `refused a rollback: spiffe_sequence ${fetched.sequence} is below the stored ${stored.sequence}` };
  }
  if (fetched.sequence > stored.sequence) return { accept: true, why: "newer" };
  if (fetched.sequence === 0) return { accept: true, why: "unversioned" };
  return { accept: false, why: "sequence_conflict", detail: `refused: spiffe_sequence ${fetched.sequence} is unchanged but the keys differ` };
}

/** When to fetch next (ms since the epoch); see the header. */
export function nextRefreshAt(input: { readonly now: number; readonly refreshHint: number | undefined; readonly consecutiveFailures: number }): number {
  if (input.consecutiveFailures > 0) {
    const exp = Math.min(input.consecutiveFailures - 1, 30);
    return input.now + Math.min(FIRST_RETRY_SECONDS * 2 ** exp, MAX_RETRY_SECONDS) * 1000;
  }
  const hint = input.refreshHint === undefined || input.refreshHint === 0 ? DEFAULT_REFRESH_SECONDS : input.refreshHint;
  return input.now + Math.min(Math.max(hint, MIN_REFRESH_SECONDS), MAX_REFRESH_SECONDS) * 1000;
}

export type BundleEndpointProfile = "https_web";

export interface EndpointUrlError {
  readonly reason: "invalid_bundle_endpoint_url";
  readonly detail: string;
}

export const MAX_BUNDLE_ENDPOINT_URL_LENGTH = 2048;

/**
 * A bundle endpoint URL for the https_web profile (SPIFFE Federation §5.2.1): https, no userinfo, no
 * fragment; plain http only when `allowHttp` (the permissive profile, for a peer on localhost). The
 * URL is used exactly as given; the trust domain is never inferred from it.
 */
export function parseBundleEndpointUrl(s: string, allowHttp: boolean): Result<string, EndpointUrlError> {
  const fail = (detail: string) => err({ reason: "invalid_bundle_endpoint_url" as const, detail });
  if (typeof s !== "string" || s.length === 0 || s.length > MAX_BUNDLE_ENDPOINT_URL_LENGTH) return fail(`the bundle endpoint URL must be 1-${MAX_BUNDLE_ENDPOINT_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return fail("the bundle endpoint URL is not a URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowHttp)) {
    return fail(`the bundle endpoint URL must use https${allowHttp ? " (or http)" : " (https_web; http only in the permissive profile)"}`);
  }
  if (url.username !== "" || url.password !== "") return fail("the bundle endpoint URL must not carry userinfo");
  if (url.hash !== "" || s.includes("#")) return fail("the bundle endpoint URL must not have a fragment");
  return ok(url.href);
}
