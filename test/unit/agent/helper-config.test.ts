/**
 * helper.conf: the HCL 1 subset parser (src/lib/hcl.ts) and spiffe-helper's decoding and checks
 * (src/agent/helper-config.ts): every documented key, spiffe-helper's own example files unchanged,
 * its error messages, HCL 1's octal numbers, cmd_args splitting, and a fuzz run that never throws.
 */
import { describe, expect, it } from "vitest";
import { formatHclError, hclInteger, parseHcl } from "../../../src/lib/hcl";
import { parseHelperConfig, splitCmdArgs, type HelperConfig } from "../../../src/agent/helper-config";
import { prng } from "../../support/prng";

function config(text: string, daemonModeFlag?: boolean): HelperConfig {
  const r = parseHelperConfig(text, daemonModeFlag === undefined ? {} : { daemonModeFlag });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function error(text: string): string {
  const r = parseHelperConfig(text);
  if (r.ok) throw new Error("expected an error");
  return r.error;
}

// spiffe-helper's README "Configuration example" (Apache-2.0), as published.
const README_EXAMPLE = `agent_address = "/tmp/spire-agent/public/api.sock"
cmd = "ghostunnel"
cmd_args = "server --listen localhost:8002 --target localhost:8001 --keystore certs/svid_key.pem --cacert certs/svid_bundle.pem --allow-uri-san spiffe://example.org/Database"
cert_dir = "certs"
renew_signal = "SIGUSR1"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
jwt_svids = [{jwt_audience="your-audience",jwt_extra_audiences=["your-extra-audience-1", "your-extra-audience-2"], jwt_svid_file_name="jwt_svid.token"}]
jwt_bundle_file_name = "bundle.json"
cert_file_mode = 0444
key_file_mode = 0444
jwt_bundle_file_mode = 0444
jwt_svid_file_mode = 0444
`;

// spiffe-helper's cmd/spiffe-helper/config/testdata/helper.conf (multi-line jwt_svids, decimal modes).
const TESTDATA = `agent_address = "/tmp/spire-agent/public/api.sock"
cmd = "hot-restarter.py"
cmd_args = "start_envoy.sh"
cert_dir = "certs"
cert_file_mode = 444
key_file_mode = 444
jwt_bundle_file_mode = 444
jwt_svid_file_mode = 444
renew_signal = "SIGHUP"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
jwt_bundle_file_name = "jwt_bundle.json"
jwt_svids = [
  {
    jwt_svid_file_name = "jwt_svid.token"
    jwt_audience = "your-audience"
    jwt_extra_audiences = ["your-extra-audience-1", "your-extra-audience-2"]

  }
]
add_intermediates_to_bundle = true
`;

// The repository's helper.conf and examples/mysql/helper.conf (comments, escaped quotes).
const ROOT_HELPER = `agent_address = "/tmp/spire-agent/public/api.sock"
cmd = ""
cmd_args = ""
cert_dir = "certs"
renew_signal = "SIGUSR1"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
# Add CA with intermediates into Bundle file instead of SVID file,
# it is the expected behavior in some scenarios like MySQL.
# Default: false
# add_intermediates_to_bundle = false
`;
const MYSQL = `# SPIRE agent unix socket path
agent_address = "/tmp/spire-agent/public/api.sock"

# mysql binary path
cmd = "/usr/bin/mysql"

# Query for configuration reloading
cmd_args = "-e \\"ALTER INSTANCE RELOAD TLS;\\""

# No renew signal is used for this example
renew_signal = ""

# Directory where mysql stores the certificates
cert_dir = "/var/lib/mysql"

# Certificate, key and bundle names must match those configured for mysql
svid_file_name = "server-cert.pem"
svid_key_file_name = "server-key.pem"
svid_bundle_file_name = "ca.pem"

# MySQL expect intermediate certificates inside \`svid_bundle_file\` file
# instead of svid_file
add_intermediates_to_bundle = true`;
// The Kubernetes example's one-shot ConfigMap.
const K8S_ONESHOT = `cmd = ""
cmd_args = ""
cert_dir = ""
renew_signal = ""
svid_file_name = "tls.crt"
svid_key_file_name = "tls.key"
svid_bundle_file_name = "ca.pem"
jwt_bundle_file_name = "cert.jwt"
jwt_svids = [{jwt_audience="test", jwt_svid_file_name="jwt_svid.token"}]
daemon_mode = false
`;

describe("HCL parser", () => {
  it("reads attributes, lists, objects, blocks and the three comment styles", () => {
    const r = parseHcl(`# hash\n// slashes\n/* block\n comment */ a = "x" // trailing\nb = [1, 2,\n 3,]\nc { d = true, e = "f" }\ng = { h = -0x1F }\n"quoted key" = 1.5e3\n`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.map((e) => e.key)).toEqual(["a", "b", "c", "g", "quoted key"]);
    expect(r.value[0]!.value).toMatchObject({ kind: "string", value: "x", pos: { line: 4, column: 17 } });
    expect(r.value[1]!.value).toMatchObject({ kind: "list", items: [{ text: "1" }, { text: "2" }, { text: "3" }] });
    expect(r.value[2]!.value).toMatchObject({ kind: "object", entries: [{ key: "d", value: { kind: "bool", value: true } }, { key: "e" }] });
    expect(r.value[3]!.value).toMatchObject({ kind: "object", entries: [{ key: "h", value: { kind: "number", text: "-0x1F", float: false } }] });
    expect(r.value[4]!.value).toMatchObject({ kind: "number", float: true });
  });

  it("decodes Go escapes and keeps ${…} as written", () => {
    const r = parseHcl(`a = "q\\" b\\\\ \\t \\u00e9 \\x41 \\101 \${x}"`);
    expect(r.ok && r.value[0]!.value).toMatchObject({ value: 'q" b\\ \t é A A ${x}' });
  });

  it("numbers are read as HCL 1 reads them: a leading 0 is octal", () => {
    expect(hclInteger("0644")).toBe(0o644);
    expect(hclInteger("644")).toBe(644);
    expect(hclInteger("0x1f")).toBe(31);
    expect(hclInteger("-12")).toBe(-12);
    expect(hclInteger("0o17")).toBe(15);
    expect(hclInteger("0")).toBe(0);
    expect(hclInteger("089")).toBeUndefined();
    expect(hclInteger("1.5")).toBeUndefined();
    expect(hclInteger("")).toBeUndefined();
    expect(parseHcl("a = 089").ok).toBe(false);
  });

  it("names the line and column of what is wrong", () => {
    const cases: [string, string][] = [
      ['a = "open', '1:5: string not terminated'],
      ["a = 1\nb = ", "2:5: expected a value, found the end of the file"],
      ["a = 1 b", '1:8: expected "=" or "{" after "b", found the end of the file'],
      ["a = yes", '1:5: expected a value, found "yes" (strings need double quotes)'],
      ['block "label" { }', '1:7: block labels are not supported ("block" "…" { })'],
      ["a = <<EOF\nx\nEOF", "1:5: heredocs are not supported"],
      ["a = [1, 2", '1:10: expected "," or "]" in the list, found the end of the file'],
      ["a = [1,", "1:5: list not terminated"],
      ["a { b = 1", '1:10: expected "}" before the end of the file'],
      ["/* never closed", "1:1: comment not terminated"],
      ['a = "\\q"', "1:7: unknown escape \\q"],
      ["= 1", '1:1: expected a key, found "="'],
    ];
    for (const [text, message] of cases) {
      const r = parseHcl(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(formatHclError(r.error), text).toBe(message);
    }
  });

  it("fuzz: 20,000 mutated configurations never throw, and every error has a line and column", () => {
    const next = prng(11);
    const alphabet = ['"', "{", "}", "[", "]", "=", ",", "\n", "#", "/", "*", "\\", "0", "x", "-", ".", "e", " ", "<", "a", "\u00e9", "\uD800"];
    let failures = 0;
    let runs = 0;
    for (let i = 0; i < 20_000; i++) {
      const base = [README_EXAMPLE, TESTDATA, MYSQL, K8S_ONESHOT][i % 4]!;
      let text = base;
      const edits = 1 + Math.floor(next() * 4);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(next() * text.length);
        const op = next();
        if (op < 0.4) text = text.slice(0, at) + alphabet[Math.floor(next() * alphabet.length)] + text.slice(at);
        else if (op < 0.8) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 8));
        else text = text.slice(0, at);
      }
      runs++;
      const r = parseHcl(text);
      const c = parseHelperConfig(text);
      if (!r.ok) {
        failures++;
        expect(r.error.line).toBeGreaterThanOrEqual(1);
        expect(r.error.column).toBeGreaterThanOrEqual(1);
        expect(c.ok).toBe(false);
      }
    }
    expect(runs).toBe(20_000);
    // Both outcomes were exercised.
    expect(failures).toBeGreaterThan(1000);
    expect(failures).toBeLessThan(19_000);
    // Deep nesting is refused, not a stack overflow.
    expect(parseHcl(`a = ${"[".repeat(10_000)}`).ok).toBe(false);
    expect(parseHcl(`${"a { ".repeat(10_000)}`).ok).toBe(false);
  });
});

