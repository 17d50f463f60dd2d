import type { NodeInterface } from "../probe/node-facts.js";

/** Which NIC carries collectives on one node, or why none could be chosen. */
export type InterfaceChoice =
  | { ok: true; interface: string; address: string; subnet: string }
  | { ok: false; problem: string };

export interface InterfacePolicy {
  /** "auto" or an exact interface name such as "ens1". */
  interface: string;
  /** Interfaces never chosen by "auto" (management, loopback, docker). */
  exclude: readonly string[];
}

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

export function subnetOf(address: string, prefix: number): string {
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const net = (ipToInt(address) & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${prefix}`;
}

/** "ens2" < "ens10": interface names in natural order, for stable tie-breaks. */
const naturalCompare = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

const describe = (ifaces: NodeInterface[]) =>
  ifaces
    .filter((i) => i.name !== "lo")
    .map(
      (i) =>
        `${i.name}${i.up ? "" : "(down)"} ${i.ipv4.map((a) => `${a.address}/${a.prefix}`).join(",") || "-"}`,
    )
    .join("; ") || "none";

/**
 * Choose the cluster NIC on every node.
 * - A node with a pinned `clusterAddress` uses the interface holding that address.
 * - A named policy (`ens1`) uses that interface everywhere.
 * - "auto" picks the IPv4 subnet that the most nodes share on non-excluded interfaces (ties: natural
 *   interface-name order), so the NIC that holds NODE_ADDR is the one that reaches the other nodes.
 * Nodes that cannot join get a problem instead of a guess; the pre-flight reports it.
 */
export function selectClusterInterfaces(
  nodes: ReadonlyArray<{ interfaces: NodeInterface[]; clusterAddress?: string | undefined }>,
  policy: InterfacePolicy,
): InterfaceChoice[] {
  const candidatesOf = (ifaces: NodeInterface[]) =>
    ifaces.filter((i) => i.name !== "lo" && !policy.exclude.includes(i.name) && i.ipv4.length > 0);

  let chosenSubnet: { subnet: string; name: string } | undefined;
  if (policy.interface === "auto") {
    const counts = new Map<string, { nodes: Set<number>; names: Set<string> }>();
    nodes.forEach((node, index) => {
      for (const iface of candidatesOf(node.interfaces)) {
        for (const a of iface.ipv4) {
          const key = subnetOf(a.address, a.prefix);
          const entry = counts.get(key) ?? { nodes: new Set(), names: new Set() };
          entry.nodes.add(index);
          entry.names.add(iface.name);
          counts.set(key, entry);
        }
      }
    });
    const ranked = [...counts.entries()]
      .map(([subnet, e]) => ({ subnet, count: e.nodes.size, name: [...e.names].sort(naturalCompare)[0]! }))
      .sort(
        (a, b) => b.count - a.count || naturalCompare(a.name, b.name) || a.subnet.localeCompare(b.subnet),
      );
    chosenSubnet = ranked[0];
  }

  return nodes.map((node): InterfaceChoice => {
    if (node.clusterAddress) {
      const iface = node.interfaces.find((i) => i.ipv4.some((a) => a.address === node.clusterAddress));
      if (!iface) {
        return {
          ok: false,
          problem: `no interface holds the configured clusterAddress ${node.clusterAddress} (found: ${describe(node.interfaces)})`,
        };
      }
      const a = iface.ipv4.find((x) => x.address === node.clusterAddress)!;
      return upOrProblem(iface, a.address, subnetOf(a.address, a.prefix));
    }
    if (policy.interface !== "auto") {
      const iface = node.interfaces.find((i) => i.name === policy.interface);
      const first = iface?.ipv4[0];
      if (!iface || !first) {
        return {
          ok: false,
          problem: `interface ${policy.interface} ${iface ? "has no IPv4 address" : "is missing"} (found: ${describe(node.interfaces)})`,
        };
      }
      return upOrProblem(iface, first.address, subnetOf(first.address, first.prefix));
    }
    if (!chosenSubnet) {
      return {
        ok: false,
        problem: `no cluster interface: only excluded ones (${policy.exclude.join(", ")}) have IPv4 addresses (found: ${describe(node.interfaces)})`,
      };
    }
    for (const iface of candidatesOf(node.interfaces)) {
      const a = iface.ipv4.find((x) => subnetOf(x.address, x.prefix) === chosenSubnet!.subnet);
      if (a) return upOrProblem(iface, a.address, chosenSubnet.subnet);
    }
    return {
      ok: false,
      problem: `no interface on the cluster network ${chosenSubnet.subnet} (the other nodes use ${chosenSubnet.name}; found: ${describe(node.interfaces)})`,
    };
  });
}

function upOrProblem(iface: NodeInterface, address: string, subnet: string): InterfaceChoice {
  if (!iface.up) return { ok: false, problem: `interface ${iface.name} (${address}) is down; bring it up` };
  return { ok: true, interface: iface.name, address, subnet };
}
