import type { ClusterSpec } from "@podkit/core";
import { ClusterSpecSchema } from "@podkit/core";
import type { NodeFacts, NodeInterface } from "./probe/node-facts.js";

/** Facts of a Runpod-style node: eth0 management on 172.31.0.0/24, ens1 cluster NIC on 10.65.0.0/24. */
export function runpodLikeFacts(i: number, overrides: Partial<NodeFacts> = {}): NodeFacts {
  const interfaces: NodeInterface[] = [
    { name: "lo", up: true, ipv4: [{ address: "127.0.0.1", prefix: 8 }] },
    { name: "eth0", up: true, ipv4: [{ address: `172.31.0.${i + 2}`, prefix: 24 }] },
    { name: "ens1", up: true, ipv4: [{ address: `10.65.0.${i + 2}`, prefix: 24 }] },
  ];
  return {
    hostname: `node-${i}`,
    epochSeconds: 0,
    interfaces,
    hostnameResolvesTo: [`172.31.0.${i + 2}`],
    gpuCount: 8,
    gpuSource: "nvidia-smi",
    cpus: 32,
    memoryMiB: 512_000,
    hasPython: true,
    hasMunge: true,
    rdma: [],
    sessionEnv: new Map(),
    files: {},
    ...overrides,
  };
}

export function specFor(n: number, extra: Record<string, unknown> = {}): ClusterSpec {
  return ClusterSpecSchema.parse({
    name: "demo",
    nodes: Array.from({ length: n }, (_, i) => ({ host: `172.31.0.${i + 2}` })),
    ...extra,
  });
}
