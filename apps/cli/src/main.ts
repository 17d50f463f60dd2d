#!/usr/bin/env node
const argv = process.argv.slice(2);

/**
 * `podkit send/receive/relay` load only their own commands: they stream large files and should stay
 * small, while the full command tree imports every server (about 40 MB of RSS before any work).
 */
async function run(): Promise<number> {
  if (argv[0] === "send" || argv[0] === "receive" || argv[0] === "relay") {
    const [{ createRootCommand, runProgram }, { registerTransferCommands }] = await Promise.all([
      import("./run.js"),
      import("./commands/transfer.js"),
    ]);
    const program = createRootCommand();
    registerTransferCommands(program, (await import("./output.js")).processOutput);
    return runProgram(program, argv);
  }
  return (await import("./program.js")).runCli(argv);
}

const code = await run();
// Long-running commands (servers, agents) never return here; everything else exits with its code.
process.exitCode = code;
