/**
 * A resource as the KBS returns it (protocol ≥ 0.2.0): an RFC 7516 flattened JSON JWE, A256GCM
 * content encryption with a fresh 32-byte key and 12-byte IV, the key managed with ECDH-ES+A256KW
 * (the TEE key's curve, P-256 or P-521) or RSA-OAEP-256. No `aad` member (trustee `kbs/src/jwe`).
 *
 * The protected header is written byte for byte as Trustee writes it and as guests rebuild it:
 * `{"alg":…,"enc":"A256GCM","epk":{"crv":…,"kty":"EC","x":…,"y":…}}`, compact. Guests do not use
 * the received `protected` string as the AAD: they decode it into {alg, enc, rest} and re-serialize
 * it (alg, enc, then the other members with keys sorted; kbs-types `ProtectedHeader::generate_aad`).
 * A header in any other order still decrypts with a generic JOSE library and fails on a guest.
 * `decryptResource` is that guest behaviour, for Signet's own client. RSA1_5 is refused both ways.
 */
import canonicalize from "canonicalize";
import { concatBytes, fromUtf8, toBase64Url, utf8, type Bytes } from "../encoding";
import { ok, type Result } from "../result";
import { kbsFail, type KbsFailure } from "./errors";
import { agreeKek, ecdhParams, importCek, importEcPublicKey, importRsaPublicKey, importTeeEcKey, RSA_OAEP_SHA256 } from "./key-wrap";
import { decodeBase64UrlStrict, ECDH_ES_A256KW, RSA1_5, RSA_OAEP_256, type EcTeePubKey, type TeeCurve, type TeePubKey } from "./tee-pubkey";

export const A256GCM = "A256GCM";
const CEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Largest `ciphertext` a guest decodes: 32 MiB of base64url (24 MiB of resource). */
const MAX_CIPHERTEXT_CHARS = 32 * 1024 * 1024;
const MAX_MEMBER_CHARS = 4096;

/** RFC 7516 §7.2.2 flattened JSON serialization, members as the KBS sends them. */
export interface FlattenedJwe {
  readonly protected: string;
  readonly encrypted_key: string;
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
}

/**
 * Deterministic inputs, for test vectors only. `epkPrivate` must be an extractable ECDH private
 * key on the TEE key's curve (its public point is read from its JWK export).
 */
export interface EncryptResourceRandom {
  readonly epkPrivate?: CryptoKey;
  readonly cek?: Uint8Array;
  readonly iv?: Uint8Array;
}

function exactly(bytes: Uint8Array | undefined, length: number, what: string): Bytes {
  if (bytes === undefined) return crypto.getRandomValues(new Uint8Array(length));
  if (bytes.length !== length) throw new TypeError(`${what} must be ${length} bytes`);
  return bytes.slice();
}

/** The ephemeral key and its header member `epk`, members sorted as Trustee's `json!` writes them. */
async function ephemeralKey(crv: TeeCurve, given: CryptoKey | undefined): Promise<{ privateKey: CryptoKey; epk: { crv: TeeCurve; kty: "EC"; x: string; y: string } }> {
  let privateKey = given;
  let jwk: JsonWebKey;
  if (privateKey) {
    const algorithm = privateKey.algorithm as { name: string; namedCurve?: string };
    if (privateKey.type !== "private" || algorithm.name !== "ECDH" || algorithm.namedCurve !== crv || !privateKey.extractable) {
      throw new TypeError(`epkPrivate must be an extractable ECDH ${crv} private key`);
    }
    jwk = (await crypto.subtle.exportKey("jwk", privateKey)) as JsonWebKey;
  } else {
    const pair = (await crypto.subtle.generateKey(ecdhParams(crv), false, ["deriveBits"])) as CryptoKeyPair;
    privateKey = pair.privateKey;
    jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  }
  return { privateKey, epk: { crv, kty: "EC", x: jwk.x!, y: jwk.y! } };
}

