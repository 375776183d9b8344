/**
 * src/agent/wire.ts: every validator takes the answers the server sends and refuses each bad field
 * with one `<path>: <message>` line; extra fields are dropped (bundle keys and problems keep them);
 * and, fuzzed with random JSON and mutations of valid answers (boundary lengths, counts, numbers),
 * none throws and each accepts exactly what the zod schemas it replaced accepted (kept here as the
 * reference), with the same value.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AgentSvidAnswer, BundleDocument, BundlesAnswer, JwtSvidAnswer, Problem, SyncAnswer, WireEntry, X509PopChallengeAnswer, X509SvidsAnswer, type Validator } from "../../../src/agent/wire";
import { prng } from "../../support/prng";

/** The zod schemas wire.ts had before (the strictness the hand-written validators keep). */
const ref = (() => {
  const b64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/).max(64 * 1024);
  const seconds = z.number().int().min(0);
  const nonce = z.object({ nonce: b64 });
  const WireEntry = z.object({
    id: z.string().min(1).max(255),
    spiffe_id: z.string().startsWith("spiffe://").max(2048),
    parent_id: z.string().startsWith("spiffe://").max(2048),
    selectors: z.array(z.object({ type: z.string().min(1).max(256), value: z.string().max(2048) })).max(64),
    x509_svid_ttl: seconds,
    jwt_svid_ttl: seconds,
    federates_with: z.array(z.string().max(255)).max(64),
    dns_names: z.array(z.string().max(253)).max(128),
    admin: z.boolean(),
    downstream: z.boolean(),
    hint: z.string().max(1024),
    expires_at: seconds,
    revision_number: z.number().int().min(0),
    created_at: seconds,
  });
  const X509SvidOk = z.object({ entry_id: z.string().min(1).max(255), status: z.literal("ok"), svid: z.array(b64).min(1).max(8), expires_at: seconds });
  const X509SvidRefused = z.object({ entry_id: z.string().min(1).max(255), status: z.string().min(1).max(100).refine((s) => s !== "ok"), detail: z.string().max(2000).default("") });
  const BundleKey = z.object({ use: z.string(), kty: z.string(), kid: z.string().optional(), x5c: z.array(b64).optional() }).passthrough();
  const BundleDocument = z.object({ keys: z.array(BundleKey).max(256), spiffe_sequence: z.number().int().min(0).optional(), spiffe_refresh_hint: z.number().int().min(0).optional() });
  return {
    AgentSvidAnswer: z.object({ spiffe_id: z.string().startsWith("spiffe://").max(2048), svid: z.array(b64).min(1).max(8), expires_at: seconds, bundle: z.array(b64).min(1).max(64), reattestable: z.boolean() }),
    X509PopChallengeAnswer: z.object({ challenge_id: z.string().regex(/^[0-9a-f]{32}$/), challenge: z.object({ rsa_signature: nonce.nullish(), ecdsa_signature: nonce.nullish() }) }),
    WireEntry,
    SyncAnswer: z.object({ full: z.boolean(), entries: z.array(WireEntry).max(1000), removed: z.array(z.string().min(1).max(255)), next_page_token: z.string().min(1).max(1024).nullish(), cursor: z.string().min(1).max(1024).nullish() }),
    X509SvidsAnswer: z.object({ results: z.array(z.union([X509SvidOk, X509SvidRefused])).max(500) }),
    JwtSvidAnswer: z.object({ spiffe_id: z.string().startsWith("spiffe://").max(2048), token: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/).max(16 * 1024), expires_at: seconds }),
    BundleDocument,
    BundlesAnswer: z.object({ trust_domain: z.string().min(1).max(255), bundle: BundleDocument, federated: z.record(z.string().max(255), BundleDocument).default({}) }),
    Problem: z.object({ code: z.string().max(100).optional(), title: z.string().max(500).optional(), detail: z.string().max(2000).optional() }).passthrough(),
  };
})();

