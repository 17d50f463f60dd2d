import { describe, expect, it } from "vitest";
import { planCluster } from "../plan/planner.js";
import { runpodLikeFacts, specFor } from "../test-helpers.js";
import { torchrunArgv, torchrunLine } from "./torchrun.js";

const result = planCluster(
  specFor(2),
  [0, 1].map((i) => runpodLikeFacts(i)),
);
if (!result.ok) throw new Error("plan failed");
const plan = result.plan;

describe("torchrunArgv", () => {
  it.each([
    { torch: "2.4.1", nproc: undefined, extra: [] as string[], n: 8 },
    { torch: "1.13.0a0+gitunknown", nproc: undefined, extra: ["--redirects=1", "--tee=1"], n: 8 },
    { torch: undefined, nproc: 2, extra: [], n: 2 },
  ])("torch $torch, nproc $nproc", ({ torch, nproc, extra, n }) => {
    const argv = torchrunArgv(plan, plan.nodes[1]!, {
      script: "train.py",
      args: ["--epochs", "3"],
      ...(torch ? { torchVersion: torch } : {}),
      ...(nproc ? { nprocPerNode: nproc } : {}),
    });
    expect(argv).toEqual([
      "torchrun",
      "--nnodes=2",
      "--node_rank=1",
      `--nproc_per_node=${n}`,
      "--rdzv_backend=static",
      "--master_addr=10.65.0.2",
      "--master_port=29500",
      "--max_restarts=0",
      ...extra,
      "train.py",
      "--epochs",
      "3",
    ]);
  });

  it("quotes arguments for the remote shell", () => {
    expect(torchrunLine(plan, plan.nodes[0]!, { script: "my script.py", args: ["it's"] })).toMatch(
      /'my script\.py' 'it'"'"'s'$/,
    );
  });
});
