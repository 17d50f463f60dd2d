#!/usr/bin/env node
// Prints the N-th (1-based) ```sh block of README.md, so CI and the fresh-clone test run the
// README's commands verbatim rather than a copy that could drift from what users read.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const n = Number(process.argv[2]);
const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "README.md"), "utf8");
const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1].trim());
const block = blocks[n - 1];
if (!Number.isInteger(n) || n < 1 || block === undefined) {
  console.error(`readme-command: README.md has ${blocks.length} sh blocks; asked for ${process.argv[2]}`);
  process.exit(2);
}
process.stdout.write(`${block}\n`);
