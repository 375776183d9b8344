/**
 * `signet x509 mint`: generate a key pair here, have the server certify the public key, and write
 * svid.pem, key.pem (0600) and bundle.pem into a directory. Nothing is written unless the server
 * issued a certificate for exactly the key we generated.
 */
import { join, resolve } from "node:path";
import { toBase64, toPem } from "../../lib/encoding";
import { err, ok, type Result } from "../../lib/result";
import { parseDnsNames } from "../../lib/spiffe/dns-name";
import { defineCommand } from "../command";
import { failure, oneLine, usageError, type CliFailure } from "../failure";
import { writeFilesAtomically } from "../../node/files";
import { certificateHasKey, DEFAULT_KEY_TYPE, generateWorkloadKey, KEY_TYPES } from "../keys";
import { decodeDerList, formatInstant, oneOfFlag, requireFlag, spiffeIdFlag, ttlFlag } from "../values";

const NAME = "x509 mint";
const PATH = "admin/v1/svids/x509";

export const SVID_FILE = "svid.pem";
export const KEY_FILE = "key.pem";
export const BUNDLE_FILE = "bundle.pem";

const USAGE = `Usage: signet x509 mint --spiffe-id ID --write DIR [options]

Mint an X509-SVID. The key pair is generated on this machine; only the public key is sent.
Writes into DIR (created if missing):
  ${SVID_FILE}     the certificate chain, leaf first (PEM)
  ${KEY_FILE}      the private key (PKCS#8 PEM, mode 0600)
  ${BUNDLE_FILE}   the trust anchors (PEM)

Options:
  --spiffe-id ID    the workload's SPIFFE ID, e.g. spiffe://example.org/ns/prod/sa/api (required)
  --write DIR       the directory to write into (required)
  --ttl DURATION    lifetime, e.g. 30m, 1h, 1d (default: the server's)
  --dns NAME        a DNS name SAN; repeat for more (lowercased; repeats are sent once)
  --key-type TYPE   ${KEY_TYPES.join(", ")} (default ${DEFAULT_KEY_TYPE})
  --server URL      the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help        show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
`;

const FLAGS = {
  "spiffe-id": { kind: "string" },
  write: { kind: "string" },
  ttl: { kind: "string" },
  dns: { kind: "list" },
  "key-type": { kind: "string" },
} as const;

interface X509Answer {
  readonly spiffeId: string;
  readonly chain: readonly Uint8Array[];
  readonly expiresAt: number;
  readonly authorities: readonly Uint8Array[];
}

export const x509MintCommand = defineCommand({
  name: NAME,
  summary: "mint an X509-SVID into a directory (key generated locally)",
  usage: USAGE,
  flags: FLAGS,
  async run(flags, ctx) {
    const spiffeId = spiffeIdFlag(flags["spiffe-id"], NAME);
    if (!spiffeId.ok) return spiffeId;
    const dir = requireFlag(flags.write, "write", NAME);
    if (!dir.ok) return dir;
    const ttl = ttlFlag(flags.ttl, NAME);
    if (!ttl.ok) return ttl;
    const keyType = oneOfFlag(flags["key-type"], "key-type", KEY_TYPES, DEFAULT_KEY_TYPE, NAME);
    if (!keyType.ok) return keyType;
    const dns = parseDnsNames(flags.dns ?? []);
    if (!dns.ok) return err(usageError(`--dns '${oneLine(dns.error.input, 100)}' is not a valid DNS name: ${dns.error.detail}`, NAME));
    const dnsNames = dns.value;
    const token = await ctx.adminToken();
    if (!token.ok) return token;

    const key = await generateWorkloadKey(keyType.value ?? DEFAULT_KEY_TYPE);
    const answer = await ctx.client.requestJson({
      method: "POST",
      path: PATH,
      token: token.value,
      body: {
        spiffe_id: spiffeId.value,
        public_key: toBase64(key.spki),
        ...(ttl.value === undefined ? {} : { ttl: ttl.value }),
        ...(dnsNames.length === 0 ? {} : { dns_names: dnsNames }),
      },
    });
    if (!answer.ok) return answer;
    const svid = parseX509Answer(answer.value);
    if (!svid.ok) return svid;
    if (!certificateHasKey(svid.value.chain[0]!, key.spki)) {
      return err(failure("bad_response", "the server returned a certificate for a different public key than the one sent"));
    }

    const written = await writeFilesAtomically(resolve(ctx.io.cwd, dir.value), [
      { name: SVID_FILE, contents: svid.value.chain.map((der) => toPem("CERTIFICATE", der)).join(""), mode: 0o644 },
      { name: KEY_FILE, contents: toPem("PRIVATE KEY", key.pkcs8), mode: 0o600 },
      { name: BUNDLE_FILE, contents: svid.value.authorities.map((der) => toPem("CERTIFICATE", der)).join(""), mode: 0o644 },
    ]);
    key.pkcs8.fill(0);
    if (!written.ok) return err(failure("local", `cannot write ${written.error.path}: ${written.error.message}`));

    const shown = [SVID_FILE, KEY_FILE, BUNDLE_FILE].map((f) => join(dir.value, f)).join(", ");
    ctx.io.stdout(`${svid.value.spiffeId} expires ${formatInstant(svid.value.expiresAt)}; wrote ${shown}\n`);
    return ok(undefined);
  },
});

function parseX509Answer(body: unknown): Result<X509Answer, CliFailure> {
  const bad = (what: string): Result<never, CliFailure> =>
    err(failure("bad_response", `unexpected answer from ${PATH}: ${what}`));
  if (typeof body !== "object" || body === null) return bad("not a JSON object");
  const b = body as Record<string, unknown>;
  if (typeof b.spiffe_id !== "string") return bad("spiffe_id is missing");
  if (typeof b.expires_at !== "number" || !Number.isSafeInteger(b.expires_at)) return bad("expires_at is not an integer");
  const chain = decodeDerList(b.cert_chain);
  if (!chain || chain.length === 0) return bad("cert_chain is not a non-empty list of base64 certificates");
  const authorities = decodeDerList(b.x509_authorities);
  if (!authorities || authorities.length === 0) return bad("x509_authorities is not a non-empty list of base64 certificates");
  return ok({ spiffeId: oneLine(b.spiffe_id, 2048), chain, expiresAt: b.expires_at, authorities });
}