const entry = {
  id: "0b5e6d2c1f2a4c3b9d8e7f6a5b4c3d2e",
  spiffe_id: "spiffe://example.org/app/web",
  parent_id: "spiffe://example.org/signet/agent/tee/0123",
  selectors: [{ type: "unix", value: "uid:1000" }],
  x509_svid_ttl: 3600,
  jwt_svid_ttl: 300,
  federates_with: ["other.org"],
  dns_names: ["web.example.org"],
  admin: false,
  downstream: false,
  hint: "web",
  expires_at: 0,
  revision_number: 3,
  created_at: 1767225600,
};
const bundleDoc = { keys: [{ use: "x509-svid", kty: "EC", x5c: ["MIIBkTCCATegAwIBAgIQ"] }, { use: "jwt-svid", kty: "EC", kid: "k1", crv: "P-256", x: "AQ", y: "Ag" }], spiffe_sequence: 7, spiffe_refresh_hint: 300 };

/** A valid answer for each validator. */
const good = {
  AgentSvidAnswer: { spiffe_id: "spiffe://example.org/signet/agent/join_token/ab", svid: ["MIIBkTCC", "MIIC+/=="], expires_at: 1767225600, bundle: ["MIIBkTCC"], reattestable: true },
  X509PopChallengeAnswer: { challenge_id: "0123456789abcdef0123456789abcdef", challenge: { rsa_signature: null, ecdsa_signature: { nonce: "bm9uY2U=" } } },
  WireEntry: entry,
  SyncAnswer: { full: false, entries: [entry], removed: ["gone"], next_page_token: null, cursor: "c1" },
  X509SvidsAnswer: { results: [{ entry_id: "e1", status: "ok", svid: ["MIIB"], expires_at: 10 }, { entry_id: "e2", status: "entry_not_found", detail: "no such entry" }, { entry_id: "e3", status: "denied", detail: "" }] },
  JwtSvidAnswer: { spiffe_id: "spiffe://example.org/app/web", token: "eyJh.eyJz.c2ln", expires_at: 10 },
  BundleDocument: bundleDoc,
  BundlesAnswer: { trust_domain: "example.org", bundle: bundleDoc, federated: { "other.org": { keys: [] } } },
  Problem: { type: "about:blank", code: "agent_banned", title: "Banned", detail: "This agent is banned.", status: 403 },
} as const;

const validators: Record<keyof typeof good, Validator<unknown>> = { AgentSvidAnswer, X509PopChallengeAnswer, WireEntry, SyncAnswer, X509SvidsAnswer, JwtSvidAnswer, BundleDocument, BundlesAnswer, Problem };
const names = Object.keys(good) as (keyof typeof good)[];

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
/** `base` with the value at a dotted path replaced (undefined deletes it). */
function withField(base: unknown, path: string, value: unknown): unknown {
  const out = clone(base) as Record<string, unknown>;
  const keys = path.split(".");
  let at: Record<string, unknown> = out;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return out;
}
const many = <T>(n: number, item: T): T[] => Array.from({ length: n }, () => item);
const emoji = "\u{1F510}";

