/** What `podkit cluster` prints for people: the check table (streamed or whole) and the plan. */

import {
  assignRanks,
  type CheckResult,
  type ClusterPlan,
  NODE_PATHS,
  type NodeChange,
} from "@podkit/cluster";
import type { ClusterSpec } from "@podkit/core";
import { formatTable, type Output } from "../output.js";

const verdictWord = (c: CheckResult) => (!c.ok ? "FAIL" : c.warning ? "WARN" : "PASS");

/**
 * The check table, a row at a time as each verdict arrives: the column widths are fixed up front
 * (check names are known, node labels come from the file), so a node is reported the moment its
 * verdict is known instead of after the slowest node.
 */
export function checkStreamer(output: Output, spec: ClusterSpec): (c: CheckResult) => void {
  const ranks = assignRanks(spec.nodes);
  const labels = spec.nodes.map((n, i) => `node-${ranks[i]} (${n.host})`);
  const widths = [6, "tcp-primary".length, Math.max(4, ...labels.map((l) => l.length))];
  let header = false;
  return (c) => {
    if (!header) {
      header = true;
      output.out(["RESULT", "CHECK", "NODE", "EVIDENCE"].map((h, i) => h.padEnd(widths[i] ?? 0)).join("  "));
    }
    const cells = [verdictWord(c), c.check, c.node];
    output.out(`${cells.map((x, i) => x.padEnd(widths[i] ?? 0)).join("  ")}  ${c.evidence}`);
  };
}

export function printChecks(output: Output, checks: readonly CheckResult[]): void {
  output.out(
    formatTable(
      ["RESULT", "CHECK", "NODE", "EVIDENCE"],
      checks.map((c) => [verdictWord(c), c.check, c.node, c.evidence]),
    ),
  );
}

export function printPlan(output: Output, plan: ClusterPlan, changes: readonly NodeChange[]): void {
  output.out(
    `cluster ${plan.name}: ${plan.numNodes} node(s) × ${plan.numTrainers} ${plan.cpuOnly ? "CPU trainer(s)" : "GPU(s)"}, primary ${plan.primaryAddress}:${plan.primaryPort}, env hash ${plan.envHash}`,
  );
  for (const n of plan.nodes) {
    output.out(
      `\n${n.alias}  ssh ${n.sshUser}@${n.sshHost}:${n.sshPort}  hostname ${n.hostname}  ${n.interface} ${n.address}`,
    );
    for (const [k, v] of n.env) output.out(`  ${k}=${v}`);
    const change = changes.find((c) => c.node === n.alias);
    output.out(
      `  up would write: ${change?.files.length ? change.files.join(", ") : "nothing (already set)"}`,
    );
    for (const line of change?.disabledLines ?? []) output.out(`  up would comment out ${line}`);
  }
  output.out(`\n/etc/hosts (every node):\n${plan.hostsLines.map((l) => `  ${l}`).join("\n")}`);
  output.out(`\n${NODE_PATHS.hostfile}:\n${plan.hostfile.trimEnd().replace(/^/gm, "  ")}`);
  for (const w of plan.warnings) output.err(`warning: ${w}`);
}
