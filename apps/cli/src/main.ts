#!/usr/bin/env node
import { runCli } from "./program.js";

// `podkit hosts list | head` closes the pipe early: that is the reader's choice, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

const code = await runCli(process.argv.slice(2));
// Long-running commands (servers, agents) never return here; everything else exits with its code.
process.exitCode = code;
