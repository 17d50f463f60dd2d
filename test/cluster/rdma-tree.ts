/**
 * Fake /sys/class/infiniband trees for nodes without RDMA hardware, in the shape the kernel gives
 * (mlx5: ports/<n>/{state,phys_state,link_layer,rate}, gids/<i>, gid_attrs/{types,ndevs}/<i>,
 * device/net/<netdev>). A RoCE port carries the usual four GIDs: link-local v1 and v2, then the
 * IPv4-mapped v1 and v2, so the RoCE v2 GID of the IPv4 address is index 3.
 */
export interface FakePort {
  device: string;
  port?: number;
  state?: "ACTIVE" | "DOWN";
  linkLayer?: "InfiniBand" | "Ethernet";
  /** As the kernel prints it. */
  rate?: string;
  /** RoCE: the netdev the port rides on and its IPv4 address. */
  netdev?: string;
  ipv4?: string;
}

const hex4 = (a: number, b: number) => ((a << 8) | b).toString(16).padStart(4, "0");

/** A shell script that replaces the node's /sys/class/infiniband with these ports. */
export function fakeRdmaScript(ports: readonly FakePort[]): string {
  const lines = ["set -e", "rm -rf /sys/class/infiniband/*"];
  for (const p of ports) {
    const dir = `/sys/class/infiniband/${p.device}`;
    const port = `${dir}/ports/${p.port ?? 1}`;
    const put = (path: string, value: string) =>
      lines.push(`mkdir -p ${path.replace(/\/[^/]+$/, "")}; echo '${value}' > ${path}`);
    const active = (p.state ?? "ACTIVE") === "ACTIVE";
    put(`${port}/state`, active ? "4: ACTIVE" : "1: DOWN");
    put(`${port}/phys_state`, active ? "5: LinkUp" : "2: Polling");
    put(`${port}/link_layer`, p.linkLayer ?? "InfiniBand");
    put(`${port}/rate`, p.rate ?? "200 Gb/sec (4X HDR)");
    if ((p.linkLayer ?? "InfiniBand") === "InfiniBand") {
      put(`${port}/gids/0`, "fe80:0000:0000:0000:0c42:a103:00f5:0b6e");
      put(`${port}/gid_attrs/types/0`, "IB/RoCE v1");
    } else {
      const [a, b, c, d] = (p.ipv4 ?? "10.65.0.2").split(".").map(Number) as [number, number, number, number];
      const mapped = `0000:0000:0000:0000:0000:ffff:${hex4(a, b)}:${hex4(c, d)}`;
      const gids = [
        "fe80:0000:0000:0000:0c42:a1ff:fe03:f5aa",
        "fe80:0000:0000:0000:0c42:a1ff:fe03:f5aa",
        mapped,
        mapped,
      ];
      gids.forEach((g, i) => {
        put(`${port}/gids/${i}`, g);
        put(`${port}/gid_attrs/types/${i}`, i % 2 === 0 ? "IB/RoCE v1" : "RoCE v2");
        put(`${port}/gid_attrs/ndevs/${i}`, p.netdev ?? "ens1");
      });
    }
    if (p.netdev) lines.push(`mkdir -p ${dir}/device/net/${p.netdev}`);
  }
  return lines.join("\n");
}
