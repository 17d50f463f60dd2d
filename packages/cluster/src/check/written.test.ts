import { describe, expect, it } from "vitest";
import { NODE_PATHS, planCluster } from "../plan/planner.js";
import { runpodLikeFacts, specFor } from "../test-helpers.js";
import { envVerdict, type WrittenState } from "./written.js";

const result = planCluster(
  specFor(2),
  [0, 1].map((i) => runpodLikeFacts(i)),
);
if (!result.ok) throw new Error("plan failed");
const plan = result.plan;
const node = plan.nodes[1]!;
const envText = node.env.map(([k, v]) => `${k}=${v}`).join("\n");

/** What `up` leaves on node-1, with `edit` applied to one source. */
function state(edit: { login?: [string, string]; file?: [string, string] } = {}): WrittenState {
  const login = new Map(node.env);
  const file = new Map(node.env);
  if (edit.login) login.set(...edit.login);
  if (edit.file) file.set(...edit.file);
  return {
    resolve: [node.address],
    env: login,
    files: {
      [NODE_PATHS.clusterEnv]: `# podkit\n${[...file].map(([k, v]) => `${k}=${v}`).join("\n")}\n`,
      [NODE_PATHS.nodeList]: plan.nodeList,
      [NODE_PATHS.hostfile]: plan.hostfile,
    },
  };
}

describe("envVerdict", () => {
  it("passes what up wrote", () => {
    expect(envText).toContain("NODE_RANK=1");
    expect(envVerdict(plan, node, state()).ok).toBe(true);
  });

  it("names a per-node variable without claiming two equal hashes differ", () => {
    const v = envVerdict(plan, node, state({ login: ["NODE_RANK", "5"] }));
    expect(v.ok).toBe(false);
    expect(v.evidence).toBe(
      'a new SSH session (/etc/environment) has NODE_RANK=5 (should be 1); run "podkit cluster up" again',
    );
  });

  it("keeps the hash for a cluster-wide variable", () => {
    const v = envVerdict(plan, node, state({ login: ["NUM_NODES", "4"] }));
    expect(v.evidence).toMatch(/^env hash (\w+) ≠ planned (?!\1)\w+: NUM_NODES=4 \(should be 2\)/);
  });

  it("reads /etc/podkit/cluster.env, which run and torchrun load", () => {
    const v = envVerdict(plan, node, state({ file: ["MASTER_PORT", "1234"] }));
    expect(v.evidence).toBe(
      "/etc/podkit/cluster.env has MASTER_PORT=1234 (should be 29500) (run and torchrun load this file)",
    );
    const extra = envVerdict(plan, node, state({ file: ["NCCL_DEBUG", "INFO"] }));
    expect(extra.evidence).toBe(
      "/etc/podkit/cluster.env has NCCL_DEBUG=INFO (not set by podkit) (run and torchrun load this file)",
    );
  });
});
