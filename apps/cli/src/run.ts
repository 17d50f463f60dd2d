import { readFileSync } from "node:fs";
import { EXIT_CODES, isPodkitError } from "@podkit/core";
import { Command, CommanderError } from "commander";
import { type Output, processOutput } from "./output.js";

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** The `podkit` root command without subcommands; each area registers its own on it. */
export function createRootCommand(output: Output = processOutput): Command {
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
  return program;
}

/** Parses `argv` with `program` and returns the exit code instead of exiting. */
export async function runProgram(
  program: Command,
  argv: string[],
  output: Output = processOutput,
): Promise<number> {
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
