import type { ClusterPlan, PlannedNode } from "../plan/planner.js";
import { shellQuote } from "../ssh/shell-quote.js";

export interface TorchrunOptions {
  script: string;
  args?: readonly string[];
  /** Defaults to NUM_TRAINERS (at least 1, so CPU-only clusters still start one worker). */
  nprocPerNode?: number;
  /** The launcher; `torchrun` on PATH unless given. */
  torchrun?: string;
  /** torch version found on the node: torch 1.x needs `--redirects 1 --tee 1` on Python 3.11. */
  torchVersion?: string;
}

/**
 * The torchrun argv for one node: static rendezvous on the primary's cluster IP (no hostname
 * resolution, no c10d store election), so it works even where /etc/hosts is wrong.
 */
export function torchrunArgv(plan: ClusterPlan, node: PlannedNode, opts: TorchrunOptions): string[] {
  const nproc = opts.nprocPerNode ?? Math.max(1, plan.numTrainers);
  const argv = [
    opts.torchrun ?? "torchrun",
    `--nnodes=${plan.numNodes}`,
    `--node_rank=${node.rank}`,
    `--nproc_per_node=${nproc}`,
    "--rdzv_backend=static",
    `--master_addr=${plan.primaryAddress}`,
    `--master_port=${plan.primaryPort}`,
    "--max_restarts=0",
  ];
  // torch 1.13 on Python 3.11 crashes parsing the default "--redirects 0" (IntFlag change; meta-llama/llama#86).
  const major = Number(/^(\d+)\./.exec(opts.torchVersion ?? "")?.[1] ?? "2");
  if (major < 2) argv.push("--redirects=1", "--tee=1");
  return [...argv, opts.script, ...(opts.args ?? [])];
}

export function torchrunLine(plan: ClusterPlan, node: PlannedNode, opts: TorchrunOptions): string {
  return torchrunArgv(plan, node, opts).map(shellQuote).join(" ");
}