async function sealContent(protectedB64: string, cek: CryptoKey, iv: Bytes, plaintext: Uint8Array): Promise<Pick<FlattenedJwe, "iv" | "ciphertext" | "tag">> {
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(protectedB64), tagLength: TAG_BYTES * 8 }, cek, plaintext as Bytes),
  );
  return { iv: toBase64Url(iv), ciphertext: toBase64Url(sealed.subarray(0, sealed.length - TAG_BYTES)), tag: toBase64Url(sealed.subarray(sealed.length - TAG_BYTES)) };
}

/** Encrypts a resource to the TEE key taken from a verified token's claims. */
export async function encryptResource(key: TeePubKey, plaintext: Uint8Array, random?: EncryptResourceRandom): Promise<FlattenedJwe> {
  const cekBytes = exactly(random?.cek, CEK_BYTES, "cek");
  const iv = exactly(random?.iv, IV_BYTES, "iv");
  const cek = await importCek(cekBytes, "encrypt");
  let header: string;
  let encryptedKey: Uint8Array;
  if (key.kty === "EC") {
    const recipient = await importTeeEcKey(key);
    const { privateKey, epk } = await ephemeralKey(key.crv, random?.epkPrivate);
    const kek = await agreeKek(key.crv, privateKey, recipient, "wrapKey");
    encryptedKey = new Uint8Array(await crypto.subtle.wrapKey("raw", cek, kek, { name: "AES-KW" }));
    header = JSON.stringify({ alg: ECDH_ES_A256KW, enc: A256GCM, epk });
  } else if (key.kty === "RSA" && key.alg === RSA_OAEP_256) {
    const recipient = await importRsaPublicKey(key);
    encryptedKey = new Uint8Array(await crypto.subtle.encrypt(RSA_OAEP_SHA256, recipient, cekBytes));
    header = JSON.stringify({ alg: RSA_OAEP_256, enc: A256GCM });
  } else {
    throw new TypeError("unsupported TEE key (parse it with parseTeePubKey)");
  }
  const protectedB64 = toBase64Url(utf8(header));
  const content = await sealContent(protectedB64, cek, iv, plaintext);
  return { protected: protectedB64, encrypted_key: toBase64Url(encryptedKey), ...content };
}

/**
 * The header text a guest authenticates: `alg`, `enc`, then every other member with keys sorted at
 * every level (serde_json's default map), compact. For string-valued headers this is RFC 8785 of
 * the rest, which is how it is computed here. Undefined if the header cannot be serialized.
 */
export function guestProtectedHeaderText(header: { readonly alg: string; readonly enc: string } & Record<string, unknown>): string | undefined {
  const rest: Record<string, unknown> = Object.fromEntries(Object.entries(header).filter(([k]) => k !== "alg" && k !== "enc"));
  let restText: string | undefined;
  try {
    restText = canonicalize(rest);
  } catch {
    return undefined;
  }
  if (restText === undefined) return undefined;
  const head = `{"alg":${JSON.stringify(header.alg)},"enc":${JSON.stringify(header.enc)}`;
  return restText === "{}" ? `${head}}` : `${head},${restText.slice(1)}`;
}

interface ParsedJwe {
  readonly header: { readonly alg: string; readonly enc: string } & Record<string, unknown>;
  readonly encryptedKey: Bytes;
  readonly iv: Bytes;
  readonly ciphertext: Bytes;
  readonly tag: Bytes;
}

function member(v: Record<string, unknown>, name: string, maxChars: number): Bytes | undefined {
  const m = Object.hasOwn(v, name) ? v[name] : undefined;
  return typeof m === "string" ? decodeBase64UrlStrict(m, maxChars) : undefined;
}

