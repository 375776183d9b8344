/**
 * The `signet` admin CLI: finds the command, handles `--help` and `--version`, and turns a command's
 * failure into one `signet: …` line on stderr and an exit code (0 ok, 1 rejected, 2 usage, 3 network).
 */
import { parseArgs } from "./args";
import { COMMON_FLAGS, type CliIo, type Command } from "./command";
import { agentBanCommand } from "./commands/agent-ban";
import { agentEvictCommand } from "./commands/agent-evict";
import { agentListCommand } from "./commands/agent-list";
import { agentShowCommand } from "./commands/agent-show";
import { auditListCommand } from "./commands/audit-list";
import { bundleShowCommand } from "./commands/bundle-show";
import { entryCreateCommand } from "./commands/entry-create";
import { entryDeleteCommand } from "./commands/entry-delete";
import { entryListCommand } from "./commands/entry-list";
import { entryShowCommand } from "./commands/entry-show";
import { entryUpdateCommand } from "./commands/entry-update";
import { federationCreateCommand } from "./commands/federation-create";
import { federationDeleteCommand } from "./commands/federation-delete";
import { federationListCommand } from "./commands/federation-list";
import { federationRefreshCommand } from "./commands/federation-refresh";
import { federationShowCommand } from "./commands/federation-show";
import { jwtMintCommand } from "./commands/jwt-mint";
import { kbsGetResourceCommand } from "./commands/kbs-get-resource";
import { tokenGenerateCommand } from "./commands/token-generate";
import { verifySnpCommand } from "./commands/verify-snp";
import { verifyTdxCommand } from "./commands/verify-tdx";
import { x509MintCommand } from "./commands/x509-mint";
import { DEFAULT_SERVER } from "./config";
import { EXIT_CODES, EXIT_SUCCESS, oneLine, usageError, type CliFailure } from "./failure";
import { VERSION } from "./version";

export type { CliIo } from "./command";

export const COMMANDS: readonly Command[] = [x509MintCommand, jwtMintCommand, bundleShowCommand, verifySnpCommand, verifyTdxCommand, auditListCommand, kbsGetResourceCommand, entryCreateCommand, entryUpdateCommand, entryDeleteCommand, entryListCommand, entryShowCommand, tokenGenerateCommand, agentListCommand, agentShowCommand, agentBanCommand, agentEvictCommand, federationCreateCommand, federationListCommand, federationShowCommand, federationDeleteCommand, federationRefreshCommand];
const NAME_WIDTH = Math.max(...COMMANDS.map((c) => c.name.length));

const GLOBAL_FLAGS = { ...COMMON_FLAGS, version: { kind: "boolean" } } as const;

const TOP_USAGE = `Usage: signet <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(NAME_WIDTH)} ${c.summary}`).join("\n")}

Global options:
  --server URL   the Signet server (env SIGNET_SERVER; default ${DEFAULT_SERVER})
  -h, --help     show help; 'signet <command> --help' for a command's options
  --version      print the version

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
`;

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    // A bug, not an expected failure: commands return those as values.
    io.stderr(`signet: unexpected error: ${oneLine(e instanceof Error ? e.message : String(e), 300)}\n`);
    return 1;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const global = parseArgs(argv, GLOBAL_FLAGS, { stopAtPositional: true });
  if (!global.ok) return fail(io, usageError(global.error, ""));
  const { flags, rest } = global.value;
  if (flags.version) {
    io.stdout(`signet ${VERSION}\n`);
    return EXIT_SUCCESS;
  }

  const [group, action] = rest;
  if (group === undefined) {
    if (flags.help) {
      io.stdout(TOP_USAGE);
      return EXIT_SUCCESS;
    }
    io.stderr(TOP_USAGE);
    return EXIT_CODES.usage;
  }

  const inGroup = COMMANDS.filter((c) => c.name.split(" ")[0] === group);
  if (inGroup.length === 0) return fail(io, usageError(`unknown command '${oneLine(group, 60)}'`, ""));
  const wantsHelp = flags.help === true || rest.includes("--help") || rest.includes("-h");

  if (action === undefined || action.startsWith("-")) {
    const list = inGroup.map((c) => `  ${c.name.padEnd(NAME_WIDTH)} ${c.summary}`).join("\n");
    if (wantsHelp) {
      io.stdout(`Usage: signet ${group} <command> [options]\n\nCommands:\n${list}\n`);
      return EXIT_SUCCESS;
    }
    const names = inGroup.map((c) => `'${c.name}'`).join(", ");
    return fail(io, usageError(`'${group}' needs a subcommand: ${names}`, ""));
  }

  const command = inGroup.find((c) => c.name === `${group} ${action}`);
  if (!command) return fail(io, usageError(`unknown command '${oneLine(`${group} ${action}`, 80)}'`, ""));
  if (wantsHelp) {
    io.stdout(command.usage);
    return EXIT_SUCCESS;
  }

  const result = await command.execute(rest.slice(2), { io, server: flags.server });
  return result.ok ? EXIT_SUCCESS : fail(io, result.error);
}

function fail(io: CliIo, f: CliFailure): number {
  const hint = f.helpFor === undefined ? "" : ` (see 'signet ${f.helpFor === "" ? "" : `${f.helpFor} `}--help')`;
  io.stderr(`signet: ${f.message}${hint}\n`);
  return EXIT_CODES[f.reason];
}
