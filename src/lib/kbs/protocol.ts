/**
 * The KBS attestation protocol (Trustee RCAR, protocol version 0.4.0) as data: the version rule,
 * the TEE names, hash negotiation, nonces, session ids, and the typed forms of the messages. The
 * wire spellings of the messages (`tee-pubkey`, `extra-params`, …) live here and in
 * `src/workers/schemas/kbs.ts` only.
 *
 * Sources: trustee `kbs/src/attestation/backend.rs` (`__auth`, `__attest`, `make_nonce`),
 * `kbs/src/attestation/session.rs`, guest-components `kbs_protocol/src/client/rcar_client.rs`,
 * kbs-types 0.18 `lib.rs` (see docs: shared/specs/kbs-protocol.md §1.1, §2.1, §2.2, §3.1).
 */
import { toBase64, toHex } from "../encoding";
import { ok, type Result } from "../result";
import { kbsFail, type KbsFailure } from "./errors";
import { teePubKeyJwk, type TeePubKey, type TeePubKeyJwk } from "./tee-pubkey";

/** The one protocol version served; a Request must name exactly this one (Trustee `VersionReq "=0.4.0"`). */
export const KBS_PROTOCOL_VERSION = "0.4.0";

// Semantic Versioning 2.0.0 as the Rust `semver` crate parses it: no prefix, no whitespace, no
// leading zeros in numbers or numeric pre-release identifiers (build identifiers may have them).
const NUMBER = "(0|[1-9][0-9]*)";
const PRE_IDENT = "(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)";
const BUILD_IDENT = "[0-9A-Za-z-]+";
const SEMVER = new RegExp(`^${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-(${PRE_IDENT}(?:\\.${PRE_IDENT})*))?(?:\\+${BUILD_IDENT}(?:\\.${BUILD_IDENT})*)?$`);
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * Trustee's version gate: `version` must parse as a semantic version and match `=0.4.0` exactly.
 * A pre-release (`0.4.0-rc1`) does not match; build metadata (`0.4.0+abc`) is ignored, as in
 * semver. A mismatch carries Trustee's own sentence, which guest-components looks for.
 */
export function checkProtocolVersion(v: unknown): Result<void, KbsFailure> {
  if (typeof v !== "string") return kbsFail("malformed_version", "failed to parse KBS version: version is not a string");
  const m = SEMVER.exec(v);
  if (!m || [m[1], m[2], m[3]].some((n) => BigInt(n!) > U64_MAX)) return kbsFail("malformed_version", "failed to parse KBS version");
  const exact = `${m[1]}.${m[2]}.${m[3]}` === KBS_PROTOCOL_VERSION && m[4] === undefined;
  if (!exact) {
    return kbsFail("protocol_version_mismatch", `KBS Client Protocol Version Mismatch: expect =${KBS_PROTOCOL_VERSION} while the request is ${v}`);
  }
  return ok(undefined);
}

/** The `tee` values of a Request (serde names of kbs-types 0.18 `Tee`). */
export const KBS_TEES = [
  "az-snp-vtpm",
  "az-tdx-vtpm",
  "nvidia",
  "sgx",
  "snp",
  "tdx",
  "cca",
  "csv",
  "se",
  "hygondcu",
  "dpu",
  "tpm",
  "sample",
  "sampledevice",
] as const;
export type KbsTee = (typeof KBS_TEES)[number];

export function isKbsTee(v: unknown): v is KbsTee {
  return typeof v === "string" && (KBS_TEES as readonly string[]).includes(v);
}

/** Runtime-data and init-data hashes WebCrypto can compute (kbs-types also names sm3; it has none). */
export const HASH_ALGORITHMS = ["sha256", "sha384", "sha512"] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** What a guest assumes when the Challenge selects nothing (guest-components `DEFAULT_HASH_ALGORITHM`). */
export const DEFAULT_HASH_ALGORITHM: HashAlgorithm = "sha384";

const WEBCRYPTO_HASH: Record<HashAlgorithm, string> = { sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" };

export async function digestWith(hash: HashAlgorithm, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(WEBCRYPTO_HASH[hash], data as Uint8Array<ArrayBuffer>));
}

/**
 * The hash the server binds runtime data with, given the Request's
 * `extra-params["supported-hash-algorithms"]`. Trustee does not read that list (it only looks at
 * `extra-params` for `se`, which Signet does not serve): it sends `extra-params: ""` and verifies
 * with sha384, the guests' default. Signet does the same, so the answer is always sha384 and the
 * argument is deliberately unused; it is taken so that a future selection has one place to live.
 */
export function negotiateHash(_supported: unknown): HashAlgorithm {
  return DEFAULT_HASH_ALGORITHM;
}

/**
 * The Challenge's `extra-params` for a negotiated hash: the empty string for sha384 (byte for byte
 * what Trustee sends), otherwise the object guests read `selected-hash-algorithm` from.
 */
export function challengeExtraParams(hash: HashAlgorithm): "" | { readonly "selected-hash-algorithm": HashAlgorithm } {
  return hash === DEFAULT_HASH_ALGORITHM ? "" : { "selected-hash-algorithm": hash };
}

/** Guest side: the Request's `extra-params`, listing what this client can hash. */
export function requestExtraParams(): { readonly "supported-hash-algorithms": readonly HashAlgorithm[] } {
  return { "supported-hash-algorithms": HASH_ALGORITHMS };
}

/**
 * Guest side: the hash a Challenge's `extra-params` selects, as guest-components reads it: absent
 * (or `extra-params` not an object, as Trustee's `""`) means sha384; a present value must be a
 * string naming an algorithm, case-insensitively.
 */
