/**
 * Worker configuration: string vars and secrets (wrangler.toml [vars], .dev.vars, `wrangler secret`)
 * parsed once into a typed `Config`. Misconfiguration is a value, so the Worker can refuse to serve.
 */
import { z } from "zod";
import { parseDuration } from "./duration";
import { parseTrustDomain, type TrustDomain } from "./spiffe/id";
import { fromBase64, fromPemAll } from "./encoding";
import { parseCertificate } from "./x509/cert-reader";
import { isCa } from "./x509/extensions";
import type { KeyType } from "./x509/algorithms";
import { err, ok, type Result } from "./result";
import { DEFAULT_KDS_URL } from "./attestation/collateral/amd-kds";
import { DEFAULT_PCS_URL, DEFAULT_ROOT_CA_CRL_URL } from "./attestation/collateral/intel-pcs";

export type Profile = "permissive" | "restricted";

export interface Config {
  readonly trustDomain: TrustDomain;
  readonly profile: Profile;
  /** Fixed OIDC issuer, or undefined: the origin of each request. */
  readonly oidcIssuer: string | undefined;
  readonly caKeyType: KeyType;
  /** Seconds. */
  readonly caTtl: number;
  readonly defaultX509SvidTtl: number;
  readonly defaultJwtSvidTtl: number;
  readonly bundleRefreshHint: number;
  /** Where attestation collateral comes from (AMD KDS, Intel PCS or a PCCS, the SGX Root CA CRL). */
  readonly collateralSources: CollateralSources;
  /** Key broker: `extra-params.policy-selector` value → attestation policy id (unmapped selectors are refused). */
  readonly kbsPolicySelectors: Readonly<Record<string, string>>;
  /** x509pop node attestation: DER CA certificates agents' bootstrap certificates chain to (none: x509pop is off). */
  readonly x509popTrustAnchors: readonly Uint8Array[];
}

export interface CollateralSources {
  readonly kds: string;
  readonly pcs: string;
  readonly rootCrl: string;
}

export interface Secrets {
  readonly adminToken: string;
  /** Raw 32-byte key-encryption key. */
  readonly kek: Uint8Array;
}

export interface ConfigError {
  readonly reason: "invalid_config";
  readonly detail: string;
}

const RawVars = z.object({
  TRUST_DOMAIN: z.string().default("example.org"),
  SIGNET_PROFILE: z.enum(["permissive", "restricted"]).default("permissive"),
  OIDC_ISSUER: z.string().default(""),
  CA_KEY_TYPE: z.enum(["ec-p256", "ec-p384", "rsa-2048"]).default("ec-p256"),
  CA_TTL: z.string().default("24h"),
  DEFAULT_X509_SVID_TTL: z.string().default("1h"),
  DEFAULT_JWT_SVID_TTL: z.string().default("5m"),
  BUNDLE_REFRESH_HINT: z.string().default("5m"),
  AMD_KDS_URL: z.string().default(""),
  INTEL_PCS_URL: z.string().default(""),
  INTEL_ROOT_CA_CRL_URL: z.string().default(""),
  KBS_POLICY_SELECTORS: z.string().default(""),
  X509POP_CA_BUNDLE: z.string().default(""),
});

/**
 * What configuration is read from: the Worker's and every Durable Object's `env` (wrangler's `Env`
 * is assignable to it), or a plain record in tests.
 */
export type ConfigVars = { readonly [K in keyof z.input<typeof RawVars> | "SIGNET_ADMIN_TOKEN" | "SIGNET_KEK"]?: unknown };

/** Smallest CA lifetime we accept: the rotation schedule (1/2, 5/6) needs room for SVIDs. */
export const MIN_CA_TTL_SECONDS = 60 * 60;

