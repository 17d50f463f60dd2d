import { describe, expect, it } from "vitest";
import { workerExecArgv } from "./cluster.js";

describe("the Node.js flags a gateway worker starts with", () => {
  it.each([
    [[], false, ["--max-semi-space-size=2"]],
    [["--expose-gc"], false, ["--expose-gc", "--max-semi-space-size=2"]],
    // An operator's own choice wins, in either spelling V8 accepts.
    [["--expose-gc", "--max-semi-space-size=8"], false, ["--expose-gc", "--max-semi-space-size=8"]],
    [["--max_semi_space_size=16"], false, ["--max_semi_space_size=16"]],
    // The single executable would take a flag as the command's first argument.
    [[], true, []],
  ])("%j (single executable: %s) -> %j", (given, sea, expected) => {
    expect(workerExecArgv(given, sea)).toEqual(expected);
  });

  it("leaves a young generation chosen in NODE_OPTIONS alone (the command line would override it)", () => {
    expect(workerExecArgv(["--expose-gc"], false, "--max-semi-space-size=4 --trace-warnings")).toEqual([
      "--expose-gc",
    ]);
    expect(workerExecArgv([], false, "--trace-warnings")).toEqual(["--max-semi-space-size=2"]);
  });

  it("a worker started with them runs with a 2 MiB semi-space (4 MiB new space in all)", async () => {
    const { execFileSync } = await import("node:child_process");
    const newSpace = execFileSync(
      process.execPath,
      [
        ...workerExecArgv([], false),
        "-e",
        "const v8 = require('node:v8'); let k = []; for (let i = 0; i < 3e6; i++) { k.push({ i }); if (k.length > 5000) k = []; } process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size))",
      ],
      { encoding: "utf8" },
    );
    expect(Number(newSpace)).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