export function selectedHashAlgorithm(extraParams: unknown): Result<HashAlgorithm, KbsFailure> {
  if (typeof extraParams !== "object" || extraParams === null || Array.isArray(extraParams)) return ok(DEFAULT_HASH_ALGORITHM);
  if (!Object.hasOwn(extraParams, "selected-hash-algorithm")) return ok(DEFAULT_HASH_ALGORITHM);
  const v = (extraParams as Record<string, unknown>)["selected-hash-algorithm"];
  const name = typeof v === "string" ? v.toLowerCase() : undefined;
  const found = HASH_ALGORITHMS.find((h) => h === name);
  if (!found) return kbsFail("unsupported_hash_algorithm", `the challenge selects hash algorithm ${JSON.stringify(v)}, which is not one of ${HASH_ALGORITHMS.join(", ")}`);
  return ok(found);
}

declare const nonceBrand: unique symbol;
declare const sessionIdBrand: unique symbol;
/** A Challenge nonce: 32 random bytes, standard base64 with padding (44 characters). */
export type Nonce = string & { readonly [nonceBrand]: true };
/** A session id: a UUIDv4 in "simple" form, 32 lowercase hex digits (Trustee `session.rs`). */
export type SessionId = string & { readonly [sessionIdBrand]: true };

/** Fills `length` bytes; the default is the platform CSPRNG. Tests inject their own. */
export type RandomBytes = (length: number) => Uint8Array;
const systemRandom: RandomBytes = (length) => crypto.getRandomValues(new Uint8Array(length));

const NONCE_BYTES = 32;

function randomExactly(random: RandomBytes, length: number): Uint8Array {
  const bytes = random(length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new TypeError(`the random source must return ${length} bytes`);
  return bytes;
}

export function newNonce(random: RandomBytes = systemRandom): Nonce {
  return toBase64(randomExactly(random, NONCE_BYTES)) as Nonce;
}

export function newSessionId(random: RandomBytes = systemRandom): SessionId {
  const b = randomExactly(random, 16).slice();
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  return toHex(b) as SessionId;
}

const SESSION_ID = /^[0-9a-f]{32}$/;

/** A `kbs-session-id` cookie value. Any 32 lowercase hex digits parse; lookup decides the rest. */
export function parseSessionId(v: unknown): Result<SessionId, KbsFailure> {
  if (typeof v !== "string" || !SESSION_ID.test(v)) return kbsFail("malformed_session_id", "the session id is not 32 lowercase hex digits");
  return ok(v as SessionId);
}

/** Trustee `__attest` step 3: the nonce sent back must be the session's, compared as strings. */
export function checkNonce(sent: string, session: Nonce): Result<void, KbsFailure> {
  if (sent !== session) {
    return kbsFail("nonce_mismatch", "the nonce in the handshake session is different from the client side in KBS protocol's Attestation message");
  }
  return ok(undefined);
}

/** False for strings holding a lone UTF-16 surrogate, which serde_json (and so Trustee) refuses. */
export function isWellFormedString(s: string): boolean {
  return !/\p{Cs}/u.test(s);
}

/** `POST /kbs/v0/auth` body, typed. */
export interface KbsRequest {
  readonly version: string;
  readonly tee: KbsTee;
  readonly extraParams: unknown;
}

/** `POST /kbs/v0/auth` answer, typed. */
export interface KbsChallenge {
  readonly nonce: Nonce;
  readonly extraParams: ReturnType<typeof challengeExtraParams>;
}

/** `init-data` of an Attestation: the TOML text exactly as the guest holds it. */
export interface InitDataInput {
  readonly format: string;
  readonly body: string;
}

/** Runtime data bound into the primary evidence. `additionalEvidence` is the JSON *string* sent. */
export interface RuntimeDataInput {
  readonly nonce: string;
  readonly teePubKey: TeePubKey;
  readonly additionalEvidence: string;
}

/** `POST /kbs/v0/attest` body (protocol 0.4.0), typed; the TEE key already parsed. */
export interface KbsAttestation {
  readonly initData: InitDataInput | null;
  readonly runtimeData: { readonly nonce: string; readonly teePubKey: TeePubKey };
  readonly teeEvidence: { readonly primaryEvidence: unknown; readonly additionalEvidence: string };
}

/** The object whose canonical JSON is hashed into the primary evidence (Trustee `primary_runtime_data`). */
export function primaryRuntimeData(input: RuntimeDataInput): {
  readonly "tee-pubkey": TeePubKeyJwk;
  readonly nonce: string;
  readonly "additional-evidence": string;
} {
  return { "tee-pubkey": teePubKeyJwk(input.teePubKey), nonce: input.nonce, "additional-evidence": input.additionalEvidence };
}

/** The Challenge as sent (server side). */
export function challengeWire(c: KbsChallenge): { readonly nonce: string; readonly "extra-params": KbsChallenge["extraParams"] } {
  return { nonce: c.nonce, "extra-params": c.extraParams };
}

/** Guest side: the Request body for `tee`. */
export function requestWire(tee: KbsTee): { readonly version: string; readonly tee: KbsTee; readonly "extra-params": ReturnType<typeof requestExtraParams> } {
  return { version: KBS_PROTOCOL_VERSION, tee, "extra-params": requestExtraParams() };
}

/** Guest side: the Attestation body; `init-data` is always present, `null` when absent (kbs-types). */
export function attestationWire(a: KbsAttestation): Record<string, unknown> {
  return {
    "init-data": a.initData === null ? null : { format: a.initData.format, body: a.initData.body },
    "runtime-data": { nonce: a.runtimeData.nonce, "tee-pubkey": teePubKeyJwk(a.runtimeData.teePubKey) },
    "tee-evidence": { primary_evidence: a.teeEvidence.primaryEvidence, additional_evidence: a.teeEvidence.additionalEvidence },
  };
}
