/**
 * The claims of a verified TDX quote: a stable JSON shape (snake_case, hex in lowercase) that the
 * CLI prints, policies appraise and tokens will carry. `mr_service_td` is present for TD 1.5 bodies
 * (quote v5, body type 3) only. TD attributes are decoded (TDX module spec, TDATTRIBUTES):
 * bit 0 DEBUG, 28 SEPT_VE_DISABLE, 30 PKS, 31 KL, 63 PERFMON.
 */
import { claimHex as toHex } from "../hex";
import type { TdxQuote } from "./quote";
import type { TcbEvaluation, TdxTcbStatus } from "./tcb-evaluation";

export interface TdAttributes {
  readonly debug: boolean;
  readonly sept_ve_disable: boolean;
  readonly pks: boolean;
  readonly kl: boolean;
  readonly perfmon: boolean;
  /** The 8 bytes as they appear in the quote (little-endian), hex. */
  readonly raw: string;
}

/** A type alias (not an interface) so that it is a `Record<string, unknown>`, as TeeClaims carries it. */
export type TdxClaims = {
  readonly quote_version: 4 | 5;
  readonly tee_tcb_svn: string;
  readonly mr_seam: string;
  readonly mr_signer_seam: string;
  readonly seam_attributes: string;
  readonly td_attributes: TdAttributes;
  readonly xfam: string;
  readonly mr_td: string;
  readonly mr_config_id: string;
  readonly mr_owner: string;
  readonly mr_owner_config: string;
  readonly rtmr: readonly [string, string, string, string];
  readonly report_data: string;
  readonly mr_service_td?: string;
  readonly fmspc: string;
  readonly tcb_status: TdxTcbStatus;
  readonly advisory_ids: readonly string[];
  /** ISO 8601: the earliest nextUpdate / notAfter among the collateral and certificates used. */
  readonly collateral_expires_at: string;
};

/** Bit `n` of the little-endian 64-bit TDATTRIBUTES. */
function bit(attributes: Uint8Array, n: number): boolean {
  return ((attributes[n >> 3]! >> (n & 7)) & 1) === 1;
}

export function decodeTdAttributes(attributes: Uint8Array): TdAttributes {
  return {
    debug: bit(attributes, 0),
    sept_ve_disable: bit(attributes, 28),
    pks: bit(attributes, 30),
    kl: bit(attributes, 31),
    perfmon: bit(attributes, 63),
    raw: toHex(attributes),
  };
}

export interface ClaimsInput {
  readonly quote: TdxQuote;
  readonly fmspc: Uint8Array;
  readonly tcb: TcbEvaluation;
  readonly expiresAt: number;
}

export function buildTdxClaims({ quote, fmspc, tcb, expiresAt }: ClaimsInput): TdxClaims {
  const b = quote.body;
  return {
    quote_version: quote.version,
    tee_tcb_svn: toHex(b.teeTcbSvn),
    mr_seam: toHex(b.mrSeam),
    mr_signer_seam: toHex(b.mrSignerSeam),
    seam_attributes: toHex(b.seamAttributes),
    td_attributes: decodeTdAttributes(b.tdAttributes),
    xfam: toHex(b.xfam),
    mr_td: toHex(b.mrTd),
    mr_config_id: toHex(b.mrConfigId),
    mr_owner: toHex(b.mrOwner),
    mr_owner_config: toHex(b.mrOwnerConfig),
    rtmr: [toHex(b.rtmr[0]), toHex(b.rtmr[1]), toHex(b.rtmr[2]), toHex(b.rtmr[3])],
    report_data: toHex(b.reportData),
    ...(b.mrServiceTd ? { mr_service_td: toHex(b.mrServiceTd) } : {}),
    fmspc: toHex(fmspc),
    tcb_status: tcb.status,
    advisory_ids: [...new Set(tcb.advisoryIds)],
    collateral_expires_at: new Date(expiresAt).toISOString(),
  };
}
