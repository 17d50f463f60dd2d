/**
 * Public entry of @podkit/cluster. The folders follow the data: spec (the cluster file) → ssh (the
 * transport) → probe (facts read from each node) → plan (ranks, NIC, env: pure) → check (pre-flight
 * verdicts) → apply (what up/down/slurm write) → exec (run and torchrun on every node).
 */

export { type NodeChange, previewChanges } from "./apply/desired-files.js";
export { clusterDown, type DownReport } from "./apply/down.js";
export {
  applyManagedBlock,
  removeManagedBlock,
  renderEnvironmentFile,
  renderHostsFile,
} from "./apply/managed-files.js";
export { clusterSlurm, type SlurmReport } from "./apply/slurm.js";
export { renderGresConf, renderSlurmConf } from "./apply/slurm-conf.js";
export { clusterUp, type UpReport } from "./apply/up.js";
export { clusterCheck } from "./check/cluster-check.js";
export { type NodeRunResult, type RunReport, runOnAll } from "./exec/run.js";
export { launchedScript, nodesMissingScript, uploadDir } from "./exec/script-check.js";
export { type TorchrunOptions, torchrunArgv, torchrunLine } from "./exec/torchrun.js";
export { selectClusterInterfaces } from "./plan/interfaces.js";
export { type ClusterContext, openCluster } from "./plan/open-cluster.js";
export {
  ALL_ENV_KEYS,
  assignRanks,
  type ClusterPlan,
  NODE_PATHS,
  type NodeProblem,
  type PlannedNode,
  type PlanResult,
  planCluster,
} from "./plan/planner.js";
export { parseEnvLines } from "./probe/env-lines.js";
export { type NodeFacts, type NodeInterface, parseFacts } from "./probe/node-facts.js";
export type { CheckName, CheckResult, TimedFacts } from "./probe/verdicts.js";
export { type LoadedClusterSpec, loadClusterSpec, parseClusterSpec } from "./spec/load.js";
export { parseKnownHosts, sshFingerprint, verifyHostKey } from "./ssh/known-hosts.js";
export { SshSession } from "./ssh/session.js";
export { commandLine, shellQuote } from "./ssh/shell-quote.js";
