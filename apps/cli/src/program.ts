import { EXIT_CODES, isPodkitError } from "@podkit/core";
import { Command, CommanderError } from "commander";
import { addHelpExtras } from "./help.js";
import { type Output, processOutput } from "./output.js";

import { VERSION } from "./version.js";

export { VERSION };

type Registrar = (program: Command, output: Output) => void;

/**
 * Each area's commands, loaded only when needed: `podkit agent run` is a long-lived daemon on every
 * GPU host, and importing every area (SSH, the S3 gateway, transfers, the control plane) would add
 * tens of megabytes to its resident memory for code it never runs.
 */
const AREAS: ReadonlyArray<{ commands: readonly string[]; load: () => Promise<Registrar> }> = [
  { commands: ["gpus"], load: async () => (await import("./commands/gpus.js")).registerGpuCommands },
  {
    commands: ["control-plane"],
    load: async () => (await import("./commands/control-plane.js")).registerControlPlaneCommands,
  },
  { commands: ["hosts"], load: async () => (await import("./commands/hosts.js")).registerHostCommands },
  {
    commands: ["maintenance"],
    load: async () => (await import("./commands/maintenance.js")).registerMaintenanceCommands,
  },
  { commands: ["agent"], load: async () => (await import("./commands/agent.js")).registerAgentCommands },
  {
    commands: ["send", "receive", "relay"],
    load: async () => (await import("./commands/transfer.js")).registerTransferCommands,
  },
  {
    commands: ["cluster"],
    load: async () => (await import("./commands/cluster.js")).registerClusterCommands,
  },
  { commands: ["s3"], load: async () => (await import("./commands/s3.js")).registerS3Commands },
  { commands: ["up", "down"], load: async () => (await import("./commands/up.js")).registerUpCommands },
];

/**
 * The registrars a command line needs: only its own area when its first word names one, every area
 * otherwise (no command, `help`, a typo), so help lists everything and unknown commands are reported.
 */
export async function loadRegistrars(argv: readonly string[]): Promise<Registrar[]> {
  const first = argv.find((arg) => !arg.startsWith("-"));
  const own = AREAS.filter((area) => first !== undefined && area.commands.includes(first));
  return Promise.all((own.length > 0 ? own : AREAS).map((area) => area.load()));
}

/** The `podkit` command tree with the given areas' subcommands (all of them by default). */
export async function createProgram(
  output: Output = processOutput,
  argv: readonly string[] = [],
): Promise<Command> {
  const registrars = await loadRegistrars(argv);
  const program = new Command("podkit")
    .description("Podkit: run a GPU cloud — host agent, control plane, S3 gateway, transfers and clusters")
    .version(VERSION, "-V, --version", "print the podkit version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => output.out(s), writeErr: (s) => output.err(s) });
  for (const register of registrars) register(program, output);
  addHelpExtras(program);
  return program;
}

/** Run the CLI and return the exit code instead of exiting, so tests and wrappers can call it. */
export async function runCli(argv: string[], output: Output = processOutput): Promise<number> {
  const program = await createProgram(output, argv);
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
