/**
 * Certificate chains to the pinned Intel SGX Root CA, as Intel QVL checks them (PckCertVerifier,
 * TCBSigningChain, PckCrlVerifier): a fixed length, a CN phrase per position, each certificate's
 * issuer DN equal to its parent's subject and its signature valid under the parent's key, and the
 * chain's root equal to the trust anchor. QVL compares the root's signature bytes; we compare subject
 * and public key (so a re-issued root with the same key still matches, a same-DN impostor does not),
 * require the chain's root copy to be the anchor or self-signed under its key, and verify the first
 * intermediate with the anchor's own key.
 *
 * Validity is not decided here: `windows` lists each certificate's period, so that a cached chain
 * check is re-checked against the verification time on every call (`checkValidity`).
 */
import { err, ok, type Result } from "../../result";
import { bytesEqual } from "../../x509/der-reader";
import { commonName, type ParsedCertificate } from "../../x509/cert-reader";
import { verifySignedData } from "../../x509/signed-data";
import { tdxFail, type TdxFailure, type TdxFailureReason } from "./errors";

/** A period something is valid for, and the codes for being outside it. */
export interface ValidityWindow {
  readonly what: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly expired: TdxFailureReason;
  readonly notYetValid: TdxFailureReason;
}

/** A list of windows (in check order) with their intersection, for a fast in-window test. */
export interface Validity {
  readonly windows: readonly ValidityWindow[];
  /** The latest notBefore. */
  readonly validFrom: number;
  /** The earliest notAfter: when the first item expires. */
  readonly expiresAt: number;
}

export function validity(windows: readonly ValidityWindow[]): Validity {
  return {
    windows,
    validFrom: Math.max(...windows.map((w) => w.notBefore)),
    expiresAt: Math.min(...windows.map((w) => w.notAfter)),
  };
}

/** Intel QVL: valid while notBefore ≤ T ≤ notAfter (T == nextUpdate is still valid). The first window T is outside of fails. */
export function checkValidity(v: Validity, now: number): Result<void, TdxFailure> {
  if (now >= v.validFrom && now <= v.expiresAt) return ok(undefined);
  for (const w of v.windows) {
    if (now < w.notBefore) return tdxFail(w.notYetValid, `${w.what} is not valid before ${new Date(w.notBefore).toISOString()}`);
    if (now > w.notAfter) return tdxFail(w.expired, `${w.what} expired at ${new Date(w.notAfter).toISOString()}`);
  }
  return ok(undefined);
}

export function certificateWindows(chain: readonly ParsedCertificate[], expired: TdxFailureReason, notYetValid: TdxFailureReason): ValidityWindow[] {
  return chain.map((c) => ({ what: `certificate "${commonName(c.subject) ?? "?"}"`, notBefore: c.notBefore, notAfter: c.notAfter, expired, notYetValid }));
}

export function sameKeyAndName(a: ParsedCertificate, b: ParsedCertificate): boolean {
  return bytesEqual(a.subjectRaw, b.subjectRaw) && bytesEqual(a.spki, b.spki);
}

/** Checks `cert` was issued by `issuer`: DN link and signature. Returns a reason on failure. */
export async function issuedBy(cert: ParsedCertificate, issuer: ParsedCertificate): Promise<string | undefined> {
  const name = commonName(cert.subject) ?? "?";
  if (!bytesEqual(cert.issuerRaw, issuer.subjectRaw)) return `the issuer of "${name}" is not "${commonName(issuer.subject) ?? "?"}"`;
  const sig = await verifySignedData(cert.signatureAlgorithm, cert.tbs, cert.signature, issuer.spki);
  return sig.ok ? undefined : `the signature on "${name}" does not verify (${sig.error.reason})`;
}

/**
 * Verifies `chain` (leaf first, root last) against `anchor`; `phrases[i]` must occur in the CN of
 * `chain[i]`. Returns a human reason on failure.
 */
export async function verifyChain(chain: readonly ParsedCertificate[], phrases: readonly string[], anchor: ParsedCertificate): Promise<Result<void, string>> {
  if (chain.length !== phrases.length) return err(`expected ${phrases.length} certificates, found ${chain.length}`);
  for (const [i, phrase] of phrases.entries()) {
    const cn = commonName(chain[i]!.subject) ?? "";
    if (!cn.includes(phrase)) return err(`certificate ${i} has CN "${cn.slice(0, 80)}", expected one containing "${phrase}"`);
  }
  const root = chain[chain.length - 1]!;
  if (!sameKeyAndName(root, anchor)) return err("the chain does not end in the trusted Intel SGX Root CA");
  // The chain's copy of the root must be intact too (QVL verifies its self-signature): identical to
  // the anchor, or a re-issue of it under the same name and key.
  if (!bytesEqual(root.der, anchor.der)) {
    const reason = await issuedBy(root, anchor);
    if (reason) return err(`the chain's root certificate is not intact: ${reason}`);
  }
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = i + 1 === chain.length - 1 ? anchor : chain[i + 1]!;
    const reason = await issuedBy(chain[i]!, parent);
    if (reason) return err(reason);
  }
  return ok(undefined);
}
