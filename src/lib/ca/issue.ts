/**
 * SVID issuance, pure: validate each request, then sign. Identity (SPIFFE ID, DNS names, TTL) comes
 * from the request, never from a CSR: only a CSR's public key is used, after its signature checks
 * out (as SPIRE's BatchNewX509SVID). Expected failures are values, one per request.
 */
import { err, ok, type Result } from "../result";
import { parseDnsNames } from "../spiffe/dns-name";
import { requireWorkloadId, type SpiffeId, type TrustDomain } from "../spiffe/id";
import { signJwtSvid } from "../spiffe/jwt-svid";
import type { JwtAlgorithm } from "../spiffe/bundle";
import { KEY_TYPES, signatureAlgorithmIdentifier } from "../x509/algorithms";
import { assembleCertificate, computeKeyId, x509SignatureValue } from "../x509/certificate";
import { isValidUncompressedPoint } from "../x509/ec-point";
import { parseAndVerifyCsr } from "../x509/csr";
import { importSpkiForVerify, parseSpki } from "../x509/spki";
import type { CaCertificateInfo } from "./ca-certificate";

export type SvidErrorReason =
  | "invalid_spiffe_id"
  | "foreign_trust_domain"
  | "invalid_public_key"
  | "invalid_csr"
  | "bad_csr_signature"
  | "invalid_ttl"
  | "invalid_dns_name"
  | "invalid_audience"
  | "unsupported_algorithm";

export interface SvidError {
  readonly reason: SvidErrorReason;
  readonly detail: string;
}

export interface X509SvidRequest {
  readonly spiffeId: string;
  /** DER SubjectPublicKeyInfo; exactly one of publicKey and csr. */
  readonly publicKey?: Uint8Array | undefined;
  /** DER PKCS#10; only its public key is used, after its signature is checked. */
  readonly csr?: Uint8Array | undefined;
  readonly ttlSeconds: number;
  readonly dnsNames?: readonly string[] | undefined;
}

