/**
 * `x509pop` node attestation, on SPIRE's wire format (pkg/common/plugin/x509pop; specs/spiffe.md §2.6),
 * so an agent holding a bootstrap certificate (for example one the key broker released to it) proves
 * possession of its key:
 *
 * 1. the agent sends `{"certificates":["<std b64 DER leaf>", "<intermediate>"…]}`;
 * 2. the chain must lead to one of the deployment's configured trust anchors (at most 4 intermediates,
 *    each a CA with keyCertSign, every certificate valid now); the leaf has digitalSignature;
 * 3. the server sends a 32-byte nonce: `{"rsa_signature":{"nonce":…},"ecdsa_signature":null}` or the ECDSA variant;
 * 4. the agent signs SHA-256(challenge nonce ‖ its own 32-byte nonce): RSASSA-PSS/SHA-256 with the
 *    largest salt (Go's "auto"), or ECDSA (r, s big-endian);
 * 5. agent ID `spiffe://<td>/signet/agent/x509pop/<SHA-1 hex of the leaf DER>` and selectors
 *    `x509pop:subject:cn:<cn>`, `x509pop:ca:fingerprint:<SHA-1 hex>` (each certificate above the leaf,
 *    anchor included), `x509pop:serialnumber:<hex>`, `x509pop:san:<key>:<value>` (from
 *    `x509pop://<td>/<key>/<value>` URI SANs).
 * Never throws on hostile input.
 */
import { concatBytes, fromBase64, toBase64, toHex } from "../encoding";
import { err, ok, type Result } from "../result";
import { sha1 } from "../crypto/sha1";
import { commonName, parseCertificate, type ParsedCertificate } from "../x509/cert-reader";
import { bytesEqual } from "../x509/der-reader";
import { isCa, keyUsage, uriSans } from "../x509/extensions";
import { verifySignedData } from "../x509/signed-data";
import { parseSpki, type SpkiInfo } from "../x509/spki";

export const X509POP_NONCE_BYTES = 32;
export const X509POP_MAX_INTERMEDIATES = 4;
const MAX_RSA_BITS = 8192;

export type X509PopErrorReason = "x509pop_malformed" | "x509pop_untrusted" | "x509pop_expired" | "x509pop_key_usage" | "x509pop_bad_signature";

export interface X509PopError {
  readonly reason: X509PopErrorReason;
  readonly detail: string;
}

function fail(reason: X509PopErrorReason, detail: string): { readonly ok: false; readonly error: X509PopError } {
  return err({ reason, detail });
}

export interface VerifiedX509PopChain {
  readonly leaf: ParsedCertificate;
  readonly key: SpkiInfo;
  /** The certificates above the leaf, the anchor last. */
  readonly issuers: readonly ParsedCertificate[];
}

function decodeStdBase64(s: unknown): Uint8Array | undefined {
  return typeof s === "string" && s.length <= 16384 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) ? fromBase64(s) : undefined;
}

/** Step 2: the attestation payload's chain, to one of `anchors` (DER), at `now`. */
export async function verifyX509PopChain(payload: unknown, anchors: readonly Uint8Array[], now: number): Promise<Result<VerifiedX509PopChain, X509PopError>> {
  const certs = (payload as { certificates?: unknown } | null)?.certificates;
  if (!Array.isArray(certs) || certs.length === 0) return fail("x509pop_malformed", "certificates must list the leaf and its intermediates");
  if (certs.length > 1 + X509POP_MAX_INTERMEDIATES) return fail("x509pop_malformed", `at most ${X509POP_MAX_INTERMEDIATES} intermediates`);
  const chain: ParsedCertificate[] = [];
  for (const c of certs) {
    const der = decodeStdBase64(c);
    const parsed = der ? parseCertificate(der) : undefined;
    if (!parsed?.ok) return fail("x509pop_malformed", "a certificate is not standard base64 DER");
    chain.push(parsed.value);
  }
  const leaf = chain[0]!;
  const key = parseSpki(leaf.spki);
  if (!key.ok) return fail("x509pop_malformed", `the leaf's key is not supported (${key.error.reason})`);
  if (key.value.kind === "rsa" && key.value.modulusBits > MAX_RSA_BITS) return fail("x509pop_malformed", `RSA keys of at most ${MAX_RSA_BITS} bits`);
  const ku = keyUsage(leaf);
  if (!ku.ok) return fail("x509pop_malformed", ku.error);
  if (!ku.value?.bits(0)) return fail("x509pop_key_usage", "the leaf's key usage must include digitalSignature");

  for (const cert of chain) {
    if (now < cert.notBefore || now >= cert.notAfter) return fail("x509pop_expired", "a certificate of the chain is not valid now");
  }
  for (let i = 1; i < chain.length; i++) {
    const checked = await isIssuerOf(chain[i - 1]!, chain[i]!);
    if (checked) return fail("x509pop_untrusted", `certificate ${i - 1} is not issued by certificate ${i}: ${checked}`);
  }
  const top = chain[chain.length - 1]!;
  for (const der of anchors) {
    const anchor = parseCertificate(der);
    if (!anchor.ok || now < anchor.value.notBefore || now >= anchor.value.notAfter) continue;
    const isAnchor = bytesEqual(anchor.value.subjectRaw, top.subjectRaw) && bytesEqual(anchor.value.spki, top.spki) && chain.length > 1;
    if (isAnchor || (await isIssuerOf(top, anchor.value)) === undefined) {
      const issuers = isAnchor ? chain.slice(1) : [...chain.slice(1), anchor.value];
      return ok({ leaf, key: key.value, issuers });
    }
  }
  return fail("x509pop_untrusted", "the chain does not lead to a configured trust anchor");
}

