/**
 * RDMA devices as the kernel lists them under /sys/class/infiniband (InfiniBand HCAs and RoCE
 * NICs alike): per port its state, link layer, rate, and for RoCE the GIDs with their type and
 * netdev. One `grep -H` per port keeps the probe to a handful of processes even with 8 HCAs.
 */

export interface RdmaGid {
  index: number;
  /** "RoCE v2", "IB/RoCE v1". */
  type: string;
  netdev?: string;
  /** The GID itself; RoCE v2 GIDs of IPv4 addresses end in `ffff:aabb:ccdd`. */
  gid?: string;
}

export interface RdmaPort {
  device: string;
  port: number;
  /** "ACTIVE", "DOWN", "INIT", … (the word after "4: "). */
  state: string;
  /** "LinkUp", "Polling", "Disabled", … */
  physState: string;
  /** "InfiniBand" or "Ethernet" (RoCE). */
  linkLayer: string;
  /** As the kernel prints it, e.g. "200 Gb/sec (4X HDR)". */
  rate: string;
  rateGbps: number;
  /** The netdev of the device (RoCE: the Ethernet interface it rides on). */
  netdev?: string;
  gids: RdmaGid[];
}

/** The probe's shell (root configurable for tests); its output goes in the facts' `@@rdma` section. */
export const rdmaScript = (root = "/sys/class/infiniband") =>
  [
    `for d in ${root}/*; do [ -d "$d/ports" ] || continue`,
    '  for p in "$d"/ports/*; do',
    '    grep -H . "$p/state" "$p/phys_state" "$p/link_layer" "$p/rate" 2>/dev/null',
    '    grep -Hs . "$p"/gid_attrs/types/* "$p"/gid_attrs/ndevs/* 2>/dev/null',
    '    grep -Hsv "^[0:]*$" "$p"/gids/* 2>/dev/null',
    "  done",
    '  echo "$d/netdev:$(ls "$d/device/net" 2>/dev/null | head -n1)"',
    "done",
  ].join("\n");

const word = (v: string) => v.replace(/^\d+:\s*/, "").trim();

/** Parse `path:value` lines of rdmaScript() into ports, sorted by device then port. */
export function parseRdma(lines: readonly string[]): RdmaPort[] {
  const ports = new Map<string, RdmaPort>();
  const netdevs = new Map<string, string>();
  const gids = new Map<string, Map<number, RdmaGid>>();
  for (const line of lines) {
    const dev = /([^/]+)\/netdev:(.*)$/.exec(line);
    if (dev) {
      if (dev[2]!.trim()) netdevs.set(dev[1]!, dev[2]!.trim());
      continue;
    }
    const m = /([^/]+)\/ports\/(\d+)\/([^:]+):(.*)$/.exec(line);
    if (!m) continue;
    const [, device, portText, attr, value] = m as unknown as [string, string, string, string, string];
    const key = `${device}:${portText}`;
    const port = ports.get(key) ?? {
      device,
      port: Number(portText),
      state: "",
      physState: "",
      linkLayer: "",
      rate: "",
      rateGbps: 0,
      gids: [],
    };
    ports.set(key, port);
    const gidAttr = /^(gid_attrs\/types|gid_attrs\/ndevs|gids)\/(\d+)$/.exec(attr);
    if (gidAttr) {
      const index = Number(gidAttr[2]);
      const byIndex = gids.get(key) ?? new Map<number, RdmaGid>();
      gids.set(key, byIndex);
      const gid = byIndex.get(index) ?? { index, type: "" };
      byIndex.set(index, gid);
      if (gidAttr[1] === "gid_attrs/types") gid.type = value.trim();
      else if (gidAttr[1] === "gid_attrs/ndevs") gid.netdev = value.trim();
      else gid.gid = value.trim();
    } else if (attr === "state") port.state = word(value);
    else if (attr === "phys_state") port.physState = word(value);
    else if (attr === "link_layer") port.linkLayer = value.trim();
    else if (attr === "rate") {
      port.rate = value.trim();
      port.rateGbps = Number(/^([\d.]+)\s*Gb/.exec(port.rate)?.[1] ?? 0);
    }
  }
  return [...ports.entries()]
    .map(([key, p]) => {
      const netdev = netdevs.get(p.device);
      const list = [...(gids.get(key)?.values() ?? [])]
        .filter((g) => g.type !== "")
        .sort((a, b) => a.index - b.index);
      return { ...p, ...(netdev ? { netdev } : {}), gids: list };
    })
    .sort((a, b) => a.device.localeCompare(b.device, "en", { numeric: true }) || a.port - b.port);
}

/** The GID index NCCL should use on a RoCE port: RoCE v2, preferring an IPv4-mapped GID. */
export function rocev2GidIndex(port: RdmaPort): number | undefined {
  const v2 = port.gids.filter((g) => /RoCE v2/i.test(g.type));
  const ipv4 = v2.find((g) => /:0000:ffff:[0-9a-f]{4}:[0-9a-f]{4}$/i.test(g.gid ?? ""));
  return (ipv4 ?? v2[0])?.index;
}
