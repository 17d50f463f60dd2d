import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRdma, rdmaScript, rocev2GidIndex } from "./rdma.js";

/** A small /sys/class/infiniband: one IB HCA, one RoCE NIC (4 GIDs, the last RoCE v2 of 10.65.0.2), one down port. */
function tree(): string {
  const root = mkdtempSync(join(tmpdir(), "podkit-ib-"));
  const put = (path: string, value: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${value}\n`);
  };
  put("mlx5_0/ports/1/state", "4: ACTIVE");
  put("mlx5_0/ports/1/phys_state", "5: LinkUp");
  put("mlx5_0/ports/1/link_layer", "InfiniBand");
  put("mlx5_0/ports/1/rate", "200 Gb/sec (4X HDR)");
  put("mlx5_0/ports/1/gids/0", "fe80:0000:0000:0000:0c42:a103:00f5:0b6e");
  put("mlx5_0/ports/1/gids/1", "0000:0000:0000:0000:0000:0000:0000:0000");
  put("mlx5_2/ports/1/state", "4: ACTIVE");
  put("mlx5_2/ports/1/phys_state", "5: LinkUp");
  put("mlx5_2/ports/1/link_layer", "Ethernet");
  put("mlx5_2/ports/1/rate", "100 Gb/sec (4X EDR)");
  const mapped = "0000:0000:0000:0000:0000:ffff:0a41:0002";
  [
    "fe80:0000:0000:0000:0c42:a1ff:fe03:f5aa",
    "fe80:0000:0000:0000:0c42:a1ff:fe03:f5aa",
    mapped,
    mapped,
  ].forEach((g, i) => {
    put(`mlx5_2/ports/1/gids/${i}`, g);
    put(`mlx5_2/ports/1/gid_attrs/types/${i}`, i % 2 ? "RoCE v2" : "IB/RoCE v1");
    put(`mlx5_2/ports/1/gid_attrs/ndevs/${i}`, "ens1f0");
  });
  mkdirSync(join(root, "mlx5_2/device/net/ens1f0"), { recursive: true });
  put("mlx5_10/ports/1/state", "1: DOWN");
  put("mlx5_10/ports/1/phys_state", "2: Polling");
  put("mlx5_10/ports/1/link_layer", "InfiniBand");
  put("mlx5_10/ports/1/rate", "10 Gb/sec (4X SDR)");
  return root;
}

describe("rdmaScript + parseRdma", () => {
  it("reads ports, states, rates, RoCE GIDs and netdevs from a sysfs-shaped tree", () => {
    const out = execFileSync("sh", ["-c", rdmaScript(tree())], { encoding: "utf8" });
    const ports = parseRdma(out.split("\n"));
    expect(
      ports.map((p) => `${p.device}:${p.port} ${p.state} ${p.physState} ${p.linkLayer} ${p.rateGbps}`),
    ).toEqual([
      "mlx5_0:1 ACTIVE LinkUp InfiniBand 200",
      "mlx5_2:1 ACTIVE LinkUp Ethernet 100",
      "mlx5_10:1 DOWN Polling InfiniBand 10",
    ]);
    const roce = ports[1]!;
    expect(roce.netdev).toBe("ens1f0");
    expect(roce.gids.map((g) => `${g.index} ${g.type} ${g.netdev}`)).toEqual([
      "0 IB/RoCE v1 ens1f0",
      "1 RoCE v2 ens1f0",
      "2 IB/RoCE v1 ens1f0",
      "3 RoCE v2 ens1f0",
    ]);
    expect(rocev2GidIndex(roce)).toBe(3);
    expect(rocev2GidIndex(ports[0]!)).toBeUndefined();
  });

  it("finds nothing on a node without /sys/class/infiniband", () => {
    const out = execFileSync("sh", ["-c", rdmaScript(join(tmpdir(), "podkit-no-such-dir"))], {
      encoding: "utf8",
    });
    expect(parseRdma(out.split("\n"))).toEqual([]);
  });
});
