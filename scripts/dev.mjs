#!/usr/bin/env node
// `npm run dev [-- --port N]`: makes sure .dev.vars holds the local secrets, then runs `wrangler dev`
// in local mode on 127.0.0.1 (no Cloudflare account, no network beyond loopback).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const varsPath = join(root, ".dev.vars");

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

const args = process.argv.slice(2);
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
