import type { Command } from "commander";
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
import { createRootCommand, runProgram } from "./run.js";

export { VERSION } from "./run.js";

/** The whole `podkit` command tree. Each area registers its own subcommands. */
export function createProgram(output: Output = processOutput): Command {
  const program = createRootCommand(output);
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
  return runProgram(createProgram(output), argv, output);
}
