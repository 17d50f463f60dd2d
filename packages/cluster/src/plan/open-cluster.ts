import type { ClusterSpec } from "@podkit/core";
import { FACTS_SCRIPT, parseFacts } from "../probe/node-facts.js";
import { type CheckResult, sshCheck, type TimedFacts } from "../probe/verdicts.js";
import { closeAll, connectAll, connectNode, type NodeConnection } from "../ssh/fan-out.js";
import type { SshSession } from "../ssh/session.js";
import { assignRanks, type ClusterPlan, type NodeProblem, planCluster } from "./planner.js";

export interface ConnectOptions {
  acceptNewHostKeys?: boolean;
  connectTimeoutMs?: number;
  /** Called with each verdict line the moment it is known (a node's ssh line does not wait for the others). */
  onCheck?: (check: CheckResult) => void;
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
  /** Pass verdicts on to the `onCheck` listener as they become known. */
  emit(results: readonly CheckResult[]): void;
  /**
   * New SSH connections to every node. sshd applies /etc/environment (pam_env) once per connection,
   * so only a new connection shows what a job launched after `up` will see.
   */
  reconnect(): Promise<NodeConnection[]>;
  close(): void;
}

async function probeNode(session: SshSession): Promise<TimedFacts> {
  const sentAtMs = Date.now();
  const r = await session.exec(FACTS_SCRIPT, { timeoutMs: 15_000 });
  const receivedAtMs = Date.now();
  if (r.lost) throw new Error(`lost the SSH connection during the probe: ${r.lost}`);
  return { facts: parseFacts(r.stdout), sentAtMs, receivedAtMs };
}

/**
 * Connect to all nodes and probe them, each node on its own (a node that answers is probed while a
 * dead one is still timing out), then plan. Never throws for a node's failure: it becomes its line.
 */
export async function openCluster(spec: ClusterSpec, opts: ConnectOptions = {}): Promise<ClusterContext> {
  const ranks = assignRanks(spec.nodes);
  const connectOpts = {
    acceptNewHostKeys: opts.acceptNewHostKeys ?? false,
    ...(opts.connectTimeoutMs ? { timeoutMs: opts.connectTimeoutMs } : {}),
  };
  const emit = (results: readonly CheckResult[]) => {
    for (const r of results) opts.onCheck?.(r);
  };
  const label = (i: number) => `node-${ranks[i]} (${spec.nodes[i]!.host})`;
  const problems: NodeProblem[] = [];
  const sshLines: CheckResult[] = [];
  const nodes = await Promise.all(
    spec.nodes.map(async (_, i) => {
      const conn = await connectNode(spec, i, connectOpts);
      const ssh = sshCheck(conn, ranks[i]!);
      sshLines[i] = ssh;
      emit([ssh]);
      if (!conn.session) return { conn, timed: undefined };
      try {
        return { conn, timed: await probeNode(conn.session) };
      } catch (err) {
        problems.push({ index: i, label: label(i), message: `probe failed: ${(err as Error).message}` });
        return { conn, timed: undefined };
      }
    }),
  );
  const conns = nodes.map((n) => n.conn);
  const timed = nodes.map((n) => n.timed);
  const checks = [...sshLines];
  const extra: NodeConnection[] = [];
  const ctx: ClusterContext = {
    spec,
    conns,
    ranks,
    timed,
    checks,
    problems,
    emit,
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
  problems.sort((a, b) => a.index - b.index);
  const planning = problems.map(
    (p): CheckResult => ({ check: "interface", node: p.label, ok: false, evidence: p.message }),
  );
  checks.push(...planning);
  emit(planning);
  return ctx;
}
