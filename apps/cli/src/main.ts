#!/usr/bin/env node
import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2));
// Long-running commands (servers, agents) never return here; everything else exits with its code.
process.exitCode = code;
