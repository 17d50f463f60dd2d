/**
 * The checks that need only the probed facts and the plan: pure functions, tested without nodes.
 * (The ones that talk to nodes are in on-nodes.ts.)
 */
import type { ClusterPlan, PlannedNode } from "../plan/planner.js";
import type { NodeFacts } from "../probe/node-facts.js";
import type { CheckResult, TimedFacts } from "../probe/verdicts.js";

export const CLOCK_SKEW_LIMIT_S = 5;

export const nodeLabel = (n: PlannedNode) => `${n.alias} (${n.sshHost})`;
const label = nodeLabel;

export function clockChecks(timed: ReadonlyArray<TimedFacts | undefined>, plan: ClusterPlan): CheckResult[] {
  return plan.nodes.map((n) => {
    const t = timed[n.index]!;
    const midpoint = (t.sentAtMs + t.receivedAtMs) / 2000;
    const skew = t.facts.epochSeconds - midpoint;
    const ok = Math.abs(skew) < CLOCK_SKEW_LIMIT_S;
    return {
      check: "clock",
      node: label(n),
      ok,
      evidence: `${skew >= 0 ? "+" : ""}${skew.toFixed(2)} s from this machine${ok ? "" : ` (over ${CLOCK_SKEW_LIMIT_S} s: munge credentials and logs break; sync the clock)`}`,
    };
  });
}

export function gpuChecks(timed: ReadonlyArray<TimedFacts | undefined>, plan: ClusterPlan): CheckResult[] {
  return plan.nodes.map((n) => {
    const f = timed[n.index]!.facts;
    if (plan.cpuOnly) {
      return {
        check: "gpus",
        node: label(n),
        ok: true,
        evidence: `CPU-only: NUM_TRAINERS=${plan.numTrainers} CPU process(es) (gloo); ${f.gpuCount} GPU(s) found${f.gpuCount > 0 ? ", not used" : ""}`,
      };
    }
    const ok = f.gpuCount === plan.numTrainers;
    return {
      check: "gpus",
      node: label(n),
      ok,
      evidence: `${f.gpuCount} GPU(s) found (${f.gpuSource})${ok ? " = " : ", but "}NUM_TRAINERS=${plan.numTrainers}${f.gpuCount === 0 ? " (for CPU/gloo work on GPU-less nodes set trainersPerNode instead)" : ""}`,
    };
  });
}

export function versionChecks(
  timed: ReadonlyArray<TimedFacts | undefined>,
  plan: ClusterPlan,
): CheckResult[] {
  const fields = [
    ["torch", (f: NodeFacts) => f.torchVersion],
    ["NCCL", (f: NodeFacts) => f.ncclVersion],
    ["driver", (f: NodeFacts) => f.driverVersion],
  ] as const;
  return plan.nodes.map((n) => {
    const mine = timed[n.index]!.facts;
    const problems: string[] = [];
    const seen: string[] = [];
    for (const [name, get] of fields) {
      const value = get(mine);
      if (value === undefined) continue;
      seen.push(`${name} ${value}`);
      const others = plan.nodes.map((o) => get(timed[o.index]!.facts)).filter((v) => v !== undefined);
      const majority = mode(others);
      if (majority === undefined) {
        problems.push(`${name} versions differ with no majority (${[...new Set(others)].join(" vs ")})`);
      } else if (value !== majority)
        problems.push(`${name} ${value} differs from the other nodes' ${majority}`);
    }
    return {
      check: "versions",
      node: label(n),
      ok: problems.length === 0,
      evidence:
        problems.length > 0
          ? problems.join("; ")
          : seen.length > 0
            ? `${seen.join(", ")} (same on every node that has it)`
            : "no torch, NCCL or driver found",
    };
  });
}

/** The value most nodes have; undefined on a tie, where no node can be called the odd one out. */
export function mode(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  if (ranked.length > 1 && ranked[0]![1] === ranked[1]![1]) return undefined;
  return ranked[0]?.[0];
}
