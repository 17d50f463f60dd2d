import { describe, expect, it } from "vitest";
import { planCluster } from "../plan/planner.js";
import type { RdmaPort } from "../probe/rdma.js";
import type { TimedFacts } from "../probe/verdicts.js";
import { runpodLikeFacts, specFor } from "../test-helpers.js";
import { rdmaChecks } from "./rdma.js";

const port = (device: string, over: Partial<RdmaPort> = {}): RdmaPort => ({
  device,
  port: 1,
  state: "ACTIVE",
  physState: "LinkUp",
  linkLayer: "InfiniBand",
  rate: "200 Gb/sec (4X HDR)",
  rateGbps: 200,
  gids: [],
  ...over,
});

function run(nodes: RdmaPort[][], extra: Record<string, unknown> = {}) {
  const facts = nodes.map((rdma, i) => runpodLikeFacts(i, { rdma }));
  const result = planCluster(specFor(nodes.length, extra), facts);
  if (!result.ok) throw new Error("plan failed");
  const timed: TimedFacts[] = facts.map((f) => ({ facts: f, sentAtMs: 0, receivedAtMs: 0 }));
  return rdmaChecks(timed, result.plan).map(
    (c) => `${c.ok ? (c.warning ? "WARN" : "PASS") : "FAIL"} ${c.node.split(" ")[0]}: ${c.evidence}`,
  );
}

const two = () => [port("mlx5_0"), port("mlx5_1")];

describe("rdmaChecks", () => {
  it("says nothing on a cluster without RDMA devices", () => {
    expect(run([[], []])).toEqual([]);
  });

  it("passes the same active ports at the same rate everywhere, naming NCCL_IB_HCA", () => {
    expect(run([two(), two()])).toEqual([
      "PASS node-0: mlx5_0:1 InfiniBand 200 Gb/s, mlx5_1:1 InfiniBand 200 Gb/s, all ACTIVE: NCCL_IB_HCA==mlx5_0:1,mlx5_1:1",
      "PASS node-1: mlx5_0:1 InfiniBand 200 Gb/s, mlx5_1:1 InfiniBand 200 Gb/s, all ACTIVE: NCCL_IB_HCA==mlx5_0:1,mlx5_1:1",
    ]);
  });

  it("fails a down port, a missing HCA and a slower link", () => {
    const rows = run([
      two(),
      [port("mlx5_0"), port("mlx5_1", { state: "DOWN", physState: "Polling" })],
      [port("mlx5_0", { rate: "100 Gb/sec (4X EDR)", rateGbps: 100 }), port("mlx5_1")],
    ]);
    expect(rows[0]).toMatch(/^PASS node-0/);
    expect(rows[1]).toBe(
      "FAIL node-1: mlx5_1:1 is DOWN (Polling): a port that is down loses its share of NCCL's traffic or stalls it; fix the link or take the HCA out; 1 active HCA port(s) (mlx5_0:1) where the other nodes have 2 (mlx5_0:1,mlx5_1:1); NCCL_IB_HCA must name the same ports everywhere",
    );
    expect(rows[2]).toBe(
      "FAIL node-2: mlx5_0:1 links at 100 Gb/sec (4X EDR) while the other nodes run at 200 Gb/sec",
    );
  });

  it("fails a node whose ports use another link layer than the others (IB next to RoCE)", () => {
    const roce = port("mlx5_0", { linkLayer: "Ethernet", gids: [{ index: 3, type: "RoCE v2" }] });
    const rows = run([[port("mlx5_0")], [port("mlx5_0")], [roce]]);
    expect(rows[2]).toBe("FAIL node-2: mlx5_0:1 is Ethernet while the other nodes use InfiniBand");
  });

  it("warns where RDMA exists but the file forces sockets", () => {
    expect(run([two(), []], { network: { transport: "sockets" } })).toEqual([
      "WARN node-0: mlx5_0:1 InfiniBand 200 Gb/s, mlx5_1:1 InfiniBand 200 Gb/s present, but sockets are forced (network.transport: sockets or --no-ib): NCCL_IB_DISABLE=1, NCCL traffic goes over TCP on ens1",
      "PASS node-1: no RDMA devices; sockets, as the file asks",
    ]);
  });
});
