#!/usr/bin/env node
// `npm run dev [-- --port N]`: makes sure .dev.vars holds the local secrets, then runs `wrangler dev`
// in local mode on 127.0.0.1 (no Cloudflare account, no network beyond loopback).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const varsPath = join(root, ".dev.vars");

const args = process.argv.slice(2);

/** The value of `--flag V` or `--flag=V` in the arguments, if given. */
function flagValue(flag) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag) return args[i + 1];
    if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1);
  }
  return undefined;
}

/** Whether local state already holds a certificate authority (its keys are wrapped under the KEK). */
function caStateExists() {
  const doDir = join(resolve(root, flagValue("--persist-to") ?? ".wrangler/state"), "v3", "do");
  if (!existsSync(doDir)) return undefined;
  for (const entry of readdirSync(doDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.endsWith("-CertificateAuthority")) continue;
    const dir = join(doDir, entry.name);
    if (readdirSync(dir).some((f) => f.endsWith(".sqlite"))) return dir;
  }
  return undefined;
}

function ensureDevVars() {
  const text = existsSync(varsPath) ? readFileSync(varsPath, "utf8") : "";
  const has = (name) => new RegExp(`^\\s*${name}\\s*=\\s*\\S`, "m").test(text);
  const added = [];
  let out = text;
  if (out.length > 0 && !out.endsWith("\n")) out += "\n";
  if (!has("SIGNET_ADMIN_TOKEN")) {
    out += `SIGNET_ADMIN_TOKEN=${randomBytes(32).toString("base64url")}\n`;
    added.push("SIGNET_ADMIN_TOKEN");
  }
  if (!has("SIGNET_KEK")) {
    const state = caStateExists();
    if (state) {
      // A new KEK cannot open the stored CA keys: the CA would refuse to sign (or, worse, start over).
      console.error(
        `signet: ${varsPath} has no SIGNET_KEK, but a certificate authority already exists in ${state}.\n` +
          "  Restore the SIGNET_KEK line it was created with, or, to start a new CA and lose the old one's keys,\n" +
          `  remove that state (rm -rf ${dirname(dirname(dirname(state)))}) and run npm run dev again.`,
      );
      process.exit(1);
    }
    out += `SIGNET_KEK=${randomBytes(32).toString("base64url")}\n`;
    added.push("SIGNET_KEK");
  }
  if (added.length > 0) {
    writeFileSync(varsPath, out, { mode: 0o600 });
    chmodSync(varsPath, 0o600);
    console.log(`signet: generated ${added.join(" and ")} into ${varsPath} (gitignored; keep it private)`);
  } else {
    console.log(`signet: using the secrets in ${varsPath}`);
  }
}

ensureDevVars();

const has = (flag) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
const wranglerArgs = ["dev", ...(has("--ip") ? [] : ["--ip", "127.0.0.1"]), ...(has("--port") ? [] : ["--port", "8787"]), ...args];
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const child = spawn(process.execPath, [wrangler, ...wranglerArgs], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