function parseJwe(jwe: unknown): Result<ParsedJwe, KbsFailure> {
  if (typeof jwe !== "object" || jwe === null || Array.isArray(jwe)) return kbsFail("malformed_jwe", "the response is not a JSON object");
  const v = jwe as Record<string, unknown>;
  if (Object.hasOwn(v, "aad")) return kbsFail("malformed_jwe", 'the response has an "aad" member, which guests do not authenticate');
  const protectedBytes = member(v, "protected", MAX_MEMBER_CHARS);
  const encryptedKey = member(v, "encrypted_key", MAX_MEMBER_CHARS);
  const iv = member(v, "iv", MAX_MEMBER_CHARS);
  const ciphertext = member(v, "ciphertext", MAX_CIPHERTEXT_CHARS);
  const tag = member(v, "tag", MAX_MEMBER_CHARS);
  if (!protectedBytes || !encryptedKey || !iv || !ciphertext || !tag) {
    return kbsFail("malformed_jwe", "protected, encrypted_key, iv, ciphertext and tag must all be unpadded base64url");
  }
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return kbsFail("malformed_jwe", `the iv must be ${IV_BYTES} bytes and the tag ${TAG_BYTES}`);
  let header: unknown;
  try {
    header = JSON.parse(fromUtf8(protectedBytes) ?? "");
  } catch {
    return kbsFail("malformed_jwe", "the protected header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return kbsFail("malformed_jwe", "the protected header is not a JSON object");
  const h = header as Record<string, unknown>;
  if (typeof h.alg !== "string" || typeof h.enc !== "string") return kbsFail("malformed_jwe", 'the protected header needs string "alg" and "enc"');
  return ok({ header: h as ParsedJwe["header"], encryptedKey, iv, ciphertext, tag });
}

async function unwrapEcdh(header: ParsedJwe["header"], encryptedKey: Bytes, privateKey: CryptoKey, ourKey: EcTeePubKey): Promise<Result<CryptoKey, KbsFailure>> {
  const epk = header.epk;
  if (typeof epk !== "object" || epk === null || Array.isArray(epk)) return kbsFail("malformed_jwe", 'the protected header has no "epk" object');
  const { crv, x, y } = epk as Record<string, unknown>;
  if (typeof crv !== "string" || typeof x !== "string" || typeof y !== "string") return kbsFail("malformed_jwe", 'epk needs string "crv", "x" and "y"');
  if (crv !== ourKey.crv) return kbsFail("jwe_key_mismatch", `Unmatched curve: epk is on ${JSON.stringify(crv.slice(0, 16))}, our key on ${ourKey.crv}`);
  const epkKey = await importEcPublicKey(ourKey.crv, x, y);
  if (!epkKey) return kbsFail("malformed_jwe", `epk is not a point of ${ourKey.crv}`);
  try {
    const kek = await agreeKek(ourKey.crv, privateKey, epkKey, "unwrapKey");
    return ok(await crypto.subtle.unwrapKey("raw", encryptedKey, kek, { name: "AES-KW" }, { name: "AES-GCM" }, false, ["decrypt"]));
  } catch {
    return kbsFail("jwe_decrypt_failed", "the content key does not unwrap with our key");
  }
}

async function unwrapRsa(encryptedKey: Bytes, privateKey: CryptoKey): Promise<Result<CryptoKey, KbsFailure>> {
  let cek: Uint8Array;
  try {
    cek = new Uint8Array(await crypto.subtle.decrypt(RSA_OAEP_SHA256, privateKey, encryptedKey));
  } catch {
    return kbsFail("jwe_decrypt_failed", "the content key does not decrypt with our key");
  }
  if (cek.length !== CEK_BYTES) return kbsFail("jwe_decrypt_failed", `the content key is ${cek.length} bytes, not ${CEK_BYTES}`);
  return ok(await importCek(cek, "decrypt"));
}

/**
 * Guest side: decrypts a KBS response with our TEE private key, as guest-components does (the AAD
 * is the re-serialized header; `epk.crv` must be our curve). `privateKey` is the private half of
 * `ourKey` (from generateTeeKeyPair). Never throws on a hostile response.
 */
export async function decryptResource(jwe: unknown, privateKey: CryptoKey, ourKey: TeePubKey): Promise<Result<Uint8Array, KbsFailure>> {
  if (privateKey.type !== "private") throw new TypeError("decryptResource needs the private key");
  const parsed = parseJwe(jwe);
  if (!parsed.ok) return parsed;
  const { header, encryptedKey, iv, ciphertext, tag } = parsed.value;
  if (header.enc !== A256GCM) return kbsFail("unsupported_jwe_algorithm", `content encryption ${JSON.stringify(header.enc.slice(0, 32))} is not ${A256GCM}`);
  let cek: Result<CryptoKey, KbsFailure>;
  if (header.alg === ECDH_ES_A256KW) {
    if (ourKey.kty !== "EC") return kbsFail("jwe_key_mismatch", "the response is for an EC key, ours is RSA");
    cek = await unwrapEcdh(header, encryptedKey, privateKey, ourKey);
  } else if (header.alg === RSA_OAEP_256) {
    if (ourKey.kty !== "RSA") return kbsFail("jwe_key_mismatch", "the response is for an RSA key, ours is EC");
    cek = await unwrapRsa(encryptedKey, privateKey);
  } else if (header.alg === RSA1_5) {
    return kbsFail("unsupported_jwe_algorithm", "RSA1_5 (RSAES-PKCS1-v1_5) is refused");
  } else {
    return kbsFail("unsupported_jwe_algorithm", `key management ${JSON.stringify(header.alg.slice(0, 32))} is not ${ECDH_ES_A256KW} or ${RSA_OAEP_256}`);
  }
  if (!cek.ok) return cek;
  const aadText = guestProtectedHeaderText(header);
  if (aadText === undefined) return kbsFail("malformed_jwe", "the protected header cannot be re-serialized");
  try {
    const aad = utf8(toBase64Url(utf8(aadText)));
    return ok(new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: TAG_BYTES * 8 }, cek.value, concatBytes(ciphertext, tag))));
  } catch {
    return kbsFail("jwe_decrypt_failed", "the content does not decrypt: wrong key, tampered response, or a header not in the order guests rebuild");
  }
}

