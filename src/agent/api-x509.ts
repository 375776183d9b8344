/**
 * `signet-agent api fetch x509`: the caller's X.509-SVIDs from the first FetchX509SVID message,
 * checked as spire-agent checks them (a SPIFFE ID, certificates, a PKCS#8 key, a non-empty bundle,
 * the chain verified against it), printed as spire-agent prints them (or as JSON), and with
 * `--write DIR` written as `svid.N.pem`, `svid.N.key` (PKCS#8 PEM, 0600), `bundle.N.pem` and
 * `federated_bundle.N.M.pem` (trust domains in sorted order), each staged then renamed into place.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { resolve } from "node:path";
import { writeFilesAtomically, type FileToWrite } from "../node/files";
import { toBase64, toPem } from "../lib/encoding";
import { parseSpiffeId } from "../lib/spiffe/id";
import type { X509SvidResponse } from "./api-messages";
import { ApiFailure, EXIT_REFUSED, EXIT_UNREACHABLE, type ApiIo, type OutputFormat } from "./api-common";

export interface CheckedSvid {
  readonly spiffeId: string;
  readonly hint: string;
  readonly certificates: readonly X509Certificate[];
  readonly key: KeyObject;
  readonly keyPkcs8: Uint8Array;
  readonly bundle: readonly X509Certificate[];
}

export interface CheckedX509Response {
  readonly svids: readonly CheckedSvid[];
  /** `spiffe://<td>` → its CAs, sorted by trust domain. */
  readonly federated: readonly (readonly [string, readonly X509Certificate[]])[];
}

/** Concatenated DER (each a SEQUENCE with a definite length) → the certificates; throws on garbage. */
export function splitCertificates(der: Uint8Array, what: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  let pos = 0;
  while (pos < der.length) {
    if (der[pos] !== 0x30 || pos + 2 > der.length) throw new Error(`${what}: not DER certificates`);
    let len = der[pos + 1]!;
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || pos + 2 + n > der.length) throw new Error(`${what}: bad DER length`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[pos + 2 + i]!;
      header += n;
    }
    const end = pos + header + len;
    if (end > der.length) throw new Error(`${what}: truncated certificate`);
    try {
      out.push(new X509Certificate(der.subarray(pos, end)));
    } catch {
      throw new Error(`${what}: a certificate does not parse`);
    }
    pos = end;
  }
  return out;
}

/** Does `cert` verify under one of `issuers` (name and signature)? */
function issuedBy(cert: X509Certificate, issuers: readonly X509Certificate[]): boolean {
  return issuers.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
}

function checkSvid(entry: X509SvidResponse["svids"][number], index: number): CheckedSvid {
  const where = `SVID #${index} (${JSON.stringify(entry.spiffeId)})`;
  if (!parseSpiffeId(entry.spiffeId).ok) throw new Error(`${where}: not a SPIFFE ID`);
  const certificates = splitCertificates(entry.x509Svid, `${where} certificates`);
  if (certificates.length === 0) throw new Error(`${where}: no certificates`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(entry.x509SvidKey), format: "der", type: "pkcs8" });
  } catch {
    throw new Error(`${where}: the private key is not PKCS#8`);
  }
  const bundle = splitCertificates(entry.bundle, `${where} bundle`);
  if (bundle.length === 0) throw new Error(`${where}: no certificates in the trust bundle`);
  const leaf = certificates[0]!;
  const uris = (leaf.subjectAltName ?? "").split(", ").filter((n) => n.startsWith("URI:"));
  if (uris.length !== 1 || uris[0] !== `URI:${entry.spiffeId}`) throw new Error(`${where}: the certificate is not for this SPIFFE ID`);
  if (!leaf.checkPrivateKey(key)) throw new Error(`${where}: the private key does not match the certificate`);
  // Leaf, then each intermediate, must be issued by the next one up or by a bundle CA.
  for (let i = 0; i < certificates.length; i++) {
    const up = i + 1 < certificates.length ? [certificates[i + 1]!, ...bundle] : bundle;
    if (!issuedBy(certificates[i]!, up)) throw new Error(`${where}: failed verification against the bundle`);
  }
  return { spiffeId: entry.spiffeId, hint: entry.hint, certificates, key, keyPkcs8: entry.x509SvidKey, bundle };
}

