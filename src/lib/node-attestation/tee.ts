/**
 * `tee` node attestation (the native path): an agent presents the key broker's attestation token and
 * a CSR. The token is verified by the caller (lib/kbs/token.ts, against Signet's own keys); here, from
 * its verified claims only, come the agent's SPIFFE ID and node selectors, and the check that the
 * CSR's key is the key the evidence bound (the token's `tee-pubkey`: the agent runs the RCAR handshake
 * with its SVID public key as `tee-pubkey`, so the SVID key is made inside the TEE and bound by the
 * hardware report; Trustee's proposed SPIRE plugin mints the key outside).
 *
 * Agent ID: `spiffe://<td>/signet/agent/tee/<id>`, `id` = hex of the first 16 bytes of
 * SHA-256("signet-tee-agent" ‖ tee ‖ platform identity ‖ measurement ‖ init-data digest), so the same
 * guest on the same platform re-attests to the same ID. Platform identity: SNP CHIP_ID (all zero when
 * the chip key is masked: then guests of one image and init-data share an ID), TDX PPID, sample none.
 *
 * Selectors (SPIRE's `type:value`, type "tee" … as issue 9 lists): `tee:type:<tee>`, `tee:status:<ear.status>`,
 * `snp:measurement:<hex>`, `snp:chip_id:<hex>`, `snp:host_data:<hex>`, `snp:policy:debug:<bool>`,
 * `tdx:mrtd:<hex>`, `tdx:mrconfigid:<hex>`, `tdx:rtmr<i>:<hex>`, `tdx:tcb_status:<status>`,
 * `sample:launch_digest:<value>`, `initdata:<sha256|sha384|sha512>:<hex>`. A contraindicated token
 * attests no node.
 */
import { toHex, utf8 } from "../encoding";
import { err, ok, type Result } from "../result";
import { parseTeePubKey, teePubKeyJwk } from "../kbs/tee-pubkey";
import { parseSpki } from "../x509/spki";

export type TeeNodeErrorReason = "token_claims_malformed" | "token_contraindicated" | "csr_key_not_bound";

export interface TeeNodeError {
  readonly reason: TeeNodeErrorReason;
  readonly detail: string;
}

export interface TeeNodeIdentity {
  /** The path of the agent's SPIFFE ID: `/signet/agent/tee/<id>`. */
  readonly agentPath: string;
  readonly selectors: readonly string[];
  readonly tee: "snp" | "tdx" | "sample";
}

const TEES = ["snp", "tdx", "sample"] as const;
const HEX = /^[0-9a-f]*$/;

