import { describe, expect, it } from "vitest";
import type { RdmaPort } from "../probe/rdma.js";
import { rdmaEnv } from "./rdma.js";

const ib = (device: string, state = "ACTIVE"): RdmaPort => ({
  device,
  port: 1,
  state,
  physState: state === "ACTIVE" ? "LinkUp" : "Polling",
  linkLayer: "InfiniBand",
  rate: "200 Gb/sec (4X HDR)",
  rateGbps: 200,
  gids: [],
});
const roce: RdmaPort = {
  ...ib("mlx5_0"),
  linkLayer: "Ethernet",
  netdev: "ens1",
  gids: [
    { index: 0, type: "IB/RoCE v1", gid: "fe80:0000:0000:0000:0c42:a1ff:fe03:f5aa" },
    { index: 1, type: "RoCE v2", gid: "fe80:0000:0000:0000:0c42:a1ff:fe03:f5aa" },
    { index: 3, type: "RoCE v2", gid: "0000:0000:0000:0000:0000:ffff:0a41:0002" },
  ],
};

describe("rdmaEnv", () => {
  it.each([
    { name: "no RDMA devices", ports: [], transport: "auto" as const, env: [] },
    {
      name: "InfiniBand: active ports only, exact names",
      ports: [ib("mlx5_0"), ib("mlx5_1"), ib("mlx5_2", "DOWN")],
      transport: "auto" as const,
      env: [["NCCL_IB_HCA", "=mlx5_0:1,mlx5_1:1"]],
    },
    {
      name: "RoCE: the IPv4 RoCE v2 GID",
      ports: [roce],
      transport: "auto" as const,
      env: [
        ["NCCL_IB_HCA", "=mlx5_0:1"],
        ["NCCL_IB_GID_INDEX", "3"],
      ],
    },
    {
      name: "sockets forced",
      ports: [ib("mlx5_0")],
      transport: "sockets" as const,
      env: [["NCCL_IB_DISABLE", "1"]],
    },
  ])("$name", ({ ports, transport, env }) => {
    expect(rdmaEnv(ports, transport)).toEqual(env);
  });
});