export function parseConfig(vars: ConfigVars): Result<Config, ConfigError> {
  const raw = RawVars.safeParse(vars);
  if (!raw.success) {
    const issue = raw.error.issues[0];
    return err({ reason: "invalid_config", detail: `${issue?.path.join(".") ?? "vars"}: ${issue?.message ?? "invalid"}` });
  }
  const v = raw.data;
  const td = parseTrustDomain(v.TRUST_DOMAIN);
  if (!td.ok) return err({ reason: "invalid_config", detail: `TRUST_DOMAIN: ${td.error.detail}` });

  const durations: Record<string, number> = {};
  for (const name of ["CA_TTL", "DEFAULT_X509_SVID_TTL", "DEFAULT_JWT_SVID_TTL", "BUNDLE_REFRESH_HINT"] as const) {
    const d = parseDuration(v[name]);
    if (!d.ok) return err({ reason: "invalid_config", detail: `${name}: ${d.error.detail}` });
    durations[name] = d.value;
  }
  const caTtl = durations.CA_TTL!;
  if (caTtl < MIN_CA_TTL_SECONDS) return err({ reason: "invalid_config", detail: "CA_TTL must be at least 1h" });
  // Every SVID lives inside its signing key's lifetime: a default longer than that fails every mint.
  for (const name of ["DEFAULT_X509_SVID_TTL", "DEFAULT_JWT_SVID_TTL"] as const) {
    if (durations[name]! > caTtl) return err({ reason: "invalid_config", detail: `${name} must not be longer than CA_TTL` });
  }

  let oidcIssuer: string | undefined;
  if (v.OIDC_ISSUER !== "") {
    const issuer = validateIssuer(v.OIDC_ISSUER, v.SIGNET_PROFILE);
    if (!issuer.ok) return issuer;
    oidcIssuer = issuer.value;
  } else if (v.SIGNET_PROFILE === "restricted") {
    // Without it the issuer would follow each request's Host header.
    return err({ reason: "invalid_config", detail: "OIDC_ISSUER must be set (an https origin) in the restricted profile" });
  }

  const sources: Record<string, string> = {};
  for (const [name, fallback] of [
    ["AMD_KDS_URL", DEFAULT_KDS_URL],
    ["INTEL_PCS_URL", DEFAULT_PCS_URL],
    ["INTEL_ROOT_CA_CRL_URL", DEFAULT_ROOT_CA_CRL_URL],
  ] as const) {
    const url = validateSourceUrl(name, v[name] || fallback, v.SIGNET_PROFILE);
    if (!url.ok) return url;
    sources[name] = url.value;
  }

  const selectors = parsePolicySelectors(v.KBS_POLICY_SELECTORS);
  if (!selectors.ok) return selectors;
  const anchors = parseTrustAnchors(v.X509POP_CA_BUNDLE);
  if (!anchors.ok) return anchors;

  return ok({
    trustDomain: td.value,
    profile: v.SIGNET_PROFILE,
    oidcIssuer,
    caKeyType: v.CA_KEY_TYPE,
    caTtl,
    defaultX509SvidTtl: durations.DEFAULT_X509_SVID_TTL!,
    defaultJwtSvidTtl: durations.DEFAULT_JWT_SVID_TTL!,
    bundleRefreshHint: durations.BUNDLE_REFRESH_HINT!,
    collateralSources: { kds: sources.AMD_KDS_URL!, pcs: sources.INTEL_PCS_URL!, rootCrl: sources.INTEL_ROOT_CA_CRL_URL! },
    kbsPolicySelectors: selectors.value,
    x509popTrustAnchors: anchors.value,
  });
}

/** Most x509pop trust anchors one deployment configures. */
export const MAX_X509POP_ANCHORS = 32;

/** `X509POP_CA_BUNDLE`: empty, or PEM CA certificates (basicConstraints cA) and nothing else. */
function parseTrustAnchors(s: string): Result<readonly Uint8Array[], ConfigError> {
  if (s.trim() === "") return ok([]);
  const fail = (why: string) => err({ reason: "invalid_config" as const, detail: `X509POP_CA_BUNDLE ${why}` });
  const blocks = fromPemAll(s, "CERTIFICATE");
  if (!blocks || blocks.length === 0) return fail("must be PEM CERTIFICATE blocks");
  if (blocks.length > MAX_X509POP_ANCHORS) return fail(`holds at most ${MAX_X509POP_ANCHORS} certificates`);
  for (const [i, der] of blocks.entries()) {
    const cert = parseCertificate(der);
    if (!cert.ok) return fail(`certificate ${i + 1} does not parse`);
    const ca = isCa(cert.value);
    if (!ca.ok || !ca.value) return fail(`certificate ${i + 1} is not a CA certificate`);
  }
  return ok(blocks);
}

