import { describe, expect, it } from "vitest";
import { runpodLikeFacts, specFor } from "../test-helpers.js";
import { assignRanks, CLUSTER_WIDE_KEYS, planCluster } from "./planner.js";

const envOf = (env: Array<[string, string]>) => Object.fromEntries(env);

describe("assignRanks", () => {
  it.each([
    { nodes: [{}, {}, {}], ranks: [0, 1, 2] },
    { nodes: [{}, { rank: 0 }, {}], ranks: [1, 0, 2] },
    { nodes: [{ rank: 2 }, {}, { rank: 0 }], ranks: [2, 1, 0] },
    { nodes: [{}], ranks: [0] },
  ])("$nodes → $ranks", ({ nodes, ranks }) => {
    expect(assignRanks(nodes.map((n, i) => ({ host: `h${i}`, ...n })))).toEqual(ranks);
  });

  it.each([
    { nodes: [{ rank: 1 }, { rank: 1 }], error: /both pin rank 1/ },
    { nodes: [{ rank: 5 }, {}], error: /pins rank 5, but ranks of 2 nodes are 0..1/ },
  ])("refuses $nodes", ({ nodes, error }) => {
    expect(() => assignRanks(nodes.map((n, i) => ({ host: `h${i}`, ...n })))).toThrow(error);
  });
});

