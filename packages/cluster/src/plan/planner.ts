import { createHash } from "node:crypto";
import { type ClusterSpec, ConfigError } from "@podkit/core";
import type { NodeFacts } from "../probe/node-facts.js";
import { selectClusterInterfaces } from "./interfaces.js";
import { rdmaEnv, type Transport } from "./rdma.js";

/** Where the files `up` writes live on every node (also exported in the env so scripts can find them). */
export const NODE_PATHS = {
  clusterEnv: "/etc/podkit/cluster.env",
  nodeList: "/etc/podkit/cluster/nodes",
  hostfile: "/etc/podkit/cluster/hostfile",
} as const;

/** Variables that must be identical on every node; their hash is compared by the pre-flight. */
export const CLUSTER_WIDE_KEYS = [
  "PODKIT_CLUSTER",
  "PRIMARY_ADDR",
  "MASTER_ADDR",
  "PRIMARY_PORT",
  "MASTER_PORT",
  "HOST_NODE_ADDR",
  "NUM_NODES",
  "NUM_TRAINERS",
  "WORLD_SIZE",
  "NODE_ADDRS",
  "PODKIT_NODE_LIST",
  "PODKIT_HOSTFILE",
] as const;

export const PER_NODE_KEYS = [
  "NODE_ADDR",
  "NODE_RANK",
  "NCCL_SOCKET_IFNAME",
  "GLOO_SOCKET_IFNAME",
  "TP_SOCKET_IFNAME",
  "OMPI_MCA_btl_tcp_if_include",
] as const;

export const ALL_ENV_KEYS = [...CLUSTER_WIDE_KEYS, ...PER_NODE_KEYS, "PODKIT_CLUSTER_ENV_HASH"] as const;

export interface PlannedNode {
  /** Position of the node in the cluster file. */
  index: number;
  rank: number;
  /** `node-<rank>`, written to /etc/hosts next to the hostname. */
  alias: string;
  sshHost: string;
  sshPort: number;
  sshUser: string;
  hostname: string;
  interface: string;
  address: string;
  gpus: number;
  /** Everything written to /etc/environment and /etc/podkit/cluster.env, in a stable order. */
  env: Array<[string, string]>;
}

export interface ClusterPlan {
  name: string;
  primaryAddress: string;
  primaryPort: number;
  numNodes: number;
  numTrainers: number;
  /** Whether NCCL may use the InfiniBand/RoCE ports found ("auto") or must stay on sockets. */
  transport: Transport;
  /** Trainers are CPU processes (trainersPerNode, or no GPUs anywhere): GPUs are neither needed nor counted. */
  cpuOnly: boolean;
  worldSize: number;
  envHash: string;
  /** Sorted by rank: nodes[0] is the primary. */
  nodes: PlannedNode[];
  /** The /etc/hosts lines (identical on every node). */
  hostsLines: string[];
  /** MPI hostfile: `<addr> slots=<gpus>` per node. */
  hostfile: string;
  /** One cluster address per line, in rank order. */
  nodeList: string;
  warnings: string[];
}

export interface NodeProblem {
  /** Index in the cluster file. */
  index: number;
  label: string;
  message: string;
}

export type PlanResult = { ok: true; plan: ClusterPlan } | { ok: false; problems: NodeProblem[] };

/**
 * Ranks follow the cluster file (the first listed node is the primary, rank 0) unless a node pins
 * `rank:`; pinned ranks are honoured and the rest fill the free slots in file order. Stable across
 * re-runs because it depends on the file only, never on which node answered first.
 */
export function assignRanks(nodes: ReadonlyArray<{ rank?: number | undefined; host: string }>): number[] {
  const n = nodes.length;
  const taken = new Map<number, string>();
  for (const node of nodes) {
    if (node.rank === undefined) continue;
    if (node.rank >= n) {
      throw new ConfigError(
        `node ${node.host} pins rank ${node.rank}, but ranks of ${n} nodes are 0..${n - 1}`,
      );
    }
    const other = taken.get(node.rank);
    if (other)
      throw new ConfigError(
        `nodes ${other} and ${node.host} both pin rank ${node.rank}; ranks must be unique`,
      );
    taken.set(node.rank, node.host);
  }
  let next = 0;
  return nodes.map((node) => {
    if (node.rank !== undefined) return node.rank;
    while (taken.has(next)) next++;
    taken.set(next, node.host);
    return next;
  });
}

export function hashEnv(
  env: ReadonlyArray<[string, string]>,
  keys: readonly string[] = CLUSTER_WIDE_KEYS,
): string {
  const lines = keys.map((k) => `${k}=${env.find(([key]) => key === k)?.[1] ?? ""}`);
  return createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 16);
}

