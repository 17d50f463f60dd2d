import { describe, expect, it } from "vitest";
import { type ClusterPlan, planCluster } from "../plan/planner.js";
import { parseEnvLines } from "../probe/env-lines.js";
import { runpodLikeFacts, specFor } from "../test-helpers.js";
import {
  DISABLED_PREFIX,
  removeManagedBlock,
  renderClusterEnvFile,
  renderEnvironmentFile,
  renderHostsFile,
} from "./managed-files.js";

function plan3(): ClusterPlan {
  const r = planCluster(
    specFor(3),
    [0, 1, 2].map((i) => runpodLikeFacts(i)),
  );
  if (!r.ok) throw new Error("plan failed");
  return r.plan;
}

const DOCKER_HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n172.31.0.3 node-1\n";

describe("renderHostsFile", () => {
  it.each([
    {
      name: "Docker-style (hostname → eth0)",
      before: DOCKER_HOSTS,
      disabled: ["172.31.0.3 node-1"],
      kept: [],
    },
    {
      name: "Debian's 127.0.1.1 line",
      before: "127.0.0.1 localhost\n127.0.1.1 node-1\n",
      disabled: ["127.0.1.1 node-1"],
      kept: [],
    },
    {
      name: "a line with other names, which stay",
      before: "127.0.0.1 localhost\n172.31.0.3 node-1 my-pod.internal\n",
      disabled: ["172.31.0.3 node-1 my-pod.internal"],
      kept: ["172.31.0.3 my-pod.internal #podkit-kept"],
    },
    { name: "an empty file", before: "", disabled: [], kept: [] },
    { name: "a file without a final newline", before: "127.0.0.1 localhost", disabled: [], kept: [] },
  ])("fixes $name, is idempotent and fully undone by down", ({ before, disabled, kept }) => {
    const plan = plan3();
    const after = renderHostsFile(before, plan);
    const lines = after.split("\n");
    for (const d of disabled) expect(lines).toContain(`${DISABLED_PREFIX}${d}`);
    for (const k of kept) expect(lines).toContain(k);
    for (const l of plan.hostsLines) expect(lines).toContain(l);
    // no active line maps a cluster name anywhere else
    const active = lines.filter((l) => l && !l.startsWith("#") && !plan.hostsLines.includes(l));
    expect(active.join("\n")).not.toMatch(/\bnode-[0-2]\b/);
    expect(renderHostsFile(after, plan)).toBe(after);
    expect(removeManagedBlock(after)).toBe(before);
  });

  it("updates cleanly when the plan changes", () => {
    const plan = plan3();
    const first = renderHostsFile(DOCKER_HOSTS, plan);
    const moved = { ...plan, hostsLines: ["10.65.0.9 node-0", "10.65.0.3 node-1", "10.65.0.4 node-2"] };
    const second = renderHostsFile(first, moved);
    expect(second).toContain("10.65.0.9 node-0");
    expect(second).not.toContain("10.65.0.2 node-0");
    expect(second.match(/# >>> podkit cluster/g)).toHaveLength(1);
    expect(removeManagedBlock(second)).toBe(DOCKER_HOSTS);
  });
});

describe("renderEnvironmentFile", () => {
  it("disables conflicting keys, keeps the rest, and is undone by down", () => {
    const plan = plan3();
    const before = 'PATH="/usr/local/sbin:/usr/bin"\nNCCL_SOCKET_IFNAME=eth0\nHF_HOME=/workspace/hf\n';
    const after = renderEnvironmentFile(before, plan, plan.nodes[1]!);
    expect(after).toContain(`${DISABLED_PREFIX}NCCL_SOCKET_IFNAME=eth0`);
    expect(after).toContain("HF_HOME=/workspace/hf");
    const env = parseEnvLines(after);
    expect(env.get("NCCL_SOCKET_IFNAME")).toBe("ens1");
    expect(env.get("NODE_RANK")).toBe("1");
    expect(env.get("PATH")).toBe("/usr/local/sbin:/usr/bin");
    expect(renderEnvironmentFile(after, plan, plan.nodes[1]!)).toBe(after);
    expect(removeManagedBlock(after)).toBe(before);
  });
});

describe("renderClusterEnvFile / parseEnvLines", () => {
  it("round-trips every variable", () => {
    const plan = plan3();
    const node = plan.nodes[2]!;
    expect([...parseEnvLines(renderClusterEnvFile(plan, node)).entries()]).toEqual(node.env);
  });

  it.each([
    ["A=1\nA=2\n", { A: "2" }],
    ['export B="x y"\n# C=3\n', { B: "x y" }],
    ["not a line\nD=\n", { D: "" }],
  ] as const)("parses %j", (text, want) => {
    expect(Object.fromEntries(parseEnvLines(text))).toEqual(want);
  });
});
