export { formatTable, type Output, printJson } from "./output.js";
export { createProgram, runCli, VERSION } from "./program.js";