describe("helper.conf", () => {
  it("spiffe-helper's README example parses unchanged, every key as documented", () => {
    const c = config(README_EXAMPLE);
    expect(c).toMatchObject({
      agentAddress: "/tmp/spire-agent/public/api.sock",
      cmd: "ghostunnel",
      certDir: "certs",
      renewSignal: "SIGUSR1",
      svidFileName: "svid.pem",
      svidKeyFileName: "svid_key.pem",
      svidBundleFileName: "svid_bundle.pem",
      jwtBundleFileName: "bundle.json",
      jwtSvids: [{ audience: "your-audience", extraAudiences: ["your-extra-audience-1", "your-extra-audience-2"], fileName: "jwt_svid.token" }],
      certFileMode: 0o444,
      keyFileMode: 0o444,
      jwtBundleFileMode: 0o444,
      jwtSvidFileMode: 0o444,
      daemonMode: true,
      addIntermediatesToBundle: false,
      includeFederatedDomains: false,
      omitExpired: false,
      hint: "",
      pidFileName: "",
    });
    expect(c.cmdArgs).toEqual(["server", "--listen", "localhost:8002", "--target", "localhost:8001", "--keystore", "certs/svid_key.pem", "--cacert", "certs/svid_bundle.pem", "--allow-uri-san", "spiffe://example.org/Database"]);
    expect(c.warnings).toEqual([]);
  });

  it("spiffe-helper's testdata, repository and example files parse unchanged", () => {
    const t = config(TESTDATA);
    // 444 without a leading 0 is decimal in HCL 1, as spiffe-helper's own test asserts (444, not 0444).
    expect(t.certFileMode).toBe(444);
    expect(t.warnings[0]).toBe("cert_file_mode = 444 is decimal (mode 0674), as in spiffe-helper; write 0444 for octal");
    expect(t.jwtSvids).toEqual([{ audience: "your-audience", extraAudiences: ["your-extra-audience-1", "your-extra-audience-2"], fileName: "jwt_svid.token" }]);
    expect(t.addIntermediatesToBundle).toBe(true);
    expect(config(ROOT_HELPER)).toMatchObject({ cmd: "", cmdArgs: [], keyFileMode: 0o600, certFileMode: 0o644, jwtBundleFileMode: 0o600, jwtSvidFileMode: 0o600 });
    expect(config(MYSQL)).toMatchObject({ cmd: "/usr/bin/mysql", cmdArgs: ["-e", "ALTER INSTANCE RELOAD TLS;"], certDir: "/var/lib/mysql", addIntermediatesToBundle: true });
    const k = config(K8S_ONESHOT);
    expect(k).toMatchObject({ daemonMode: false, certDir: "", jwtSvids: [{ audience: "test", extraAudiences: [], fileName: "jwt_svid.token" }] });
  });

  it("the remaining keys: hint, omit_expired, include_federated_domains, pid_file_name, health_checks, jwt_svids blocks", () => {
    const c = config(`
      svid_file_name = "a.pem"
      svid_key_file_name = "a.key"
      svid_bundle_file_name = "b.pem"
      hint = "web"
      omit_expired = true
      include_federated_domains = true
      renew_signal = "SIGHUP"
      pid_file_name = "/run/nginx.pid"
      jwt_svids { jwt_audience = "one"  jwt_svid_file_name = "one.token" }
      jwt_svids {
        jwt_audience = "two"
        jwt_svid_file_name = "two.token"
      }
      health_checks {
        listener_enabled = true
        bind_port = "9090"
        readiness_path = "/r"
        unknown_inner = 1
      }
    `);
    expect(c).toMatchObject({ hint: "web", omitExpired: true, includeFederatedDomains: true, pidFileName: "/run/nginx.pid", renewSignal: "SIGHUP" });
    expect(c.jwtSvids.map((j) => j.audience)).toEqual(["one", "two"]);
    expect(c.healthChecks).toEqual({ listenerEnabled: true, bindPort: 9090, livenessPath: "/live", readinessPath: "/r" });
    expect(c.warnings).toEqual(["health_checks.unknown_inner is not a known key; ignored"]);
    expect(config(`jwt_bundle_file_name = "j.json"\nhealth_checks = { listener_enabled = true }`).healthChecks.bindPort).toBe(8081);
  });

  it("-daemon-mode wins over daemon_mode; the last of a repeated key wins", () => {
    const base = `jwt_bundle_file_name = "j.json"\n`;
    expect(config(`${base}daemon_mode = true`, false).daemonMode).toBe(false);
    expect(config(`${base}daemon_mode = false`, true).daemonMode).toBe(true);
    expect(config(`${base}daemon_mode = false\ndaemon_mode = true`).daemonMode).toBe(true);
  });

  it("refuses what spiffe-helper refuses, with its messages", () => {
    const x509 = `svid_file_name = "a"\nsvid_key_file_name = "b"\nsvid_bundle_file_name = "c"\n`;
    expect(error(`${x509}foo = 1\nbar = "x"`)).toBe("unknown top level key(s): bar,foo");
    expect(error(`${x509}jwt_svids = [{jwt_audience="a", jwt_svid_file_name="f"}, {jwt_audience="a", jwt_svid_file_name="f", foo=1, bar=2}]`)).toBe("unknown key(s) in jwt_svids[1]: bar,foo");
    expect(error(`${x509}jwt_svids = [{jwt_audience="a"}]`)).toBe("'jwt_svid_file_name' is required in 'jwt_svids'");
    expect(error(`${x509}jwt_svids = [{jwt_svid_file_name="f"}]`)).toBe("'jwt_audience' is required in 'jwt_svids'");
    expect(error(`svid_file_name = "a"`)).toBe("all or none of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must be specified");
    expect(error(`cert_dir = "x"`)).toMatch(/^at least one of the sets/);
    expect(error(`${x509}pid_file_name = "/p"`)).toBe("must specify renew_signal when using pid_file_name");
    expect(error(`${x509}pid_file_name = "/p"\nrenew_signal = "SIGHUP"\ndaemon_mode = false`)).toMatch(/^pid_file_name is set but daemon_mode is false/);
    expect(error(`${x509}cert_file_mode = -1`)).toBe("cert file mode must be positive");
    expect(error(`${x509}key_file_mode = 0100000`)).toMatch(/is not a file mode/);
    expect(error(`${x509}daemon_mode = "false"`)).toBe("4:15: daemon_mode must be true or false");
    expect(error(`${x509}cert_dir = ["x"]`)).toBe("4:12: cert_dir must be a string");
    expect(error(`${x509}cert_file_mode = 1.5`)).toBe("4:18: cert_file_mode must be an integer");
    expect(error(`${x509}renew_signal = "HUP"`)).toMatch(/is not a signal name/);
    expect(error(`${x509}cmd_args = "a \\"b"`)).toMatch(/^cmd_args: /);
    expect(error(`${x509}svid_file_name = `)).toBe("4:18: expected a value, found the end of the file");
    // One-shot mode with cmd is accepted with a warning, as spiffe-helper does.
    expect(config(`${x509}cmd = "x"\nrenew_signal = "SIGHUP"\ndaemon_mode = false`).warnings).toHaveLength(2);
  });
});

describe("cmd_args", () => {
  it("splits as spiffe-helper does (encoding/csv with spaces)", () => {
    expect(splitCmdArgs("")).toEqual({ ok: true, value: [] });
    expect(splitCmdArgs("-c conf")).toEqual({ ok: true, value: ["-c", "conf"] });
    expect(splitCmdArgs('"this is one argument"')).toEqual({ ok: true, value: ["this is one argument"] });
    expect(splitCmdArgs('"with ONE "" in it" x')).toEqual({ ok: true, value: ['with ONE " in it', "x"] });
    expect(splitCmdArgs("-c 'echo hello world'")).toEqual({ ok: true, value: ["-c", "'echo", "hello", "world'"] });
    expect(splitCmdArgs("a  b")).toEqual({ ok: true, value: ["a", "", "b"] });
    expect(splitCmdArgs("a\nb")).toEqual({ ok: true, value: ["a"] });
    expect(splitCmdArgs('a"b').ok).toBe(false);
    expect(splitCmdArgs('"a"b').ok).toBe(false);
    expect(splitCmdArgs('"open').ok).toBe(false);
  });
});
