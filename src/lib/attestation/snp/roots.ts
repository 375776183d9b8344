/**
 * The pinned AMD roots: for each product the ARK (self-signed root), the ASK (signs VCEKs) and the
 * ASVK (signs VLEKs). They are compiled in; a chain is never trusted because evidence carries it, so
 * roots or intermediates supplied with evidence are ignored and these are used instead.
 *
 * They are parsed and checked once per isolate (ARK self-signature, ASK/ASVK under the ARK,
 * RSASSA-PSS SHA-384 salt 48, AMD DNs); validity windows are checked on every verification.
 */
import { fromPemAll } from "../../encoding";
import { ok, type Result } from "../../result";
import { commonName, parseCertificate, type AlgorithmIdentifier, type ParsedCertificate } from "../../x509/cert-reader";
import { bytesEqual } from "../../x509/der-reader";
import { signatureScheme, verifySignedData } from "../../x509/signed-data";
import { snpFail, type SnpFailure } from "./errors";
import type { SnpProduct } from "./product";
import { GENOA_ARK_PEM, GENOA_ASK_PEM, GENOA_ASVK_PEM } from "./roots/genoa";
import { MILAN_ARK_PEM, MILAN_ASK_PEM, MILAN_ASVK_PEM } from "./roots/milan";
import { TURIN_ARK_PEM, TURIN_ASK_PEM, TURIN_ASVK_PEM } from "./roots/turin";

export interface RootPems {
  readonly ark: string;
  readonly ask: string;
  readonly asvk: string;
}

export const PINNED_ROOT_PEMS: Readonly<Record<SnpProduct, RootPems>> = Object.freeze({
  Milan: { ark: MILAN_ARK_PEM, ask: MILAN_ASK_PEM, asvk: MILAN_ASVK_PEM },
  Genoa: { ark: GENOA_ARK_PEM, ask: GENOA_ASK_PEM, asvk: GENOA_ASVK_PEM },
  Turin: { ark: TURIN_ARK_PEM, ask: TURIN_ASK_PEM, asvk: TURIN_ASVK_PEM },
});

export interface ProductRoots {
  readonly product: SnpProduct;
  readonly ark: ParsedCertificate;
  /** Issues VCEKs. */
  readonly ask: ParsedCertificate;
  /** Issues VLEKs. */
  readonly asvk: ParsedCertificate;
}

/** The AMD location attributes every ARK/ASK/ASVK/VCEK/VLEK name carries (besides CN). */
const AMD_DN: ReadonlyArray<readonly [string, string]> = [
  ["2.5.4.11", "Engineering"],
  ["2.5.4.6", "US"],
  ["2.5.4.7", "Santa Clara"],
  ["2.5.4.8", "CA"],
  ["2.5.4.10", "Advanced Micro Devices"],
];

/** True when `name` is an AMD DN: the five location attributes, each once, and one CN equal to `cn`. */
export function isAmdName(name: ReadonlyMap<string, readonly string[]>, cn: string): boolean {
  if (name.size !== AMD_DN.length + 1) return false;
  const cns = name.get("2.5.4.3");
  if (cns?.length !== 1 || cns[0] !== cn) return false;
  return AMD_DN.every(([oid, value]) => {
    const v = name.get(oid);
    return v?.length === 1 && v[0] === value;
  });
}

/** AMD signs every certificate in these chains with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48. */
export function isAmdSignatureAlgorithm(alg: AlgorithmIdentifier): boolean {
  const s = signatureScheme(alg);
  return s.ok && s.value.kind === "pss" && s.value.hash === "SHA-384" && s.value.saltLength === 48;
}

let memo: Promise<Result<readonly ProductRoots[], SnpFailure>> | undefined;

/** The parsed, mutually verified pinned roots of every product (computed once, then shared). */
export function pinnedRoots(): Promise<Result<readonly ProductRoots[], SnpFailure>> {
  if (!memo) {
    const attempt = loadAll();
    memo = attempt;
    // Only success is kept: a failure (which would be a bug) is retried on the next call.
    void attempt.then((r) => {
      if (!r.ok && memo === attempt) memo = undefined;
    });
  }
  return memo;
}

async function loadAll(): Promise<Result<readonly ProductRoots[], SnpFailure>> {
  const out: ProductRoots[] = [];
  for (const product of Object.keys(PINNED_ROOT_PEMS) as SnpProduct[]) {
    const one = await loadProduct(product, PINNED_ROOT_PEMS[product]);
    if (!one.ok) return one;
    out.push(one.value);
  }
  return ok(out);
}

async function loadProduct(product: SnpProduct, pems: RootPems): Promise<Result<ProductRoots, SnpFailure>> {
  const ark = pinnedCert(pems.ark, `ARK-${product}`);
  const ask = pinnedCert(pems.ask, `SEV-${product}`);
  const asvk = pinnedCert(pems.asvk, `SEV-VLEK-${product}`);
  if (!ark.ok) return ark;
  if (!ask.ok) return ask;
  if (!asvk.ok) return asvk;
  for (const c of [ark.value, ask.value, asvk.value]) {
    if (!bytesEqual(c.issuerRaw, ark.value.subjectRaw)) return broken(`${commonName(c.subject)} is not issued by ARK-${product}`);
    const sig = await verifySignedData(c.signatureAlgorithm, c.tbs, c.signature, ark.value.spki);
    if (!sig.ok) return broken(`${commonName(c.subject)} signature does not verify under ARK-${product}`);
  }
  return ok({ product, ark: ark.value, ask: ask.value, asvk: asvk.value });
}

function pinnedCert(pem: string, cn: string): Result<ParsedCertificate, SnpFailure> {
  const ders = fromPemAll(pem, "CERTIFICATE");
  const der = ders?.length === 1 ? ders[0] : undefined;
  const cert = der ? parseCertificate(der) : undefined;
  if (!cert?.ok) return broken(`pinned ${cn} does not parse`);
  if (cert.value.version !== 3 || !isAmdName(cert.value.subject, cn) || !isAmdSignatureAlgorithm(cert.value.signatureAlgorithm)) {
    return broken(`pinned ${cn} is not an AMD v3 RSASSA-PSS certificate named ${cn}`);
  }
  return ok(cert.value);
}

function broken(detail: string) {
  return snpFail("vcek_chain_invalid", `pinned AMD roots: ${detail}`);
}