/** The key choices of guest-components' `tee_key_algorithm`. */
export type TeeKeyAlgorithm = "ECDH-ES+A256KW-P256" | "ECDH-ES+A256KW-P521" | "RSA-OAEP-256";

export interface TeeKeyPair {
  readonly keyPair: CryptoKeyPair;
  /** The `tee-pubkey` to send in the Attestation. */
  readonly teePubKey: TeePubKey;
}

/**
 * Guest side: a fresh TEE key pair (P-256 by default upstream; RSA is 2048-bit, e = 65537, as
 * guest-components makes it). The private key is non-extractable unless `extractable` is set.
 */
export async function generateTeeKeyPair(alg: TeeKeyAlgorithm, options: { readonly extractable?: boolean } = {}): Promise<TeeKeyPair> {
  const extractable = options.extractable ?? false;
  if (alg === "RSA-OAEP-256") {
    const params = { ...RSA_OAEP_SHA256, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
    const keyPair = (await crypto.subtle.generateKey(params, extractable, ["encrypt", "decrypt"])) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey("jwk", keyPair.publicKey)) as JsonWebKey;
    return { keyPair, teePubKey: { kty: "RSA", alg: RSA_OAEP_256, n: jwk.n!, e: jwk.e! } };
  }
  const crv: TeeCurve | undefined = alg === "ECDH-ES+A256KW-P256" ? "P-256" : alg === "ECDH-ES+A256KW-P521" ? "P-521" : undefined;
  if (!crv) throw new TypeError(`unknown TEE key algorithm ${String(alg)}`);
  const keyPair = (await crypto.subtle.generateKey(ecdhParams(crv), extractable, ["deriveBits"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", keyPair.publicKey)) as JsonWebKey;
  return { keyPair, teePubKey: { kty: "EC", crv, alg: ECDH_ES_A256KW, x: jwk.x!, y: jwk.y! } };
}
