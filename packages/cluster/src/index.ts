// Public entry of @podkit/cluster: the planner (pure), the SSH fan-out and the verbs of `podkit cluster`.
export type { CheckName, CheckResult, TimedFacts } from "./checks.js";
export { clusterDown, type DownReport } from "./down.js";
export { type NodeFacts, type NodeInterface, parseFacts } from "./facts.js";
export {
  applyManagedBlock,
  parseEnvLines,
  removeManagedBlock,
  renderEnvironmentFile,
  renderHostsFile,
} from "./files.js";
export { clusterCheck, clusterUp, type NodeChange, previewChanges, type UpReport } from "./inject.js";
export { selectClusterInterfaces } from "./interfaces.js";
export { parseKnownHosts, sshFingerprint, verifyHostKey } from "./known-hosts.js";
export {
  ALL_ENV_KEYS,
  assignRanks,
  type ClusterPlan,
  NODE_PATHS,
  type NodeProblem,
  type PlannedNode,
  type PlanResult,
  planCluster,
} from "./planner.js";
export { type NodeRunResult, type RunReport, runOnAll } from "./run.js";
export { type ClusterContext, openCluster } from "./session.js";
export { commandLine, shellQuote } from "./shell.js";
export { clusterSlurm, type SlurmReport } from "./slurm.js";
export { renderGresConf, renderSlurmConf } from "./slurm-conf.js";
export { type LoadedClusterSpec, loadClusterSpec, parseClusterSpec } from "./spec.js";
export { SshSession } from "./ssh.js";
export { type TorchrunOptions, torchrunArgv, torchrunLine } from "./torchrun.js";
