import { describe, expect, it } from "vitest";
import { launchedScript, uploadDir } from "./script-check.js";

describe("launchedScript", () => {
  it.each([
    [["torchrun", "--nproc_per_node=2", "train.py", "--epochs", "3"], "train.py"],
    [["/usr/local/bin/torchrun", "--nnodes", "2", "jobs/train.py"], "jobs/train.py"],
    [["python3", "-u", "/workspace/train.py"], "/workspace/train.py"],
    [["python3.11", "eval.py"], "eval.py"],
    [["python", "-m", "torch.distributed.run", "train.py"], null],
    [["python", "-c", "print(1)"], null],
    [["bash", "-c", "python train.py"], null],
    [["torchrun", "--standalone"], null],
    [[], null],
  ])("%j → %s", (argv, expected) => {
    expect(launchedScript(argv)).toBe(expected);
  });

  it("uploads go to one folder per cluster", () => {
    expect(uploadDir("demo")).toBe("/tmp/podkit-demo");
  });
});
