import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRows, failures, podkit, writeClusterFile } from "./cluster/cli.js";
import { type NetnsCluster, startNetnsCluster } from "./cluster/netns.js";
import { type FakePort, fakeRdmaScript } from "./cluster/rdma-tree.js";

/** Rows including WARN, which checkRows (PASS|FAIL) leaves out. */
const rdmaRows = (stdout: string) =>
  stdout
    .split("\n")
    .map((l) => /^(PASS|FAIL|WARN)\s+rdma\s+(node-\d+) \(\S+\)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}: ${m[3]}`);

describe("InfiniBand and RoCE on 3 namespace nodes (fake /sys/class/infiniband trees)", () => {
  let c: NetnsCluster;
  let file: string;
  const setPorts = (i: number, ports: FakePort[]) => {
    const r = c.exec(i, fakeRdmaScript(ports));
    expect(r.code, r.stderr).toBe(0);
  };
  const hdr = (): FakePort[] => [{ device: "mlx5_0" }, { device: "mlx5_1" }];
  const env = (i: number) =>
    c
      .ssh(
        i,
        "echo HCA=$NCCL_IB_HCA GID=$NCCL_IB_GID_INDEX DISABLE=$NCCL_IB_DISABLE SOCKET=$NCCL_SOCKET_IFNAME",
      )
      .stdout.trim();

  beforeAll(async () => {
    c = await startNetnsCluster({ nodes: 3, rdma: true });
    file = writeClusterFile(c);
  });
  afterAll(() => c?.down());

  it("InfiniBand: up writes NCCL_IB_HCA with the active ports on every node, sockets stay on ens1", async () => {
    for (const n of c.nodes) setPorts(n.index, hdr());
    const r = await podkit(["cluster", "up", "-f", file]);
    expect(failures(r.stdout)).toEqual([]);
    expect(r.code).toBe(0);
    expect(rdmaRows(r.stdout)).toContain(
      "PASS node-1: mlx5_0:1 InfiniBand 200 Gb/s, mlx5_1:1 InfiniBand 200 Gb/s, all ACTIVE: NCCL_IB_HCA==mlx5_0:1,mlx5_1:1",
    );
    for (const n of c.nodes) expect(env(n.index)).toBe("HCA==mlx5_0:1,mlx5_1:1 GID= DISABLE= SOCKET=ens1");
  });

  it("a down port and a slower link are FAILs, and up writes nothing", async () => {
    setPorts(1, [{ device: "mlx5_0" }, { device: "mlx5_1", state: "DOWN" }]);
    setPorts(2, [{ device: "mlx5_0", rate: "100 Gb/sec (4X EDR)" }, { device: "mlx5_1" }]);
    const r = await podkit(["cluster", "up", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no node was changed");
    expect(failures(r.stdout).map((f) => `${f.check} ${f.node}`)).toEqual(["rdma node-1", "rdma node-2"]);
    const rows = rdmaRows(r.stdout);
    expect(rows[1]).toMatch(
      /^FAIL node-1: mlx5_1:1 is DOWN \(Polling\): .*1 active HCA port\(s\) \(mlx5_0:1\) where the other nodes have 2/,
    );
    expect(rows[2]).toBe(
      "FAIL node-2: mlx5_0:1 links at 100 Gb/sec (4X EDR) while the other nodes run at 200 Gb/sec",
    );
  });

  it("--no-ib forces sockets: a WARN per node with RDMA, and NCCL_IB_DISABLE=1 instead of NCCL_IB_HCA", async () => {
    for (const n of c.nodes) setPorts(n.index, hdr());
    const r = await podkit(["cluster", "up", "-f", file, "--no-ib"]);
    expect(r.code).toBe(0);
    expect(rdmaRows(r.stdout)[0]).toBe(
      "WARN node-0: mlx5_0:1 InfiniBand 200 Gb/s, mlx5_1:1 InfiniBand 200 Gb/s present, but sockets are forced (network.transport: sockets or --no-ib): NCCL_IB_DISABLE=1, NCCL traffic goes over TCP on ens1",
    );
    for (const n of c.nodes) expect(env(n.index)).toBe("HCA= GID= DISABLE=1 SOCKET=ens1");
  });

  it("RoCE: NCCL_IB_GID_INDEX names the RoCE v2 GID of the IPv4 address; IB next to RoCE is a FAIL", async () => {
    for (const n of c.nodes)
      setPorts(n.index, [
        {
          device: "mlx5_0",
          linkLayer: "Ethernet",
          netdev: "ens1",
          ipv4: n.clusterIp,
          rate: "100 Gb/sec (4X EDR)",
        },
      ]);
    const r = await podkit(["cluster", "up", "-f", file]);
    expect(failures(r.stdout)).toEqual([]);
    expect(r.code).toBe(0);
    for (const n of c.nodes) expect(env(n.index)).toBe("HCA==mlx5_0:1 GID=3 DISABLE= SOCKET=ens1");
    setPorts(2, [{ device: "mlx5_0", rate: "100 Gb/sec (4X EDR)" }]);
    const mixed = await podkit(["cluster", "check", "-f", file]);
    expect(mixed.code).toBe(1);
    expect(
      checkRows(mixed.stdout)
        .filter((x) => x.result === "FAIL" && x.check === "rdma")
        .map((x) => x.evidence),
    ).toEqual(["mlx5_0:1 is InfiniBand while the other nodes use Ethernet"]);
  });
});
