import type { ClusterSpec } from "@podkit/core";
import { FACTS_SCRIPT, parseFacts } from "../probe/node-facts.js";
import { type CheckResult, sshChecks, type TimedFacts } from "../probe/verdicts.js";
import { closeAll, connectAll, type NodeConnection, onEachNode } from "../ssh/fan-out.js";
import { assignRanks, type ClusterPlan, type NodeProblem, planCluster } from "./planner.js";

export interface ConnectOptions {
  acceptNewHostKeys?: boolean;
  connectTimeoutMs?: number;
}

/** Connected nodes, their facts and the plan: what every `podkit cluster` verb starts from. */
export interface ClusterContext {
  spec: ClusterSpec;
  conns: NodeConnection[];
  ranks: number[];
  /** One per node in file order; undefined where SSH or the probe failed. */
  timed: Array<TimedFacts | undefined>;
  plan?: ClusterPlan;
  /** ssh lines for every node, plus probe and planning failures. */
  checks: CheckResult[];
  problems: NodeProblem[];
  /**
   * New SSH connections to every node. sshd applies /etc/environment (pam_env) once per connection,
   * so only a new connection shows what a job launched after `up` will see.
   */
  reconnect(): Promise<NodeConnection[]>;
  close(): void;
}

export async function discover(
  conns: readonly NodeConnection[],
): Promise<Array<TimedFacts | { error: string }>> {
  const results = await onEachNode(conns, async (session) => {
    const sentAtMs = Date.now();
    const r = await session.exec(FACTS_SCRIPT, { timeoutMs: 15_000 });
    const receivedAtMs = Date.now();
    return { facts: parseFacts(r.stdout), sentAtMs, receivedAtMs };
  });
  return results.map((r) => (r.ok ? r.value : { error: r.error }));
}

/** Connect to all nodes at once, probe them at once, and plan. Never throws for a node's failure. */
export async function openCluster(spec: ClusterSpec, opts: ConnectOptions = {}): Promise<ClusterContext> {
  const ranks = assignRanks(spec.nodes);
  const connectOpts = {
    acceptNewHostKeys: opts.acceptNewHostKeys ?? false,
    ...(opts.connectTimeoutMs ? { timeoutMs: opts.connectTimeoutMs } : {}),
  };
  const conns = await connectAll(spec, connectOpts);
  const checks = sshChecks(conns, ranks);
  const found = await discover(conns);
  const problems: NodeProblem[] = [];
  const timed = found.map((f, i) => {
    if ("error" in f) {
      if (conns[i]!.session) {
        problems.push({
          index: i,
          label: `node-${ranks[i]} (${spec.nodes[i]!.host})`,
          message: `probe failed: ${f.error}`,
        });
      }
      return undefined;
    }
    return f;
  });
  const extra: NodeConnection[] = [];
  const ctx: ClusterContext = {
    spec,
    conns,
    ranks,
    timed,
    checks,
    problems,
    reconnect: async () => {
      const fresh = await connectAll(spec, connectOpts);
      extra.push(...fresh);
      return fresh;
    },
    close: () => closeAll([...conns, ...extra]),
  };
  if (timed.every((t) => t !== undefined)) {
    const result = planCluster(
      spec,
      timed.map((t) => t!.facts),
    );
    if (result.ok) ctx.plan = result.plan;
    else problems.push(...result.problems);
  }
  for (const p of problems)
    checks.push({ check: "interface", node: p.label, ok: false, evidence: p.message });
  return ctx;
}
