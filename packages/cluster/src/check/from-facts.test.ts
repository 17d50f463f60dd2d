import { describe, expect, it } from "vitest";
import { planCluster } from "../plan/planner.js";
import type { NodeFacts } from "../probe/node-facts.js";
import type { TimedFacts } from "../probe/verdicts.js";
import { runpodLikeFacts, specFor } from "../test-helpers.js";
import { clockChecks, gpuChecks, versionChecks } from "./from-facts.js";

function setup(overrides: Array<Partial<NodeFacts>>, spec = specFor(overrides.length, { gpusPerNode: 8 })) {
  const facts = overrides.map((o, i) => runpodLikeFacts(i, o));
  const result = planCluster(spec, facts);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const timed: TimedFacts[] = facts.map((f) => ({ facts: f, sentAtMs: 1_000_000, receivedAtMs: 1_000_200 }));
  return { plan: result.plan, timed };
}

const summary = (rows: Array<{ ok: boolean; node: string; evidence: string }>) =>
  rows.map((r) => `${r.ok ? "PASS" : "FAIL"} ${r.node.split(" ")[0]}: ${r.evidence}`);

describe("clockChecks", () => {
  it.each([
    { epoch: 1000.1, want: "PASS node-0: +0.00 s from this machine" },
    { epoch: 1003.1, want: "PASS node-0: +3.00 s from this machine" },
    {
      epoch: 994.0,
      want: "FAIL node-0: -6.10 s from this machine (over 5 s: munge credentials and logs break; sync the clock)",
    },
  ])("node clock $epoch s against a round trip centred on 1000.1 s", ({ epoch, want }) => {
    const { plan, timed } = setup([{ epochSeconds: epoch }]);
    expect(summary(clockChecks(timed, plan))).toEqual([want]);
  });
});

describe("gpuChecks", () => {
  it("compares what each node has with NUM_TRAINERS", () => {
    const { plan, timed } = setup([{ gpuCount: 8 }, { gpuCount: 7, gpuSource: "/dev/nvidiaN" }]);
    expect(summary(gpuChecks(timed, plan))).toEqual([
      "PASS node-0: 8 GPU(s) found (nvidia-smi) = NUM_TRAINERS=8",
      "FAIL node-1: 7 GPU(s) found (/dev/nvidiaN), but NUM_TRAINERS=8",
    ]);
  });
});

describe("gpuChecks on CPU-only clusters", () => {
  it("passes GPU-less nodes when the file says trainersPerNode, and notes unused GPUs", () => {
    const { plan, timed } = setup(
      [{ gpuCount: 0, gpuSource: "none" }, { gpuCount: 2 }],
      specFor(2, { trainersPerNode: 2 }),
    );
    expect(summary(gpuChecks(timed, plan))).toEqual([
      "PASS node-0: CPU-only: NUM_TRAINERS=2 CPU process(es) (gloo); 0 GPU(s) found",
      "PASS node-1: CPU-only: NUM_TRAINERS=2 CPU process(es) (gloo); 2 GPU(s) found, not used",
    ]);
  });

  it("still fails declared GPUs that are not there, and says how to ask for CPU work", () => {
    const { plan, timed } = setup(
      [0, 1].map(() => ({ gpuCount: 0, gpuSource: "none" as const })),
      specFor(2, { gpusPerNode: 2 }),
    );
    expect(summary(gpuChecks(timed, plan))[0]).toBe(
      "FAIL node-0: 0 GPU(s) found (none), but NUM_TRAINERS=2 (for CPU/gloo work on GPU-less nodes set trainersPerNode instead)",
    );
  });
});

describe("versionChecks", () => {
  it.each([
    {
      name: "identical everywhere",
      nodes: [
        { torchVersion: "2.4.1", ncclVersion: "2.21.5" },
        { torchVersion: "2.4.1", ncclVersion: "2.21.5" },
      ],
      want: [
        "PASS node-0: torch 2.4.1, NCCL 2.21.5 (same on every node that has it)",
        "PASS node-1: torch 2.4.1, NCCL 2.21.5 (same on every node that has it)",
      ],
    },
    {
      name: "one node behind",
      nodes: [
        { torchVersion: "2.4.1", driverVersion: "550.54.15" },
        { torchVersion: "2.4.1", driverVersion: "550.54.15" },
        { torchVersion: "2.3.0", driverVersion: "535.104.05" },
      ],
      want: [
        "PASS node-0: torch 2.4.1, driver 550.54.15 (same on every node that has it)",
        "PASS node-1: torch 2.4.1, driver 550.54.15 (same on every node that has it)",
        "FAIL node-2: torch 2.3.0 differs from the other nodes' 2.4.1; driver 535.104.05 differs from the other nodes' 550.54.15",
      ],
    },
    {
      name: "a tie, where no node is the odd one out",
      nodes: [{ torchVersion: "2.4.1" }, { torchVersion: "2.3.0" }],
      want: [
        "FAIL node-0: torch versions differ with no majority (2.4.1 vs 2.3.0)",
        "FAIL node-1: torch versions differ with no majority (2.4.1 vs 2.3.0)",
      ],
    },
    {
      name: "nothing installed",
      nodes: [{}, {}],
      want: ["PASS node-0: no torch, NCCL or driver found", "PASS node-1: no torch, NCCL or driver found"],
    },
  ])("$name", ({ nodes, want }) => {
    const { plan, timed } = setup(nodes);
    expect(summary(versionChecks(timed, plan))).toEqual(want);
  });
});
