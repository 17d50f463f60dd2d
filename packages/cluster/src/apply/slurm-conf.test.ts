import { describe, expect, it } from "vitest";
import { planCluster } from "../plan/planner.js";
import { runpodLikeFacts, specFor } from "../test-helpers.js";
import { realMemoryMiB, renderGresConf, renderSlurmConf } from "./slurm-conf.js";

function plan(n: number) {
  const r = planCluster(
    specFor(n),
    Array.from({ length: n }, (_, i) => runpodLikeFacts(i)),
  );
  if (!r.ok) throw new Error("plan failed");
  return r.plan;
}

describe("renderSlurmConf", () => {
  it.each([2, 3, 16])("declares all %i nodes with NodeAddr and the real counts", (n) => {
    const p = plan(n);
    const facts = Array.from({ length: n }, (_, i) => ({ cpus: 32 + i, memoryMiB: 100_000, gpus: 8 }));
    const conf = renderSlurmConf(p, facts, { clusterName: "demo", partition: "gpu" });
    expect(conf).toContain("SlurmctldHost=node-0(10.65.0.2)\n");
    expect(conf).toContain("GresTypes=gpu\n");
    const nodeLines = conf.split("\n").filter((l) => l.startsWith("NodeName="));
    expect(nodeLines).toHaveLength(n);
    expect(nodeLines[n - 1]).toBe(
      `NodeName=node-${n - 1} NodeAddr=10.65.0.${n + 1} NodeHostname=node-${n - 1} CPUs=${32 + n - 1} RealMemory=95000 Gres=gpu:8 State=UNKNOWN`,
    );
    expect(conf).toContain("PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n");
  });

  it("leaves GPUs out of a CPU-only cluster", () => {
    const p = plan(2);
    const facts = [0, 1].map(() => ({ cpus: 2, memoryMiB: 4000, gpus: 0 }));
    const conf = renderSlurmConf(p, facts, { clusterName: "c", partition: "cpu" });
    expect(conf).not.toMatch(/Gres/);
    expect(renderGresConf(p, facts)).toBe("");
  });
});

describe("renderGresConf", () => {
  it.each([
    [1, "NodeName=node-0 Name=gpu File=/dev/nvidia0"],
    [8, "NodeName=node-0 Name=gpu File=/dev/nvidia[0-7]"],
  ])("%i GPU(s) → device files", (gpus, line) => {
    const gres = renderGresConf(plan(2), [
      { cpus: 1, memoryMiB: 1, gpus },
      { cpus: 1, memoryMiB: 1, gpus },
    ]);
    expect(gres.split("\n")).toContain(line);
  });

  it("keeps RealMemory under MemTotal", () => {
    expect(realMemoryMiB(24105)).toBe(22899);
  });
});