describe("planCluster", () => {
  it("gives the Runpod variables of the 3-node × 2-GPU example, the interface vars and the files", () => {
    const result = planCluster(
      specFor(3),
      [0, 1, 2].map((i) => runpodLikeFacts(i, { gpuCount: 2 })),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const { plan } = result;
    expect(envOf(plan.nodes[1]!.env)).toEqual({
      PODKIT_CLUSTER: "demo",
      PRIMARY_ADDR: "10.65.0.2",
      MASTER_ADDR: "10.65.0.2",
      PRIMARY_PORT: "29500",
      MASTER_PORT: "29500",
      HOST_NODE_ADDR: "10.65.0.2:29500",
      NUM_NODES: "3",
      NUM_TRAINERS: "2",
      WORLD_SIZE: "6",
      NODE_ADDRS: "10.65.0.2,10.65.0.3,10.65.0.4",
      PODKIT_NODE_LIST: "/etc/podkit/cluster/nodes",
      PODKIT_HOSTFILE: "/etc/podkit/cluster/hostfile",
      NODE_ADDR: "10.65.0.3",
      NODE_RANK: "1",
      NCCL_SOCKET_IFNAME: "ens1",
      GLOO_SOCKET_IFNAME: "ens1",
      TP_SOCKET_IFNAME: "ens1",
      OMPI_MCA_btl_tcp_if_include: "ens1",
      PODKIT_CLUSTER_ENV_HASH: plan.envHash,
    });
    expect(plan.hostsLines).toEqual(["10.65.0.2 node-0", "10.65.0.3 node-1", "10.65.0.4 node-2"]);
    expect(plan.hostfile).toBe("10.65.0.2 slots=2\n10.65.0.3 slots=2\n10.65.0.4 slots=2\n");
    expect(plan.nodeList).toBe("10.65.0.2\n10.65.0.3\n10.65.0.4\n");
  });

  it.each(Array.from({ length: 64 }, (_, i) => i + 1))("is consistent for %i node(s)", (n) => {
    const result = planCluster(
      specFor(n),
      Array.from({ length: n }, (_, i) => runpodLikeFacts(i)),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const { plan } = result;
    expect(plan.nodes.map((node) => node.rank)).toEqual([...Array(n).keys()]);
    expect(plan.worldSize).toBe(n * 8);
    for (const node of plan.nodes) {
      const env = envOf(node.env);
      expect(env.NODE_RANK).toBe(String(node.rank));
      expect(env.NODE_ADDR).toBe(`10.65.0.${node.rank + 2}`);
      expect(env.PRIMARY_ADDR).toBe("10.65.0.2");
      expect(env.NUM_NODES).toBe(String(n));
      expect(env.WORLD_SIZE).toBe(String(n * 8));
      expect(env.GLOO_SOCKET_IFNAME).toBe("ens1");
      expect(Object.values(env).join(" ")).not.toMatch(/172\.31\.|eth0/);
      // every cluster-wide value is identical on every node
      for (const key of CLUSTER_WIDE_KEYS) expect(env[key]).toBe(envOf(plan.nodes[0]!.env)[key]);
    }
    expect(new Set(plan.nodes.map((x) => envOf(x.env).PODKIT_CLUSTER_ENV_HASH)).size).toBe(1);
    expect(plan.hostsLines).toHaveLength(n);
    expect(plan.hostfile.trim().split("\n")).toHaveLength(n);
  });

  it("keeps ranks stable whatever order facts arrive in, and honours a pinned primary", () => {
    const spec = specFor(3);
    spec.nodes[2]!.rank = 0;
    const facts = [0, 1, 2].map((i) => runpodLikeFacts(i));
    const a = planCluster(spec, facts);
    const b = planCluster(spec, facts);
    if (!a.ok || !b.ok) throw new Error("plan failed");
    expect(a.plan).toEqual(b.plan);
    expect(a.plan.primaryAddress).toBe("10.65.0.4");
    expect(a.plan.nodes.map((n) => [n.rank, n.sshHost])).toEqual([
      [0, "172.31.0.4"],
      [1, "172.31.0.2"],
      [2, "172.31.0.3"],
    ]);
    // hostnames node-0..2 no longer match the ranks: hostnames win (gloo resolves them), aliases yield
    expect(a.plan.hostsLines).toEqual(["10.65.0.4 node-2", "10.65.0.2 node-0", "10.65.0.3 node-1"]);
    expect(a.plan.warnings).toHaveLength(3);
  });

  it("changes the env hash when a cluster-wide value changes", () => {
    const facts = [0, 1].map((i) => runpodLikeFacts(i));
    const a = planCluster(specFor(2), facts);
    const b = planCluster(specFor(2, { primaryPort: 29600 }), facts);
    if (!a.ok || !b.ok) throw new Error("plan failed");
    expect(a.plan.envHash).not.toBe(b.plan.envHash);
  });

  it("uses a fixed gpusPerNode and reports nodes whose GPU counts differ under auto", () => {
    const facts = [runpodLikeFacts(0), runpodLikeFacts(1, { gpuCount: 4 })];
    const fixed = planCluster(specFor(2, { gpusPerNode: 2 }), facts);
    expect(fixed.ok && fixed.plan.numTrainers).toBe(2);
    const auto = planCluster(specFor(2), facts);
    expect(auto.ok).toBe(false);
    if (!auto.ok) expect(auto.problems[0]!.message).toMatch(/has 8 GPUs while another node has 4/);
  });

  it.each([
    { name: "trainersPerNode: 2", extra: { trainersPerNode: 2 }, trainers: 2, warned: false },
    { name: "gpusPerNode: auto", extra: {}, trainers: 1, warned: true },
    { name: "gpusPerNode: 0", extra: { gpusPerNode: 0 }, trainers: 1, warned: true },
  ])("plans GPU-less nodes with $name so every variable matches what torchrun launches", (t) => {
    const facts = [0, 1, 2].map((i) => runpodLikeFacts(i, { gpuCount: 0, gpuSource: "none" }));
    const result = planCluster(specFor(3, t.extra), facts);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const { plan } = result;
    expect(plan.cpuOnly).toBe(true);
    expect(envOf(plan.nodes[1]!.env)).toMatchObject({
      NUM_TRAINERS: String(t.trainers),
      WORLD_SIZE: String(3 * t.trainers),
    });
    expect(plan.hostfile).toBe(
      ["10.65.0.2", "10.65.0.3", "10.65.0.4"].map((a) => `${a} slots=${t.trainers}\n`).join(""),
    );
    expect(plan.warnings.some((w) => /no GPUs planned on any node/.test(w))).toBe(t.warned);
  });

  it("reports a node without the cluster NIC instead of guessing", () => {
    const lonely = runpodLikeFacts(2);
    lonely.interfaces = lonely.interfaces.filter((i) => i.name !== "ens1");
    const result = planCluster(specFor(3), [runpodLikeFacts(0), runpodLikeFacts(1), lonely]);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]!.label).toBe("node-2 (172.31.0.4)");
      expect(result.problems[0]!.message).toMatch(
        /no interface on the cluster network 10\.65\.0\.0\/24 \(the other nodes use ens1/,
      );
    }
  });

  it("puts only node-<rank> aliases in /etc/hosts when hostnames repeat", () => {
    const facts = [0, 1].map((i) => runpodLikeFacts(i, { hostname: "localhost-pod" }));
    const result = planCluster(specFor(2), facts);
    if (!result.ok) throw new Error("plan failed");
    expect(result.plan.hostsLines).toEqual(["10.65.0.2 node-0", "10.65.0.3 node-1"]);
    expect(result.plan.warnings[0]).toMatch(/share the hostname "localhost-pod"/);
  });
});