const POLICY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** `KBS_POLICY_SELECTORS`: empty, or a JSON object of selector → attestation policy id. */
function parsePolicySelectors(s: string): Result<Readonly<Record<string, string>>, ConfigError> {
  if (s.trim() === "") return ok({});
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch {
    return err({ reason: "invalid_config", detail: "KBS_POLICY_SELECTORS must be a JSON object" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return err({ reason: "invalid_config", detail: "KBS_POLICY_SELECTORS must be a JSON object" });
  const out: Record<string, string> = {};
  for (const [selector, id] of Object.entries(value)) {
    if (selector.length === 0 || selector.length > 128 || typeof id !== "string" || !POLICY_ID.test(id)) {
      return err({ reason: "invalid_config", detail: "KBS_POLICY_SELECTORS maps selectors (1-128 characters) to policy ids ([A-Za-z0-9_.-]{1,64})" });
    }
    out[selector] = id;
  }
  return ok(out);
}

/**
 * A collateral service URL: http(s), no query, fragment or userinfo, no trailing slash (paths are
 * appended). https only in the restricted profile: collateral is verified, but a plain-text channel
 * still lets anyone on the path withhold or stall it.
 */
function validateSourceUrl(name: string, s: string, profile: Profile): Result<string, ConfigError> {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return err({ reason: "invalid_config", detail: `${name} is not a URL` });
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && profile === "permissive")) {
    return err({ reason: "invalid_config", detail: `${name} must use https${profile === "restricted" ? " in the restricted profile" : ""}` });
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "" || s.includes("?") || s.includes("#")) {
    return err({ reason: "invalid_config", detail: `${name} must not have a query, fragment or userinfo` });
  }
  if (s.endsWith("/")) return err({ reason: "invalid_config", detail: `${name} must not end with a slash` });
  return ok(s);
}

/**
 * An OIDC issuer is an https URL with no query or fragment (OpenID Connect Discovery 1.0 §3; AWS and
 * Vault compare it byte for byte, so it is used exactly as configured). http is allowed only in the
 * permissive profile, for local development.
 */
function validateIssuer(s: string, profile: Profile): Result<string, ConfigError> {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return err({ reason: "invalid_config", detail: "OIDC_ISSUER is not a URL" });
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && profile === "permissive")) {
    return err({ reason: "invalid_config", detail: "OIDC_ISSUER must use https" });
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "" || s.includes("?") || s.includes("#")) {
    return err({ reason: "invalid_config", detail: "OIDC_ISSUER must not have a query, fragment or userinfo" });
  }
  // Discovery is served at the root, so the issuer is an origin, written without a trailing slash.
  if (url.pathname !== "/" || s.endsWith("/") || s !== url.origin) {
    return err({ reason: "invalid_config", detail: "OIDC_ISSUER must be an origin such as https://signet.example.com (no path, no trailing slash)" });
  }
  return ok(s);
}

export function parseSecrets(vars: ConfigVars): Result<Secrets, ConfigError> {
  const token = vars.SIGNET_ADMIN_TOKEN;
  if (typeof token !== "string" || token.length < 32) {
    return err({ reason: "invalid_config", detail: "SIGNET_ADMIN_TOKEN must be set (at least 32 characters)" });
  }
  const kekText = vars.SIGNET_KEK;
  const kek = typeof kekText === "string" ? fromBase64(kekText) : undefined;
  if (!kek || kek.length !== 32) {
    return err({ reason: "invalid_config", detail: "SIGNET_KEK must be 32 bytes, base64url-encoded" });
  }
  return ok({ adminToken: token, kek });
}

export interface LoadedConfig {
  readonly config: Config;
  readonly secrets: Secrets;
}

const loaded = new WeakMap<object, Result<LoadedConfig, ConfigError>>();

/**
 * Configuration and secrets, parsed once per `env` object: the one way the Worker and every Durable
 * Object read their settings. The error names the setting that is wrong, never its value.
 */
export function loadConfig(env: ConfigVars): Result<LoadedConfig, ConfigError> {
  let entry = loaded.get(env);
  if (!entry) {
    const config = parseConfig(env);
    const secrets = parseSecrets(env);
    entry = !config.ok ? config : !secrets.ok ? secrets : ok({ config: config.value, secrets: secrets.value });
    loaded.set(env, entry);
  }
  return entry;
}
