import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failures, podkit, torchrunRanks, writeClusterFile } from "./cluster/cli.js";
import { type NetnsCluster, startNetnsCluster } from "./cluster/netns.js";

const CHECK_JOB = new URL("./testdata/cluster/allreduce_check.py", import.meta.url).pathname;

describe("a CPU-only cluster (3 namespace nodes without GPUs)", () => {
  let c: NetnsCluster;
  beforeAll(async () => {
    c = await startNetnsCluster({ nodes: 3 });
  });
  afterAll(() => c?.down());

  it("gpusPerNode: 2 on GPU-less nodes fails the pre-flight and says how to ask for CPU work", async () => {
    const file = writeClusterFile(c, { name: "gpus", gpusPerNode: 2 });
    const r = await podkit(["cluster", "up", "-f", file]);
    expect(r.code).toBe(1);
    expect(failures(r.stdout).map((f) => `${f.check} ${f.node} ${f.evidence}`)).toContain(
      "gpus node-1 0 GPU(s) found (none), but NUM_TRAINERS=2 (for CPU/gloo work on GPU-less nodes set trainersPerNode instead)",
    );
  });

  it("gpusPerNode: auto on GPU-less nodes: up plans one CPU trainer per node and says so", async () => {
    const file = writeClusterFile(c, { name: "auto" });
    const up = await podkit(["cluster", "up", "-f", file]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(
      "warning: no GPUs planned on any node: one CPU trainer per node (NUM_TRAINERS=1); set trainersPerNode for more",
    );
    for (const n of c.nodes)
      expect(c.ssh(n.index, "echo $NUM_TRAINERS $WORLD_SIZE").stdout.trim()).toBe("1 3");
    const plan = await podkit(["cluster", "plan", "-f", file]);
    expect(plan.stdout).toContain("3 node(s) × 1 CPU trainer(s)");
  });

  it("trainersPerNode: 2 writes consistent variables and torchrun runs exactly WORLD_SIZE gloo ranks", async () => {
    const file = writeClusterFile(c, { name: "cpu", extra: "trainersPerNode: 2" });
    const up = await podkit(["cluster", "up", "-f", file]);
    expect(failures(up.stdout)).toEqual([]);
    expect(up.code).toBe(0);
    for (const n of c.nodes) {
      expect(c.ssh(n.index, "echo $NUM_TRAINERS $WORLD_SIZE").stdout.trim()).toBe("2 6");
      expect(c.exec(n.index, "cat /etc/podkit/cluster/hostfile").stdout).toBe(
        "10.65.0.2 slots=2\n10.65.0.3 slots=2\n10.65.0.4 slots=2\n",
      );
    }
    const r = await podkit(["cluster", "torchrun", "-f", file, "--upload", CHECK_JOB], 120_000);
    expect(r.code, r.stderr).toBe(0);
    const ranks = torchrunRanks(r.stdout);
    expect(ranks.map((x) => x.rank).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const x of ranks) expect(x).toMatchObject({ ok: true, world_size: 6, allreduce: 21, expected: 21 });
  });
});