describe("the agent API's validators", () => {
  it.each(names)("%s accepts a good answer", (name) => {
    const r = validators[name](clone(good[name]));
    expect(r).toEqual({ ok: true, value: good[name] });
  });

  it("fills in defaults, keeps null for nullish, drops unknown fields, and keeps them in bundle keys and problems", () => {
    const x = X509SvidsAnswer({ results: [{ entry_id: "e3", status: "denied" }] });
    expect(x.ok && x.value.results[0]).toEqual({ entry_id: "e3", status: "denied", detail: "" });
    const b = BundlesAnswer({ trust_domain: "example.org", bundle: { keys: [] }, newer: 1 });
    expect(b).toEqual({ ok: true, value: { trust_domain: "example.org", bundle: { keys: [] }, federated: {} } });
    const s = SyncAnswer({ full: true, entries: [{ ...entry, future_field: [1] }], removed: [], cursor: null, extra: "x" });
    expect(s.ok && s.value).toEqual({ full: true, entries: [entry], removed: [], cursor: null });
    expect(s.ok && Object.keys(s.value.entries[0]!)).not.toContain("future_field");
    const d = BundleDocument(clone(bundleDoc));
    expect(d.ok && d.value.keys[1]).toEqual({ use: "jwt-svid", kty: "EC", kid: "k1", crv: "P-256", x: "AQ", y: "Ag" });
    expect(Problem({ code: "x", instance: "/i" })).toEqual({ ok: true, value: { code: "x", instance: "/i" } });
    expect(Problem(JSON.parse('{"code":"x","__proto__":{"polluted":true}}'))).toEqual({ ok: true, value: { code: "x" } });
    const p = BundlesAnswer(JSON.parse('{"trust_domain":"t","bundle":{"keys":[]},"federated":{"__proto__":{"keys":[]},"a":{"keys":[]}}}'));
    expect(p.ok && Object.getPrototypeOf(p.value.federated)).toBe(Object.prototype);
    expect(p.ok && Object.keys(p.value.federated)).toEqual(["a"]);
  });

  it("lengths are code points, as the server counts them", () => {
    expect(SyncAnswer(withField(good.SyncAnswer, "entries", [{ ...entry, dns_names: [emoji.repeat(253)] }])).ok).toBe(true);
    expect(SyncAnswer(withField(good.SyncAnswer, "entries", [{ ...entry, dns_names: [emoji.repeat(254)] }]))).toEqual({ ok: false, error: "entries.0.dns_names.0: must be at most 253 characters" });
    expect(SyncAnswer(withField(good.SyncAnswer, "entries", [{ ...entry, hint: "\ud800".repeat(1024) }])).ok).toBe(true);
  });

  it.each([
    ["AgentSvidAnswer", undefined, undefined, "body: expected an object"],
    ["AgentSvidAnswer", "", [], "body: expected an object"],
    ["AgentSvidAnswer", "", null, "body: expected an object"],
    ["AgentSvidAnswer", "spiffe_id", "https://example.org/x", 'spiffe_id: must start with "spiffe://"'],
    ["AgentSvidAnswer", "spiffe_id", `spiffe://${"a".repeat(2040)}`, "spiffe_id: must be at most 2048 characters"],
    ["AgentSvidAnswer", "spiffe_id", 7, "spiffe_id: expected a string"],
    ["AgentSvidAnswer", "svid", [], "svid: must have at least 1 item"],
    ["AgentSvidAnswer", "svid", many(9, "MIIB"), "svid: must have at most 8 items"],
    ["AgentSvidAnswer", "svid", "MIIB", "svid: expected an array"],
    ["AgentSvidAnswer", "svid", ["MIIB", "MII B"], "svid.1: must be standard base64"],
    ["AgentSvidAnswer", "svid", ["MIIB==="], "svid.0: must be standard base64"],
    ["AgentSvidAnswer", "svid", ["A".repeat(64 * 1024 + 1)], "svid.0: must be at most 65536 characters"],
    ["AgentSvidAnswer", "expires_at", 1.5, "expires_at: expected an integer"],
    ["AgentSvidAnswer", "expires_at", 2 ** 53, "expires_at: expected an integer"],
    ["AgentSvidAnswer", "expires_at", "10", "expires_at: expected an integer"],
    ["AgentSvidAnswer", "expires_at", -1, "expires_at: must not be negative"],
    ["AgentSvidAnswer", "bundle", undefined, "bundle: is required"],
    ["AgentSvidAnswer", "bundle", many(65, "MIIB"), "bundle: must have at most 64 items"],
    ["AgentSvidAnswer", "reattestable", "true", "reattestable: expected true or false"],
    ["X509PopChallengeAnswer", "challenge_id", "0123456789ABCDEF0123456789abcdef", "challenge_id: must be 32 lowercase hex digits"],
    ["X509PopChallengeAnswer", "challenge_id", "0123456789abcdef0123456789abcdef0", "challenge_id: must be 32 lowercase hex digits"],
    ["X509PopChallengeAnswer", "challenge", undefined, "challenge: is required"],
    ["X509PopChallengeAnswer", "challenge.rsa_signature", { nonce: "not base64!" }, "challenge.rsa_signature.nonce: must be standard base64"],
    ["X509PopChallengeAnswer", "challenge.ecdsa_signature", "nonce", "challenge.ecdsa_signature: expected an object"],
    ["SyncAnswer", "full", undefined, "full: is required"],
    ["SyncAnswer", "entries", "no", "entries: expected an array"],
    ["SyncAnswer", "entries", many(1001, entry), "entries: must have at most 1000 items"],
    ["SyncAnswer", "entries.0.id", "", "entries.0.id: must not be empty"],
    ["SyncAnswer", "entries.0.id", "i".repeat(256), "entries.0.id: must be at most 255 characters"],
    ["SyncAnswer", "entries.0.parent_id", "example.org", 'entries.0.parent_id: must start with "spiffe://"'],
    ["SyncAnswer", "entries.0.selectors", many(65, { type: "unix", value: "uid:0" }), "entries.0.selectors: must have at most 64 items"],
    ["SyncAnswer", "entries.0.selectors", [{ type: "", value: "x" }], "entries.0.selectors.0.type: must not be empty"],
    ["SyncAnswer", "entries.0.selectors", [{ type: "t".repeat(257), value: "x" }], "entries.0.selectors.0.type: must be at most 256 characters"],
    ["SyncAnswer", "entries.0.selectors", [{ type: "unix", value: "v".repeat(2049) }], "entries.0.selectors.0.value: must be at most 2048 characters"],
    ["SyncAnswer", "entries.0.selectors", [{ type: "unix" }], "entries.0.selectors.0.value: is required"],
    ["SyncAnswer", "entries.0.x509_svid_ttl", -5, "entries.0.x509_svid_ttl: must not be negative"],
    ["SyncAnswer", "entries.0.jwt_svid_ttl", null, "entries.0.jwt_svid_ttl: expected an integer"],
    ["SyncAnswer", "entries.0.federates_with", ["f".repeat(256)], "entries.0.federates_with.0: must be at most 255 characters"],
    ["SyncAnswer", "entries.0.federates_with", many(65, "o.org"), "entries.0.federates_with: must have at most 64 items"],
    ["SyncAnswer", "entries.0.dns_names", many(129, "a.org"), "entries.0.dns_names: must have at most 128 items"],
    ["SyncAnswer", "entries.0.admin", 0, "entries.0.admin: expected true or false"],
    ["SyncAnswer", "entries.0.downstream", undefined, "entries.0.downstream: is required"],
    ["SyncAnswer", "entries.0.hint", "h".repeat(1025), "entries.0.hint: must be at most 1024 characters"],
    ["SyncAnswer", "entries.0.revision_number", 0.5, "entries.0.revision_number: expected an integer"],
    ["SyncAnswer", "entries.0.created_at", -1, "entries.0.created_at: must not be negative"],
    ["SyncAnswer", "removed", [""], "removed.0: must not be empty"],
    ["SyncAnswer", "removed", ["r".repeat(256)], "removed.0: must be at most 255 characters"],
    ["SyncAnswer", "next_page_token", "", "next_page_token: must not be empty"],
    ["SyncAnswer", "next_page_token", 1, "next_page_token: expected a string"],
    ["SyncAnswer", "cursor", "c".repeat(1025), "cursor: must be at most 1024 characters"],
    ["X509SvidsAnswer", "results", many(501, { entry_id: "e", status: "denied" }), "results: must have at most 500 items"],
    ["X509SvidsAnswer", "results", [{ entry_id: "e", status: "ok" }], "results.0.svid: is required"],
    ["X509SvidsAnswer", "results", [{ entry_id: "e", status: "ok", svid: ["MIIB"], expires_at: -1 }], "results.0.expires_at: must not be negative"],
    ["X509SvidsAnswer", "results", [{ entry_id: "", status: "denied" }], "results.0.entry_id: must not be empty"],
    ["X509SvidsAnswer", "results", [{ entry_id: "e", status: "" }], "results.0.status: must not be empty"],
    ["X509SvidsAnswer", "results", [{ entry_id: "e", status: "s".repeat(101) }], "results.0.status: must be at most 100 characters"],
    ["X509SvidsAnswer", "results", [{ entry_id: "e", status: 200 }], "results.0.status: expected a string"],
    ["X509SvidsAnswer", "results", [{ entry_id: "e", status: "denied", detail: "d".repeat(2001) }], "results.0.detail: must be at most 2000 characters"],
    ["X509SvidsAnswer", "results", ["ok"], "results.0: expected an object"],
    ["JwtSvidAnswer", "token", "a.b", "token: must be a compact JWS"],
    ["JwtSvidAnswer", "token", "a.b.c=", "token: must be a compact JWS"],
    ["JwtSvidAnswer", "token", `a.${"b".repeat(16 * 1024)}.c`, "token: must be at most 16384 characters"],
    ["JwtSvidAnswer", "spiffe_id", "spiffe:/x", 'spiffe_id: must start with "spiffe://"'],
    ["BundlesAnswer", "trust_domain", "", "trust_domain: must not be empty"],
    ["BundlesAnswer", "trust_domain", "t".repeat(256), "trust_domain: must be at most 255 characters"],
    ["BundlesAnswer", "bundle", undefined, "bundle: is required"],
    ["BundlesAnswer", "bundle.keys", many(257, { use: "jwt-svid", kty: "EC" }), "bundle.keys: must have at most 256 items"],
    ["BundlesAnswer", "bundle.keys", [{ kty: "EC" }], "bundle.keys.0.use: is required"],
    ["BundlesAnswer", "bundle.keys", [{ use: "x509-svid", kty: "EC", kid: 1 }], "bundle.keys.0.kid: expected a string"],
    ["BundlesAnswer", "bundle.keys", [{ use: "x509-svid", kty: "EC", x5c: ["!"] }], "bundle.keys.0.x5c.0: must be standard base64"],
    ["BundlesAnswer", "bundle.spiffe_sequence", -1, "bundle.spiffe_sequence: must not be negative"],
    ["BundlesAnswer", "bundle.spiffe_refresh_hint", null, "bundle.spiffe_refresh_hint: expected an integer"],
    ["BundlesAnswer", "federated", [], "federated: expected an object"],
    ["BundlesAnswer", "federated", { ["d".repeat(256)]: { keys: [] } }, `federated.${"d".repeat(256)}: invalid key: must be at most 255 characters`],
    ["BundlesAnswer", "federated", { "other.org": {} }, "federated.other.org.keys: is required"],
    ["Problem", "code", "c".repeat(101), "code: must be at most 100 characters"],
    ["Problem", "title", 5, "title: expected a string"],
    ["Problem", "detail", "d".repeat(2001), "detail: must be at most 2000 characters"],
  ] as const)("%s refuses %s (%#): %s", (name, path, value, message) => {
    const input = path === undefined ? value : path === "" ? value : withField(good[name], path, value);
    const r = validators[name](input);
    expect(r).toEqual({ ok: false, error: message });
    // The zod schema it replaced refuses it too.
    expect(ref[name].safeParse(input).success).toBe(false);
  });
});

