/**
 * What `up` and `down` want on a node, file by file, compared with what the probe read there, and the
 * shell script that writes only the difference.
 */

import type { ClusterContext } from "../plan/open-cluster.js";
import type { ClusterPlan, PlannedNode } from "../plan/planner.js";
import { NODE_PATHS } from "../plan/planner.js";
import type { NodeFacts } from "../probe/node-facts.js";
import { shellQuote } from "../ssh/shell-quote.js";
import {
  DISABLED_PREFIX,
  removeManagedBlock,
  renderClusterEnvFile,
  renderEnvironmentFile,
  renderHostsFile,
} from "./managed-files.js";

/** Path → wanted content (null: must not exist). */
export type DesiredFiles = Map<string, string | null>;

export function desiredFiles(plan: ClusterPlan, node: PlannedNode, facts: NodeFacts): DesiredFiles {
  return new Map<string, string | null>([
    ["/etc/environment", renderEnvironmentFile(facts.files["/etc/environment"] ?? "", plan, node)],
    ["/etc/hosts", renderHostsFile(facts.files["/etc/hosts"] ?? "", plan)],
    [NODE_PATHS.clusterEnv, renderClusterEnvFile(plan, node)],
    [NODE_PATHS.nodeList, plan.nodeList],
    [NODE_PATHS.hostfile, plan.hostfile],
  ]);
}

/** What `down` wants: podkit's blocks gone, its own files deleted. */
export function teardownFiles(facts: NodeFacts): DesiredFiles {
  const files: DesiredFiles = new Map();
  for (const path of ["/etc/environment", "/etc/hosts"]) {
    const current = facts.files[path];
    if (current !== null && current !== undefined) files.set(path, removeManagedBlock(current));
  }
  for (const path of [NODE_PATHS.clusterEnv, NODE_PATHS.nodeList, NODE_PATHS.hostfile]) files.set(path, null);
  return files;
}

/** Only the files whose content differs: a second `up` with the same spec writes nothing. */
export function changedFiles(current: Record<string, string | null>, desired: DesiredFiles): string[] {
  return [...desired.entries()].filter(([path, want]) => (current[path] ?? null) !== want).map(([p]) => p);
}

/**
 * A shell script that writes the changed files. /etc/hosts is rewritten in place (it is a bind mount
 * in Docker-style pods, where rename fails); the others go through a temporary file and a rename.
 */
export function writeScript(desired: DesiredFiles, paths: readonly string[], createDirs = true): string {
  const lines = ["set -e", "umask 022"];
  if (createDirs) {
    lines.push(
      "if [ ! -d /etc/podkit ]; then mkdir -p /etc/podkit/cluster; : > /etc/podkit/cluster/.created-etc-podkit; fi",
      "mkdir -p /etc/podkit/cluster",
    );
  }
  for (const path of paths) {
    const want = desired.get(path);
    const q = shellQuote(path);
    if (want === null || want === undefined) {
      lines.push(`rm -f ${q}`);
      continue;
    }
    const b64 = Buffer.from(want, "utf8").toString("base64");
    lines.push(`printf %s ${b64} | base64 -d > ${q}.podkit-tmp`);
    if (path === "/etc/hosts") lines.push(`cat ${q}.podkit-tmp > ${q}`, `rm -f ${q}.podkit-tmp`);
    else lines.push(`mv -f ${q}.podkit-tmp ${q}`);
  }
  return lines.join("\n");
}

export interface NodeChange {
  node: string;
  files: string[];
  /** Lines outside podkit's blocks that `up` comments out (they contradict the cluster's names or env). */
  disabledLines?: string[];
}

/** What `up` would change on every node, without changing anything (for `plan`). */
export function previewChanges(ctx: ClusterContext, plan: ClusterPlan): NodeChange[] {
  return plan.nodes.map((node) => {
    const facts = ctx.timed[node.index]!.facts;
    const desired = desiredFiles(plan, node, facts);
    const disabledLines = ["/etc/hosts", "/etc/environment"].flatMap((path) => {
      const before = new Set((facts.files[path] ?? "").split("\n"));
      return (desired.get(path) ?? "")
        .split("\n")
        .filter((l) => l.startsWith(DISABLED_PREFIX) && !before.has(l))
        .map((l) => `${path}: ${l.slice(DISABLED_PREFIX.length)}`);
    });
    return { node: node.alias, files: changedFiles(facts.files, desired), disabledLines };
  });
}