export interface IssuedX509Svid {
  readonly spiffeId: SpiffeId;
  /** DER certificates, leaf first (a self-signed CA adds no intermediates). */
  readonly certChain: Uint8Array[];
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

export interface X509Issuer {
  readonly key: CryptoKey;
  readonly ca: CaCertificateInfo;
  /** CA validity, milliseconds. SVIDs never outlive the CA. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface IssueOptions {
  readonly trustDomain: TrustDomain;
  /** Longest TTL a request may ask for, seconds (the CA lifetime). */
  readonly maxTtlSeconds: number;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** SPIRE backdates NotBefore by 10 s for clock skew between peers. */
const BACKDATE_MS = 10_000;
const MAX_DNS_NAMES = 32;

function fail(reason: SvidErrorReason, detail: string): { readonly ok: false; readonly error: SvidError } {
  return err({ reason, detail });
}

function checkTtl(ttl: number, max: number): SvidError | undefined {
  if (!Number.isSafeInteger(ttl) || ttl < 1) return { reason: "invalid_ttl", detail: "ttl must be a positive integer number of seconds" };
  if (ttl > max) return { reason: "invalid_ttl", detail: `ttl must be at most ${max} seconds (the signing key lifetime)` };
  return undefined;
}

function checkId(s: string, td: TrustDomain): Result<SpiffeId, SvidError> {
  const id = requireWorkloadId(s, td);
  if (id.ok) return id;
  return fail(id.error.reason === "foreign_trust_domain" ? "foreign_trust_domain" : "invalid_spiffe_id", id.error.detail);
}

interface WorkloadKey {
  readonly spki: Uint8Array;
  readonly subjectPublicKey: Uint8Array;
  readonly kind: "ec" | "rsa";
}

async function workloadKey(req: X509SvidRequest): Promise<Result<WorkloadKey, SvidError>> {
  if ((req.publicKey === undefined) === (req.csr === undefined)) {
    return fail("invalid_public_key", "exactly one of a public key and a CSR is required");
  }
  if (req.csr !== undefined) {
    const csr = await parseAndVerifyCsr(req.csr);
    if (!csr.ok) {
      const r = csr.error.reason;
      if (r === "bad_csr_signature") return fail("bad_csr_signature", "the CSR's signature does not verify with its public key");
      if (r === "malformed_csr" || r === "unsupported_signature_algorithm") return fail("invalid_csr", `the CSR is not acceptable (${r})`);
      return fail("invalid_public_key", `the CSR's public key is not acceptable (${r})`);
    }
    return ok({ spki: csr.value.spki, subjectPublicKey: csr.value.spkiInfo.subjectPublicKey, kind: csr.value.spkiInfo.kind });
  }
  const spki = req.publicKey!;
  const info = parseSpki(spki);
  if (!info.ok) return fail("invalid_public_key", `the public key is not acceptable (${info.error.reason})`);
  // EC: the point must be on its curve (checked here: a WebCrypto import costs as much as a
  // signature). RSA: importing proves a well-formed key.
  const valid =
    info.value.kind === "ec" ? isValidUncompressedPoint(info.value.curve, info.value.subjectPublicKey) : (await importSpkiForVerify(spki, info.value)).ok;
  if (!valid) return fail("invalid_public_key", "the public key is not a valid key of its type");
  return ok({ spki, subjectPublicKey: info.value.subjectPublicKey, kind: info.value.kind });
}

async function issueOne(issuer: X509Issuer, req: X509SvidRequest, opts: IssueOptions): Promise<Result<IssuedX509Svid, SvidError>> {
  const id = checkId(req.spiffeId, opts.trustDomain);
  if (!id.ok) return id;
  const ttlError = checkTtl(req.ttlSeconds, opts.maxTtlSeconds);
  if (ttlError) return err(ttlError);
  // Lowercased, and names equal but for case kept once: the limit counts distinct names.
  const dns = parseDnsNames(req.dnsNames ?? []);
  if (!dns.ok) return fail("invalid_dns_name", `${JSON.stringify(dns.error.input.slice(0, 80))}: ${dns.error.detail}`);
  const dnsNames = dns.value;
  if (dnsNames.length > MAX_DNS_NAMES) return fail("invalid_dns_name", `at most ${MAX_DNS_NAMES} DNS names`);
  const key = await workloadKey(req);
  if (!key.ok) return key;

  const notBefore = Math.max(opts.now - BACKDATE_MS, issuer.notBefore);
  const notAfter = Math.min(opts.now + req.ttlSeconds * 1000, issuer.notAfter);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, never all zero
  const tbs = issuer.ca.encodeLeaf({
    serial,
    notBefore,
    notAfter,
    spiffeId: id.value,
    dnsNames,
    spki: key.value.spki,
    keyKind: key.value.kind,
    subjectKeyId: computeKeyId(key.value.subjectPublicKey),
  });
  const keyType = issuer.ca.keyType;
  const signature = new Uint8Array(await crypto.subtle.sign(KEY_TYPES[keyType].sign, issuer.key, tbs as Uint8Array<ArrayBuffer>));
  const der = assembleCertificate(tbs, signatureAlgorithmIdentifier(keyType), x509SignatureValue(keyType, signature));
  return ok({ spiffeId: id.value, certChain: [der], expiresAt: Math.floor(notAfter / 1000) });
}

/** Issues a batch; the signatures of the whole batch are in flight together. */
export function issueX509Svids(issuer: X509Issuer, requests: readonly X509SvidRequest[], opts: IssueOptions): Promise<Result<IssuedX509Svid, SvidError>[]> {
  return Promise.all(requests.map((r) => issueOne(issuer, r, opts)));
}

export interface JwtSvidRequest {
  readonly spiffeId: string;
  readonly audience: readonly string[];
  readonly ttlSeconds: number;
  readonly alg: JwtAlgorithm;
  /** The OIDC issuer (`iss`). */
  readonly issuer?: string | undefined;
}

export interface IssuedJwtSvid {
  readonly spiffeId: SpiffeId;
  readonly token: string;
  readonly expiresAt: number;
}

export interface JwtIssuer {
  readonly key: CryptoKey;
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  readonly notAfter: number;
}

export async function issueJwtSvid(
  signerFor: (alg: JwtAlgorithm) => JwtIssuer | undefined,
  req: JwtSvidRequest,
  opts: IssueOptions,
): Promise<Result<IssuedJwtSvid, SvidError>> {
  const id = checkId(req.spiffeId, opts.trustDomain);
  if (!id.ok) return id;
  const ttlError = checkTtl(req.ttlSeconds, opts.maxTtlSeconds);
  if (ttlError) return err(ttlError);
  if (req.audience.length === 0 || req.audience.some((a) => typeof a !== "string" || a.length === 0)) {
    return fail("invalid_audience", "at least one non-empty audience is required");
  }
  const signer = signerFor(req.alg);
  if (!signer) return fail("unsupported_algorithm", `no ${req.alg} signing key`);
  const issuedAt = Math.floor(opts.now / 1000);
  const expiresAt = Math.min(issuedAt + req.ttlSeconds, Math.floor(signer.notAfter / 1000));
  const token = await signJwtSvid(signer.key, signer.alg, signer.kid, {
    spiffeId: id.value,
    audience: req.audience,
    issuedAt,
    expiresAt,
    ...(req.issuer !== undefined ? { issuer: req.issuer } : {}),
  });
  return ok({ spiffeId: id.value, token, expiresAt });
}

/**
 * A batch result in the shape that crosses Durable Object RPC cheaply: all certificates in one
 * buffer (structured clone pays per object and per ArrayBuffer, which dominated the batch cost),
 * and one small record per request, in request order.
 */
export interface PackedX509Batch {
  readonly der: Uint8Array;
  readonly items: PackedX509Item[];
}

export type PackedX509Item =
  | { readonly ok: true; readonly offset: number; readonly length: number; readonly expiresAt: number }
  | { readonly ok: false; readonly error: SvidError };

export function packX509Batch(results: readonly Result<IssuedX509Svid, SvidError>[]): PackedX509Batch {
  let size = 0;
  for (const r of results) if (r.ok) size += r.value.certChain[0]!.length;
  const der = new Uint8Array(size);
  let offset = 0;
  const items = results.map((r): PackedX509Item => {
    if (!r.ok) return r;
    const cert = r.value.certChain[0]!;
    der.set(cert, offset);
    offset += cert.length;
    return { ok: true, offset: offset - cert.length, length: cert.length, expiresAt: r.value.expiresAt };
  });
  return { der, items };
}

/** The leaf certificate of a successful item (a view into the batch buffer). */
export function packedCertificate(batch: PackedX509Batch, item: { readonly offset: number; readonly length: number }): Uint8Array {
  return batch.der.subarray(item.offset, item.offset + item.length);
}
