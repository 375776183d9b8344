/**
 * Init-data (trustee `kbs/docs/initdata.md`): a TOML document the host injects into the guest,
 * whose digest the TEE measures (SNP HOST_DATA, TDX MRCONFIGID). The guest sends the text verbatim
 * as `init-data: {format: "toml", body}`; the server parses it for `version`, `algorithm` and the
 * `data` map, digests the *whole text* with `algorithm`, and compares the digest with the field.
 * Mirrors trustee `attestation-service/src/lib.rs` (`parse_init_data`, `extract_policy_data`) and
 * `kbs/src/attestation/coco/builtin.rs` (only `toml` is accepted). TOML is read with `smol-toml`.
 *
 * Bounded: the text may be at most INIT_DATA_MAX_BYTES of UTF-8 and inline nesting at most
 * TOML_MAX_DEPTH. Pure and synchronous except the digest; never throws on hostile input.
 */
import { parse, TomlDate } from "smol-toml";
import { utf8 } from "../encoding";
import { ok, type Result } from "../result";
import { kbsFail, type KbsFailure } from "./errors";
import { digestWith, HASH_ALGORITHMS, isWellFormedString, type HashAlgorithm, type InitDataInput } from "./protocol";

/** The one format accepted (guest-components `INIT_DATA_FORMAT`). */
export const INIT_DATA_FORMAT = "toml";

/**
 * 512 KiB: eight times Trustee's own init-data-with-policy test document (a full Kata agent
 * policy, 62 kB), and a quarter of the 2 MiB request limit the whole Attestation shares.
 */
export const INIT_DATA_MAX_BYTES = 512 * 1024;

const TOML_MAX_DEPTH = 64;

export interface InitData {
  readonly version: string;
  readonly algorithm: HashAlgorithm;
  /** The `data` table: every value a string, as Trustee's `HashMap<String, String>` requires. */
  readonly data: Readonly<Record<string, string>>;
  /** The text as received: what the digest is computed over. */
  readonly body: string;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof TomlDate);
}

function parseToml(text: string): Record<string, unknown> | undefined {
  try {
    return parse(text, { integersAsBigInt: "asNeeded", maxDepth: TOML_MAX_DEPTH });
  } catch {
    return undefined;
  }
}

/** Parses an Attestation's `init-data`: format, size, TOML, then the three members Trustee reads. */
export function parseInitData(input: InitDataInput): Result<InitData, KbsFailure> {
  if (input.format !== INIT_DATA_FORMAT) {
    return kbsFail("unsupported_init_data_format", `Unsupported initdata format: ${JSON.stringify(String(input.format).slice(0, 64))}`);
  }
  const body = input.body;
  if (typeof body !== "string") return kbsFail("malformed_init_data", "init-data body is not a string");
  if (body.length > INIT_DATA_MAX_BYTES || utf8(body).length > INIT_DATA_MAX_BYTES) {
    return kbsFail("init_data_too_large", `init-data is larger than ${INIT_DATA_MAX_BYTES} bytes`);
  }
  if (!isWellFormedString(body)) return kbsFail("malformed_init_data", "init-data is not valid Unicode text");
  const doc = parseToml(body);
  if (!doc) return kbsFail("malformed_init_data", "init-data is not a TOML document");
  const { version, algorithm, data } = doc;
  if (typeof version !== "string") return kbsFail("malformed_init_data", 'init-data: "version" is missing or not a string');
  if (typeof algorithm !== "string") return kbsFail("malformed_init_data", 'init-data: "algorithm" is missing or not a string');
  const alg = HASH_ALGORITHMS.find((h) => h === algorithm);
  if (!alg) {
    return kbsFail("unsupported_init_data_algorithm", `init-data: algorithm ${JSON.stringify(algorithm.slice(0, 64))} is not one of ${HASH_ALGORITHMS.join(", ")}`);
  }
  if (!isTable(data)) return kbsFail("malformed_init_data", 'init-data: "data" is missing or not a table');
  const entries = Object.entries(data);
  const notString = entries.find(([, v]) => typeof v !== "string");
  if (notString) return kbsFail("malformed_init_data", `init-data: data.${JSON.stringify(notString[0].slice(0, 64))} is not a string`);
  return ok({ version, algorithm: alg, data: Object.fromEntries(entries) as Record<string, string>, body });
}