/** The checks spire-agent makes of a FetchX509SVID answer; failures are an unusable answer (exit 3). */
export function checkX509Response(resp: X509SvidResponse): CheckedX509Response {
  try {
    if (resp.svids.length === 0) throw new Error("the answer contains no SVIDs");
    const federated = [...resp.federatedBundles.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([td, der]) => {
        const cas = splitCertificates(der, `the federated bundle of ${td}`);
        if (cas.length === 0) throw new Error(`no certificates in the federated bundle of ${td}`);
        return [td, cas] as const;
      });
    return { svids: resp.svids.map(checkSvid), federated };
  } catch (e) {
    throw new ApiFailure(`fetch x509: the agent's answer is unusable: ${(e as Error).message}`, EXIT_UNREACHABLE);
  }
}

export function isoTime(s: string): string {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString();
}

function validity(prefix: string, c: X509Certificate): string {
  return `${prefix} Valid After:\t${isoTime(c.validFrom)}\n${prefix} Valid Until:\t${isoTime(c.validTo)}\n`;
}

export function formatX509Pretty(checked: CheckedX509Response, elapsedMs: number): string {
  const n = checked.svids.length;
  let out = `Received ${n} svid${n === 1 ? "" : "s"} after ${elapsedMs.toFixed(1)}ms\n`;
  for (const svid of checked.svids) {
    out += `\nSPIFFE ID:\t\t${svid.spiffeId}\n`;
    if (svid.hint !== "") out += `Hint:\t\t\t${svid.hint}\n`;
    out += validity("SVID", svid.certificates[0]!);
    svid.certificates.slice(1).forEach((c, i) => (out += validity(`Intermediate #${i + 1}`, c)));
    svid.bundle.forEach((c, i) => (out += validity(`CA #${i + 1}`, c)));
    for (const [td, cas] of checked.federated) cas.forEach((c, i) => (out += validity(`[${td}] CA #${i + 1}`, c)));
  }
  return `${out}\n`;
}

/** The response as protojson with proto field names (bytes base64), as spire-agent's `-output json`. */
export function formatX509Json(resp: X509SvidResponse): string {
  const json = {
    svids: resp.svids.map((s) => ({ spiffe_id: s.spiffeId, x509_svid: toBase64(s.x509Svid), x509_svid_key: toBase64(s.x509SvidKey), bundle: toBase64(s.bundle), hint: s.hint })),
    crl: resp.crl.map(toBase64),
    federated_bundles: Object.fromEntries([...resp.federatedBundles].map(([td, der]) => [td, toBase64(der)])),
  };
  return `${JSON.stringify(json)}\n`;
}

function pemCertificates(certs: readonly X509Certificate[]): string {
  return certs.map((c) => toPem("CERTIFICATE", c.raw)).join("");
}

/** The files `--write DIR` leaves, in spire-agent's names. */
export function x509Files(checked: CheckedX509Response): { file: FileToWrite; label: string }[] {
  const files: { file: FileToWrite; label: string }[] = [];
  checked.svids.forEach((svid, i) => {
    files.push({ label: `SVID #${i}`, file: { name: `svid.${i}.pem`, contents: pemCertificates(svid.certificates), mode: 0o644 } });
    files.push({ label: `key #${i}`, file: { name: `svid.${i}.key`, contents: toPem("PRIVATE KEY", svid.keyPkcs8), mode: 0o600 } });
    files.push({ label: `bundle #${i}`, file: { name: `bundle.${i}.pem`, contents: pemCertificates(svid.bundle), mode: 0o644 } });
    checked.federated.forEach(([td, cas], j) => {
      files.push({ label: `federated bundle #${j} for trust domain ${td}`, file: { name: `federated_bundle.${i}.${j}.pem`, contents: pemCertificates(cas), mode: 0o644 } });
    });
  });
  return files;
}

export async function writeX509(io: ApiIo, dir: string, checked: CheckedX509Response, format: OutputFormat): Promise<void> {
  const target = resolve(io.cwd, dir);
  const files = x509Files(checked);
  const written = await writeFilesAtomically(target, files.map((f) => f.file));
  if (!written.ok) throw new ApiFailure(`fetch x509: cannot write ${written.error.path}: ${written.error.message}`, EXIT_REFUSED);
  if (format === "pretty") for (const [i, f] of files.entries()) io.stdout(`Wrote ${f.label} to file ${written.value[i]}.\n`);
}