/** Undefined when `issuer` is a CA that signed `cert`; else why not. */
async function isIssuerOf(cert: ParsedCertificate, issuer: ParsedCertificate): Promise<string | undefined> {
  if (!bytesEqual(cert.issuerRaw, issuer.subjectRaw)) return "names do not chain";
  const ca = isCa(issuer);
  if (!ca.ok || !ca.value) return "the issuer is not a CA";
  const ku = keyUsage(issuer);
  if (!ku.ok || (ku.value !== undefined && !ku.value.bits(5))) return "the issuer may not sign certificates";
  const sig = await verifySignedData(cert.signatureAlgorithm, cert.tbs, cert.signature, issuer.spki);
  return sig.ok ? undefined : "the signature does not verify";
}

/** Step 3: the challenge JSON for the leaf's key kind. */
export function x509PopChallenge(key: SpkiInfo, nonce: Uint8Array): Record<string, unknown> {
  if (nonce.length !== X509POP_NONCE_BYTES) throw new TypeError("the challenge nonce is 32 bytes");
  const n = { nonce: toBase64(nonce) };
  return key.kind === "rsa" ? { rsa_signature: n, ecdsa_signature: null } : { rsa_signature: null, ecdsa_signature: n };
}

/** Step 4: the agent's answer, signed by the leaf's key over SHA-256(challenge nonce ‖ its nonce). */
export async function verifyX509PopResponse(chain: VerifiedX509PopChain, challengeNonce: Uint8Array, response: unknown): Promise<Result<void, X509PopError>> {
  const r = response as { rsa_signature?: Record<string, unknown> | null; ecdsa_signature?: Record<string, unknown> | null } | null;
  const key = chain.key;
  const part = key.kind === "rsa" ? r?.rsa_signature : r?.ecdsa_signature;
  if (typeof part !== "object" || part === null) return fail("x509pop_malformed", `the response must carry ${key.kind === "rsa" ? "rsa_signature" : "ecdsa_signature"}`);
  const nonce = decodeStdBase64(part.nonce);
  if (!nonce || nonce.length !== X509POP_NONCE_BYTES) return fail("x509pop_malformed", "the response nonce must be 32 bytes");
  const signed = concatBytes(challengeNonce, nonce);
  let signature: Uint8Array;
  let params: AlgorithmIdentifierLike;
  let importParams: AlgorithmIdentifierLike;
  if (key.kind === "rsa") {
    const s = decodeStdBase64(part.signature);
    if (!s) return fail("x509pop_malformed", "the RSA signature is not base64");
    signature = s;
    // Go's rsa.PSSSaltLengthAuto on sign = the largest salt: ceil((modBits − 1) / 8) − hLen − 2.
    params = { name: "RSA-PSS", saltLength: Math.ceil((key.modulusBits - 1) / 8) - 32 - 2 };
    importParams = { name: "RSA-PSS", hash: "SHA-256" };
  } else {
    const size = key.curve === "P-256" ? 32 : 48;
    const rr = decodeStdBase64(part.r);
    const ss = decodeStdBase64(part.s);
    if (!rr || !ss || rr.length > size || ss.length > size) return fail("x509pop_malformed", "r and s must be big-endian integers of the curve's size");
    signature = new Uint8Array(2 * size);
    signature.set(rr, size - rr.length);
    signature.set(ss, 2 * size - ss.length);
    params = { name: "ECDSA", hash: "SHA-256" };
    importParams = { name: "ECDSA", namedCurve: key.curve };
  }
  try {
    const publicKey = await crypto.subtle.importKey("spki", chain.leaf.spki as Uint8Array<ArrayBuffer>, importParams, false, ["verify"]);
    if (await crypto.subtle.verify(params, publicKey, signature as Uint8Array<ArrayBuffer>, signed)) return ok(undefined);
  } catch {
    // An unusable key or signature is a failed proof.
  }
  return fail("x509pop_bad_signature", "the response is not signed by the certificate's key");
}

type AlgorithmIdentifierLike = { readonly name: string; readonly [k: string]: unknown };

/** Step 5: the agent ID path and node selectors, as SPIRE's x509pop attestor derives them. */
export function x509PopIdentity(chain: VerifiedX509PopChain, trustDomain: string): { readonly agentPath: string; readonly selectors: readonly string[] } {
  const { leaf } = chain;
  const selectors: string[] = [];
  const cn = commonName(leaf.subject);
  if (cn !== undefined) selectors.push(`x509pop:subject:cn:${cn}`);
  for (const issuer of chain.issuers) selectors.push(`x509pop:ca:fingerprint:${toHex(sha1(issuer.der))}`);
  selectors.push(`x509pop:serialnumber:${leaf.serialHex}`);
  const uris = uriSans(leaf);
  const prefix = `x509pop://${trustDomain}/`;
  for (const uri of uris.ok ? uris.value : []) {
    if (!uri.startsWith(prefix)) continue;
    const [k, ...rest] = uri.slice(prefix.length).split("/");
    if (k && rest.length > 0) selectors.push(`x509pop:san:${k}:${rest.join("/")}`);
  }
  return { agentPath: `/signet/agent/x509pop/${toHex(sha1(leaf.der))}`, selectors: [...new Set(selectors)] };
}