function fail(reason: TeeNodeErrorReason, detail: string): { readonly ok: false; readonly error: TeeNodeError } {
  return err({ reason, detail });
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function hex(v: unknown, what: string, bytes?: number): Result<string, string> {
  if (typeof v !== "string" || !HEX.test(v) || v.length % 2 !== 0 || (bytes !== undefined && v.length !== bytes * 2)) return err(`${what} is not hex`);
  return ok(v);
}

const DIGEST_ALG: Record<number, string> = { 32: "sha256", 48: "sha384", 64: "sha512" };

/** The agent identity and node selectors from a verified attestation token's claims. Never throws. */
export async function teeNodeIdentity(claims: Record<string, unknown>): Promise<Result<TeeNodeIdentity, TeeNodeError>> {
  const cpu0 = record(record(claims.submods)?.cpu0);
  const evidence = record(cpu0?.["ear.veraison.annotated-evidence"]);
  if (!cpu0 || !evidence) return fail("token_claims_malformed", "the token has no submods.cpu0 annotated evidence");
  const status = cpu0["ear.status"];
  if (typeof status !== "string" || !["affirming", "warning", "none", "contraindicated"].includes(status)) return fail("token_claims_malformed", "ear.status is missing");
  if (status === "contraindicated") return fail("token_contraindicated", "a contraindicated attestation attests no node");
  const present = TEES.filter((t) => record(evidence[t]) !== undefined);
  if (present.length !== 1) return fail("token_claims_malformed", "the annotated evidence names no single TEE");
  const tee = present[0]!;
  const c = record(evidence[tee])!;
  const selectors = [`tee:type:${tee}`, `tee:status:${status}`];
  let platform = "";
  let measurement: string;
  try {
    if (tee === "snp") {
      measurement = unwrap(hex(c.measurement, "snp measurement", 48));
      const chip = unwrap(hex(c.chip_id, "snp chip_id", 64));
      const hostData = unwrap(hex(c.host_data, "snp host_data", 32));
      const debug = record(c.policy)?.debug;
      if (typeof debug !== "boolean") throw new Error("snp policy.debug is missing");
      platform = chip;
      selectors.push(`snp:measurement:${measurement}`, `snp:chip_id:${chip}`, `snp:host_data:${hostData}`, `snp:policy:debug:${debug}`);
    } else if (tee === "tdx") {
      measurement = unwrap(hex(c.mr_td, "tdx mr_td", 48));
      const configId = unwrap(hex(c.mr_config_id, "tdx mr_config_id", 48));
      const rtmr = c.rtmr;
      if (!Array.isArray(rtmr) || rtmr.length !== 4) throw new Error("tdx rtmr is not four registers");
      const status = c.tcb_status;
      if (typeof status !== "string" || !/^[A-Za-z]{1,40}$/.test(status)) throw new Error("tdx tcb_status is missing");
      selectors.push(`tdx:mrtd:${measurement}`, `tdx:mrconfigid:${configId}`, ...rtmr.map((r, i) => `tdx:rtmr${i}:${unwrap(hex(r, `tdx rtmr${i}`, 48))}`), `tdx:tcb_status:${status}`);
      platform = typeof evidence.platform_id === "string" ? unwrap(hex(evidence.platform_id, "platform_id")) : "";
    } else {
      const digest = c.launch_digest;
      if (typeof digest !== "string" || digest.length === 0 || digest.length > 256 || /[^\x21-\x7e]/.test(digest)) throw new Error("sample launch_digest is missing");
      measurement = digest;
      selectors.push(`sample:launch_digest:${digest}`);
    }
  } catch (e) {
    return fail("token_claims_malformed", e instanceof Error ? e.message : "the claims do not parse");
  }
  let initData = "";
  if (evidence.init_data !== undefined) {
    const d = hex(evidence.init_data, "init_data");
    const alg = d.ok ? DIGEST_ALG[d.value.length / 2] : undefined;
    if (!d.ok || !alg) return fail("token_claims_malformed", "init_data is not a SHA-256/384/512 digest in hex");
    initData = d.value;
    selectors.push(`initdata:${alg}:${initData}`);
  }
  const seed = utf8(["signet-tee-agent", tee, platform, measurement, initData].join("\u0000"));
  const id = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", seed)).subarray(0, 16));
  return ok({ agentPath: `/signet/agent/tee/${id}`, selectors, tee });
}

function unwrap(r: Result<string, string>): string {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** Checks that a CSR's public key (DER SubjectPublicKeyInfo) is the `tee-pubkey` the evidence bound. */
export async function csrKeyIsBound(claims: Record<string, unknown>, spki: Uint8Array): Promise<Result<void, TeeNodeError>> {
  const evidence = record(record(record(claims.submods)?.cpu0)?.["ear.veraison.annotated-evidence"]);
  const bound = parseTeePubKey(record(evidence?.runtime_data_claims)?.["tee-pubkey"]);
  if (!bound.ok) return fail("csr_key_not_bound", "the token carries no usable tee-pubkey");
  const info = parseSpki(spki);
  if (!info.ok) return fail("csr_key_not_bound", "the CSR's key does not parse");
  let csrJwk: JsonWebKey;
  try {
    const params = info.value.kind === "ec" ? { name: "ECDSA", namedCurve: info.value.curve } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    csrJwk = (await crypto.subtle.exportKey("jwk", await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, params, true, ["verify"]))) as JsonWebKey;
  } catch {
    return fail("csr_key_not_bound", "the CSR's key does not import");
  }
  const jwk = teePubKeyJwk(bound.value) as { kty: string; crv?: string; x?: string; y?: string; n?: string; e?: string };
  const same = info.value.kind === "ec" ? jwk.kty === "EC" && jwk.crv === csrJwk.crv && jwk.x === csrJwk.x && jwk.y === csrJwk.y : jwk.kty === "RSA" && jwk.n === csrJwk.n && jwk.e === csrJwk.e;
  return same ? ok(undefined) : fail("csr_key_not_bound", "the CSR's key is not the tee-pubkey the evidence bound");
}