describe("fuzzing the validators against the zod schemas they replace", () => {
  const random = prng(0x5167e7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const int = (n: number) => Math.floor(random() * n);

  const ALPHABETS = ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "0123456789abcdef", "ab.-_", "spiffe:/x", emoji, "\ud800", "=", " \n\u0000é"];
  const LENGTHS = [0, 1, 2, 31, 32, 33, 100, 101, 253, 254, 255, 256, 257, 500, 1024, 1025, 2000, 2001, 2048, 2049, 16384, 16385, 65536, 65537];
  const COUNTS = [0, 1, 2, 8, 9, 64, 65, 128, 129, 256, 257, 500, 501, 1000, 1001];
  const NUMBERS = [0, -0, 1, -1, 0.5, 1e300, -1e300, 2 ** 53 - 1, 2 ** 53, 1767225600, Number.MIN_VALUE];

  function randomString(): string {
    const alphabet = pick(ALPHABETS);
    const length = random() < 0.5 ? int(12) : pick(LENGTHS);
    let s = random() < 0.2 ? pick(["spiffe://", "ok", "eyJh.eyJz.", "__proto__"]) : "";
    let chunk = "";
    while (chunk.length < Math.min(length, 64)) chunk += alphabet[int(alphabet.length)] ?? "";
    while (s.length < length) s += chunk;
    s = s.slice(0, Math.max(length, 1));
    return random() < 0.1 ? s + "=" : s;
  }

  function randomJson(depth = 0): unknown {
    const roll = int(depth > 3 ? 5 : 8);
    if (roll === 0) return null;
    if (roll === 1) return random() < 0.5;
    if (roll === 2) return pick(NUMBERS);
    if (roll === 3 || roll === 4) return randomString();
    if (roll === 5) return Array.from({ length: int(4) }, () => randomJson(depth + 1));
    const keys = ["use", "kty", "keys", "nonce", "status", "ok", "id", "code", "__proto__", "x", randomString().slice(0, 8)];
    return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(keys), randomJson(depth + 1)]));
  }

  /** A copy of `value` with one thing changed somewhere inside: a field dropped, added or replaced, an array resized. */
  function mutate(value: unknown, depth = 0): unknown {
    const descend = random() < 0.7 && depth < 6;
    if (Array.isArray(value)) {
      // Resized arrays are not descended into again (a thousand thousand-entry pages would be slow, not stricter).
      if ((descend || value.length > 8) && value.length > 0) {
        const i = int(Math.min(value.length, 8));
        return value.map((v, j) => (j === i ? mutate(v, depth + 1) : v));
      }
      // Long arrays of long strings only cost time: at most ~1 MB of JSON per resize.
      const size = JSON.stringify(value[0] ?? null).length;
      const n = pick(COUNTS.filter((c) => c * size < 1_000_000));
      return Array.from({ length: n }, (_, j) => (value.length > 0 ? value[j % value.length] : randomJson(2)));
    }
    if (typeof value === "object" && value !== null) {
      const entries = Object.entries(value);
      if (descend && entries.length > 0) {
        const i = int(entries.length);
        return Object.fromEntries(entries.map(([k, v], j) => [k, j === i ? mutate(v, depth + 1) : v]));
      }
      const roll = int(3);
      if (roll === 0 && entries.length > 0) return Object.fromEntries(entries.filter((_, j) => j !== int(entries.length)));
      if (roll === 1) return Object.fromEntries([...entries, [pick(["extra", "__proto__", "detail", "kid", "x5c", "cursor"]), randomJson(2)]]);
      return randomJson(1);
    }
    if (typeof value === "string" && random() < 0.6) return randomString();
    if (typeof value === "number" && random() < 0.6) return pick(NUMBERS);
    return randomJson(2);
  }

  function agrees(name: keyof typeof good, input: unknown): void {
    let r: ReturnType<Validator<unknown>>;
    try {
      r = validators[name](input);
    } catch (e) {
      throw new Error(`${name} threw on ${JSON.stringify(input)?.slice(0, 300)}: ${String(e)}`, { cause: e });
    }
    const z = ref[name].safeParse(input);
    if (r.ok !== z.success) throw new Error(`${name}: ${r.ok ? "accepted" : `refused (${r.error})`} what zod ${z.success ? "accepts" : `refuses (${JSON.stringify(z.error.issues[0])})`}: ${JSON.stringify(input)?.slice(0, 300)}`);
    if (r.ok) expect(r.value).toEqual(z.data);
    else expect(r.error).toMatch(/^[^\n]*: [^\n]+$/);
  }

  it("random JSON values: never a throw, and the same verdict", () => {
    for (let i = 0; i < 3000; i++) {
      const input = randomJson();
      for (const name of names) agrees(name, input);
    }
    for (const name of names) for (const input of [undefined, "", "{}", 0, [], {}, null]) agrees(name, input);
  });

  it.each(names)("mutations of a valid %s: never a throw, and the same verdict", (name) => {
    let refused = 0;
    for (let i = 0; i < 1500; i++) {
      let input: unknown = good[name];
      for (let k = 1 + int(3); k > 0; k--) input = mutate(input);
      agrees(name, input);
      if (!validators[name](input).ok) refused++;
    }
    // The mutations do reach the rules (most break something).
    expect(refused).toBeGreaterThan(300);
  });
});
