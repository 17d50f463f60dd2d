#!/usr/bin/env -S node --expose-gc
import { VERSION } from "./version.js";

// `podkit hosts list | head` closes the pipe early: that is the reader's choice, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  // Answered before commander and the command areas load: scripts call this often.
  process.stdout.write(`${VERSION}\n`);
} else {
  // Long-running commands (servers, agents) never settle; everything else exits with its code.
  void import("./program.js")
    .then(({ runCli }) => runCli(argv))
    .then((code) => {
      process.exitCode = code;
    });
}