/** A pure function of the spec and each node's facts (same order as `spec.nodes`). */
// Long: one pass over spec and facts, each check a few lines; splitting scatters the plan's order.
export function planCluster(spec: ClusterSpec, facts: ReadonlyArray<NodeFacts>): PlanResult {
  // Long on purpose: one pass from spec and facts to the plan, each step reading the previous one's
  // values (ranks, interfaces, trainers, addresses); the separable parts are already helpers.
  if (facts.length !== spec.nodes.length) throw new Error("planCluster: one NodeFacts per node is required");
  const ranks = assignRanks(spec.nodes);
  const label = (i: number) => `node-${ranks[i]} (${spec.nodes[i]!.host})`;
  const choices = selectClusterInterfaces(
    spec.nodes.map((n, i) => ({ interfaces: facts[i]!.interfaces, clusterAddress: n.clusterAddress })),
    spec.network,
  );
  const problems: NodeProblem[] = [];
  choices.forEach((c, i) => {
    if (!c.ok) problems.push({ index: i, label: label(i), message: c.problem });
  });

  const gpusOf = (i: number) => spec.nodes[i]!.gpus ?? facts[i]!.gpuCount;
  let numTrainers: number;
  let cpuOnly = false;
  const warnings: string[] = [];
  if (spec.trainersPerNode !== undefined) {
    numTrainers = spec.trainersPerNode;
    cpuOnly = true;
  } else if (spec.gpusPerNode === "auto") {
    const counts = spec.nodes.map((_, i) => gpusOf(i));
    numTrainers = Math.min(...counts);
    if (new Set(counts).size > 1) {
      spec.nodes.forEach((_, i) => {
        if (counts[i] !== numTrainers) {
          problems.push({
            index: i,
            label: label(i),
            message: `has ${counts[i]} GPUs while another node has ${numTrainers}; GPU counts must match (or set gpusPerNode)`,
          });
        }
      });
    }
  } else {
    numTrainers = spec.gpusPerNode;
  }
  // Zero GPUs everywhere: torchrun still starts one process per node, so say so in every variable.
  if (numTrainers === 0 && problems.length === 0) {
    numTrainers = 1;
    cpuOnly = true;
    warnings.push(
      "no GPUs planned on any node: one CPU trainer per node (NUM_TRAINERS=1); set trainersPerNode for more",
    );
  }
  if (problems.length > 0) return { ok: false, problems: problems.sort((a, b) => a.index - b.index) };

  const byRank = spec.nodes.map((_, i) => i).sort((a, b) => ranks[a]! - ranks[b]!);
  const addressOf = (i: number) => (choices[i] as { address: string }).address;
  const primaryAddress = addressOf(byRank[0]!);
  const numNodes = spec.nodes.length;
  const worldSize = numNodes * numTrainers;
  const shared: Array<[string, string]> = [
    ["PODKIT_CLUSTER", spec.name],
    ["PRIMARY_ADDR", primaryAddress],
    ["MASTER_ADDR", primaryAddress],
    ["PRIMARY_PORT", String(spec.primaryPort)],
    ["MASTER_PORT", String(spec.primaryPort)],
    ["HOST_NODE_ADDR", `${primaryAddress}:${spec.primaryPort}`],
    ["NUM_NODES", String(numNodes)],
    ["NUM_TRAINERS", String(numTrainers)],
    ["WORLD_SIZE", String(worldSize)],
    ["NODE_ADDRS", byRank.map(addressOf).join(",")],
    ["PODKIT_NODE_LIST", NODE_PATHS.nodeList],
    ["PODKIT_HOSTFILE", NODE_PATHS.hostfile],
  ];
  const envHash = hashEnv(shared);

  const hostnames = spec.nodes.map((_, i) => facts[i]!.hostname);
  const duplicated = new Set(hostnames.filter((h, i) => hostnames.indexOf(h) !== i));
  for (const h of duplicated) {
    warnings.push(
      `several nodes share the hostname "${h}"; only node-<rank> aliases go to /etc/hosts for them`,
    );
  }

  const nodes: PlannedNode[] = byRank.map((i) => {
    const choice = choices[i] as { interface: string; address: string };
    const rank = ranks[i]!;
    const env: Array<[string, string]> = [
      ...shared,
      ["NODE_ADDR", choice.address],
      ["NODE_RANK", String(rank)],
      // NCCL takes prefixes: "ens1" matches ens1 only while names stop at ens8; gloo needs the exact name.
      ["NCCL_SOCKET_IFNAME", choice.interface],
      ["GLOO_SOCKET_IFNAME", choice.interface],
      ["TP_SOCKET_IFNAME", choice.interface],
      ["OMPI_MCA_btl_tcp_if_include", choice.interface],
      ...rdmaEnv(facts[i]!.rdma, spec.network.transport ?? "auto"),
      ["PODKIT_CLUSTER_ENV_HASH", envHash],
    ];
    const node = spec.nodes[i]!;
    return {
      index: i,
      rank,
      alias: `node-${rank}`,
      sshHost: node.host,
      sshPort: node.port ?? spec.ssh.port ?? 22,
      sshUser: node.user ?? spec.ssh.user,
      hostname: facts[i]!.hostname,
      interface: choice.interface,
      address: choice.address,
      gpus: gpusOf(i),
      env,
    };
  });

  // An alias equal to another node's hostname (pods renamed, ranks pinned) would map one name twice;
  // the hostname wins because gloo and c10d resolve it.
  const hostnameOwner = new Map(
    nodes.filter((n) => !duplicated.has(n.hostname)).map((n) => [n.hostname, n.rank]),
  );
  const hostsLines = nodes.map((n) => {
    const names: string[] = [];
    if (n.hostname && hostnameOwner.get(n.hostname) === n.rank) names.push(n.hostname);
    const aliasOwner = hostnameOwner.get(n.alias);
    if (aliasOwner !== undefined && aliasOwner !== n.rank) {
      warnings.push(
        `alias ${n.alias} is node-${aliasOwner}'s hostname; ${n.alias} is left out of /etc/hosts`,
      );
    } else if (!names.includes(n.alias)) names.push(n.alias);
    return `${n.address} ${names.join(" ")}`;
  });
  const slots = numTrainers;
  return {
    ok: true,
    plan: {
      name: spec.name,
      primaryAddress,
      primaryPort: spec.primaryPort,
      numNodes,
      numTrainers,
      cpuOnly,
      transport: spec.network.transport ?? "auto",
      worldSize,
      envHash,
      nodes,
      hostsLines,
      hostfile: nodes.map((n) => `${n.address} slots=${slots}\n`).join(""),
      nodeList: nodes.map((n) => `${n.address}\n`).join(""),
      warnings,
    },
  };
}
