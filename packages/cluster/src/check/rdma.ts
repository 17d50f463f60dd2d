/**
 * The `rdma` pre-flight (pure, from the probed /sys/class/infiniband): every node must offer NCCL
 * the same active HCA ports at the same rate and link layer, and no port may be down. Nodes without
 * RDMA devices anywhere in the cluster get no line at all.
 */
import type { ClusterPlan } from "../plan/planner.js";
import { activePorts, portName } from "../plan/rdma.js";
import { type RdmaPort, rocev2GidIndex } from "../probe/rdma.js";
import type { CheckResult, TimedFacts } from "../probe/verdicts.js";
import { mode, nodeLabel } from "./from-facts.js";

const describe = (ports: readonly RdmaPort[]) =>
  ports
    .map((p) => `${portName(p)} ${p.linkLayer === "Ethernet" ? "RoCE" : p.linkLayer} ${p.rateGbps} Gb/s`)
    .join(", ");

export function rdmaChecks(timed: ReadonlyArray<TimedFacts | undefined>, plan: ClusterPlan): CheckResult[] {
  const portsOf = (index: number) => timed[index]!.facts.rdma;
  if (plan.nodes.every((n) => portsOf(n.index).length === 0)) return [];
  if (plan.transport === "sockets") {
    return plan.nodes.map((n) => {
      const ports = portsOf(n.index);
      return ports.length === 0
        ? {
            check: "rdma",
            node: nodeLabel(n),
            ok: true,
            evidence: "no RDMA devices; sockets, as the file asks",
          }
        : {
            check: "rdma",
            node: nodeLabel(n),
            ok: true,
            warning: true,
            evidence: `${describe(ports)} present, but sockets are forced (network.transport: sockets or --no-ib): NCCL_IB_DISABLE=1, NCCL traffic goes over TCP on ${n.interface}`,
          };
    });
  }
  const signature = (ports: readonly RdmaPort[]) => activePorts(ports).map(portName).join(",");
  const sets = plan.nodes.map((n) => signature(portsOf(n.index)));
  const usualSet = mode(sets);
  const rates = plan.nodes.flatMap((n) => activePorts(portsOf(n.index)).map((p) => String(p.rateGbps)));
  const usualRate = mode(rates);
  const layers = plan.nodes.flatMap((n) => activePorts(portsOf(n.index)).map((p) => p.linkLayer));
  const usualLayer = mode(layers);
  return plan.nodes.map((n, i): CheckResult => {
    const ports = portsOf(n.index);
    const active = activePorts(ports);
    const problems: string[] = [];
    for (const p of ports.filter((x) => x.state !== "ACTIVE")) {
      problems.push(
        `${portName(p)} is ${p.state || "in an unknown state"}${p.physState ? ` (${p.physState})` : ""}: a port that is down loses its share of NCCL's traffic or stalls it; fix the link or take the HCA out`,
      );
    }
    if (sets[i] !== usualSet) {
      problems.push(
        usualSet === undefined
          ? `active HCA ports differ between nodes with no majority (this node: ${sets[i] || "none"})`
          : `${active.length} active HCA port(s) (${sets[i] || "none"}) where the other nodes have ${usualSet.split(",").filter(Boolean).length} (${usualSet || "none"}); NCCL_IB_HCA must name the same ports everywhere`,
      );
    }
    for (const p of active) {
      if (usualRate !== undefined && String(p.rateGbps) !== usualRate)
        problems.push(
          `${portName(p)} links at ${p.rate || "?"} while the other nodes run at ${usualRate} Gb/sec`,
        );
      if (usualLayer !== undefined && p.linkLayer !== usualLayer)
        problems.push(`${portName(p)} is ${p.linkLayer} while the other nodes use ${usualLayer}`);
      if (p.linkLayer === "Ethernet" && rocev2GidIndex(p) === undefined)
        problems.push(
          `${portName(p)} (RoCE on ${p.netdev ?? "?"}) has no RoCE v2 GID: give its netdev an IPv4 address`,
        );
    }
    if (problems.length > 0)
      return { check: "rdma", node: nodeLabel(n), ok: false, evidence: problems.join("; ") };
    const env = n.env.filter(([k]) => k.startsWith("NCCL_IB_")).map(([k, v]) => `${k}=${v}`);
    return {
      check: "rdma",
      node: nodeLabel(n),
      ok: true,
      evidence: `${describe(active)}, all ACTIVE: ${env.join(" ")}`,
    };
  });
}