/** `algorithm` over the whole text's UTF-8 bytes (32, 48 or 64 bytes). */
export async function initDataDigest(initData: InitData): Promise<Uint8Array> {
  return digestWith(initData.algorithm, utf8(initData.body));
}


/** Members of `data` that hold TOML configuration, converted to JSON in the claims. */
const TOML_MEMBERS = ["cdh.toml", "aa.toml"] as const;
const POLICY_MEMBER = "policy.rego";
const POLICY_CLAIMS = "agent_policy_claims";
const POLICY_DATA_START = "policy_data := {";

/**
 * TOML values as JSON. Where serde would differ, simply: a non-finite float becomes null (as
 * serde_json writes it), an integer beyond 2^53 its decimal string, a date or time its TOML text
 * (smol-toml's `toISOString`). Undefined past TOML_MAX_DEPTH.
 */
function tomlToJson(v: unknown, depth: number): unknown {
  if (depth > TOML_MAX_DEPTH) return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof TomlDate) return v.toISOString();
  if (Array.isArray(v)) {
    const out = v.map((x) => tomlToJson(x, depth + 1));
    return out.includes(undefined) ? undefined : out;
  }
  if (isTable(v)) {
    const out = Object.entries(v).map(([k, x]) => [k, tomlToJson(x, depth + 1)] as const);
    return out.some(([, x]) => x === undefined) ? undefined : Object.fromEntries(out);
  }
  return v;
}

/** True when a parsed JSON value nests at most `max` deep and holds no lone surrogate. Iterative. */
function isBoundedJson(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string" && !isWellFormedString(v)) return false;
    if (typeof v !== "object" || v === null) continue;
    if (depth >= max) return false;
    for (const [k, x] of Object.entries(v)) {
      if (!isWellFormedString(k)) return false;
      stack.push([x, depth + 1]);
    }
  }
  return true;
}

/**
 * The JSON after `policy_data := {` in a Kata agent policy, which must run to the end of the text
 * (Trustee's assumption, kept), or undefined.
 */
export function extractPolicyData(rego: string): unknown {
  const at = rego.indexOf(POLICY_DATA_START);
  if (at < 0) return undefined;
  try {
    const value: unknown = JSON.parse(rego.slice(at + POLICY_DATA_START.length - 1));
    return isBoundedJson(value, TOML_MAX_DEPTH) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token's `init_data_claims`: the `data` map, with `cdh.toml` and `aa.toml` converted from TOML
 * to JSON (kept as the string if they do not parse), and `policy.rego` replaced by
 * `agent_policy_claims` when its `policy_data` can be extracted (kept otherwise).
 */
export function initDataClaims(initData: InitData): Record<string, unknown> {
  const claims: Record<string, unknown> = Object.fromEntries(Object.entries(initData.data));
  for (const key of TOML_MEMBERS) {
    const text = Object.hasOwn(claims, key) ? claims[key] : undefined;
    if (typeof text !== "string") continue;
    const doc = parseToml(text);
    const json = doc ? tomlToJson(doc, 0) : undefined;
    if (json !== undefined) claims[key] = json;
  }
  const rego = Object.hasOwn(claims, POLICY_MEMBER) ? claims[POLICY_MEMBER] : undefined;
  if (typeof rego === "string") {
    const policyData = extractPolicyData(rego);
    if (policyData !== undefined) {
      delete claims[POLICY_MEMBER];
      claims[POLICY_CLAIMS] = policyData;
    }
  }
  return claims;
}
