import type { CheckReport } from "../check/cluster-check.js";
import { nodeLabel } from "../check/from-facts.js";
import { infraChecks, mungeChecks } from "../check/on-nodes.js";
import { writtenChecks } from "../check/written.js";
import type { ClusterContext } from "../plan/open-cluster.js";
import { type CheckResult, sshCheck } from "../probe/verdicts.js";
import { onEachNode } from "../ssh/fan-out.js";
import { changedFiles, desiredFiles, type NodeChange, writeScript } from "./desired-files.js";

export interface UpReport extends CheckReport {
  changes: NodeChange[];
  /** Why nothing was written, when the infrastructure checks failed. */
  stoppedBefore?: string;
}

/**
 * `up`: the infrastructure checks first (nothing is written if any fails), then the idempotent
 * writes, then the checks of what was written, from fresh SSH sessions.
 */
export async function clusterUp(ctx: ClusterContext, opts: { withMunge?: boolean } = {}): Promise<UpReport> {
  const checks = [...ctx.checks];
  const add = (results: readonly CheckResult[]) => {
    checks.push(...results);
    ctx.emit(results);
  };
  if (!ctx.plan || checks.some((c) => !c.ok)) {
    return {
      ok: false,
      checks,
      changes: [],
      stoppedBefore: "no node was changed: fix the failures above first",
    };
  }
  const plan = ctx.plan;
  const infra = await infraChecks(ctx.conns, ctx.timed, plan, ctx.emit);
  checks.push(...infra);
  if (infra.some((c) => !c.ok)) {
    return {
      ok: false,
      plan,
      checks,
      changes: [],
      stoppedBefore: "no node was changed: fix the failures above first",
    };
  }
  const writes = await onEachNode(ctx.conns, async (session, conn) => {
    const node = plan.nodes.find((n) => n.index === conn.index)!;
    const facts = ctx.timed[conn.index]!.facts;
    const desired = desiredFiles(plan, node, facts);
    const changed = changedFiles(facts.files, desired);
    if (changed.length > 0) {
      const r = await session.exec(writeScript(desired, changed), { timeoutMs: 15_000 });
      if (r.lost) throw new Error(`lost the SSH connection while writing ${changed.join(", ")}: ${r.lost}`);
      if (r.code !== 0) throw new Error(`writing ${changed.join(", ")} failed: ${r.stderr.trim()}`);
    }
    return { node: node.alias, files: changed };
  });
  const changes: NodeChange[] = [];
  writes.forEach((w, i) => {
    if (w.ok) changes.push(w.value);
    else {
      const node = plan.nodes.find((n) => n.index === i)!;
      add([{ check: "env", node: nodeLabel(node), ok: false, evidence: w.error }]);
    }
  });
  const fresh = await ctx.reconnect();
  const lost = fresh.filter((c) => !c.session);
  if (lost.length > 0) {
    add(lost.map((c) => sshCheck(c, ctx.ranks[c.index]!)));
    return { ok: false, plan, checks, changes };
  }
  add(await writtenChecks(fresh, plan));
  if (opts.withMunge) add(await mungeChecks(ctx.conns, plan));
  return { ok: checks.every((c) => c.ok), plan, checks, changes };
}
