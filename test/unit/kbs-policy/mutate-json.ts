/** Mutations of JSON values for the policy parsers' fuzz tests: 1–3 edits at random nodes. */
export const FIELD_NAMES = [
  "version", "snp", "tdx", "sample", "init_data_digests", "rules", "paths", "allow", "status", "tee", "measurements",
  "allow_debug", "allow_migrate_ma", "min_tcb", "max_vmpl", "host_data", "report_data", "min_guest_svn", "mr_td", "rtmr0", "rtmr3",
  "accepted_tcb_statuses", "require_sept_ve_disable", "mr_config_id", "mr_service_td", "launch_digests", "__proto__", "constructor", "toString",
];

const LEAVES: readonly unknown[] = [
  null, true, false, 0, 1, -1, 2, 255, 256, 1.5, -0, 2 ** 53, "", "*", "*/*/*", "a/b", "a/b/c/d", "../x/y", "affirming", "warning", "sample", "snp",
  "UpToDate", "Revoked", "ab".repeat(32), "AB".repeat(48), "0".repeat(96), "0".repeat(128), "zz", "\u0000", "é".repeat(300), [], {}, [null], [[]], [{}],
];

function pick<T>(list: readonly T[], rand: () => number): T {
  return list[Math.floor(rand() * list.length)]!;
}

function leaf(rand: () => number): unknown {
  const r = rand();
  if (r < 0.05) return JSON.parse('{"__proto__":{"version":1}}') as unknown;
  if (r < 0.1) return Array.from({ length: 1 + Math.floor(rand() * 300) }, () => "ab".repeat(32));
  return structuredClone(pick(LEAVES, rand));
}

/** One edit somewhere inside `v` (a deep copy is edited; `v` is not changed). */
function edit(v: unknown, rand: () => number, depth = 0): unknown {
  const descend = rand() < 0.7 && depth < 6;
  if (Array.isArray(v)) {
    const out = v.slice();
    const r = rand();
    if (descend && out.length > 0) {
      const i = Math.floor(rand() * out.length);
      out[i] = edit(out[i], rand, depth + 1);
    } else if (r < 0.3) out.push(leaf(rand));
    else if (r < 0.5 && out.length > 0) out.splice(Math.floor(rand() * out.length), 1);
    else if (r < 0.6 && out.length > 0) out.push(structuredClone(out[0]));
    else return leaf(rand);
    return out;
  }
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    const keys = Object.keys(out);
    const r = rand();
    if (descend && keys.length > 0) {
      const k = pick(keys, rand);
      out[k] = edit(out[k], rand, depth + 1);
    } else if (r < 0.35) Object.defineProperty(out, pick(FIELD_NAMES, rand), { value: leaf(rand), enumerable: true, writable: true, configurable: true });
    else if (r < 0.65 && keys.length > 0) delete out[pick(keys, rand)];
    else if (r < 0.75) return [out];
    else return leaf(rand);
    return out;
  }
  if (typeof v === "string" && rand() < 0.5) {
    const r = rand();
    if (r < 0.3) return v.toUpperCase();
    if (r < 0.6) return v.slice(0, Math.floor(rand() * v.length));
    return `${v}${pick(["0", "*", "/", "g", " "], rand)}`;
  }
  return leaf(rand);
}

export function mutateJson(v: unknown, rand: () => number): unknown {
  let out = v;
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) out = edit(out, rand);
  return out;
}
