import { readFileSync } from "node:fs";
import { EXIT_CODES, isPodkitError } from "@podkit/core";
import { Command, CommanderError } from "commander";
import { registerAgentCommands } from "./commands/agent.js";
import { registerClusterCommands } from "./commands/cluster.js";
import { registerControlPlaneCommands } from "./commands/control-plane.js";
import { registerGpuCommands } from "./commands/gpus.js";
import { registerHostCommands } from "./commands/hosts.js";
import { registerMaintenanceCommands } from "./commands/maintenance.js";
import { registerS3Commands } from "./commands/s3.js";
import { registerTransferCommands } from "./commands/transfer.js";
import { registerUpCommands } from "./commands/up.js";
import { type Output, processOutput } from "./output.js";

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** The whole `podkit` command tree. Each area registers its own subcommands. */
export function createProgram(output: Output = processOutput): Command {
  const program = new Command("podkit")
    .description("Podkit: run a GPU cloud — host agent, control plane, S3 gateway, transfers and clusters")
    .version(VERSION, "-V, --version", "print the podkit version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => output.out(s), writeErr: (s) => output.err(s) })
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 4 not found, 5 authentication,
6 conflict, 7 service unavailable, 130 interrupted.`,
    );
  registerGpuCommands(program, output);
  registerControlPlaneCommands(program, output);
  registerHostCommands(program, output);
  registerMaintenanceCommands(program, output);
  registerAgentCommands(program, output);
  registerTransferCommands(program, output);
  registerClusterCommands(program, output);
  registerS3Commands(program, output);
  registerUpCommands(program, output);
  return program;
}

/** Run the CLI and return the exit code instead of exiting, so tests and wrappers can call it. */
export async function runCli(argv: string[], output: Output = processOutput): Promise<number> {
  const program = createProgram(output);
  // Nested subcommands (`hosts list`) need the override too, or commander exits the process itself.
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    for (const sub of cmd.commands) override(sub);
  };
  override(program);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_CODES.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      ) {
        return EXIT_CODES.ok;
      }
      return EXIT_CODES.usage;
    }
    if (isPodkitError(err)) {
      output.err(`podkit: ${err.message}`);
      return err.exitCode;
    }
    output.err(`podkit: ${(err as Error)?.stack ?? String(err)}`);
    return EXIT_CODES.failure;
  }
}
