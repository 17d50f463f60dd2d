import { describe, expect, it } from "vitest";
import { slurmNodeScript } from "./slurm.js";

const base = { nodeName: "node-1", isPrimary: false, slurmConf: "ClusterName=demo\n", gresConf: "" };

describe("slurmNodeScript", () => {
  it("takes a new munge key from stdin, never from its own text (ps would show it)", () => {
    const script = slurmNodeScript({ ...base, newMungeKey: true });
    expect(script).toContain("KEY=$(cat)");
    expect(script).not.toMatch(/[A-Za-z0-9+/]{200,}/);
  });

  it.each([
    { isPrimary: true, newMungeKey: false, ctld: true },
    { isPrimary: false, newMungeKey: false, ctld: false },
  ])("primary=$isPrimary starts slurmctld: $ctld", ({ isPrimary, newMungeKey, ctld }) => {
    const script = slurmNodeScript({ ...base, isPrimary, newMungeKey });
    expect(script.includes("started slurmctld")).toBe(ctld);
    expect(script).toContain('KEY=""');
    expect(script).toContain("slurmd -N node-1");
    // no GPUs: a gres.conf left from before is removed
    expect(script).toContain("rm -f /etc/slurm/gres.conf");
  });
});
