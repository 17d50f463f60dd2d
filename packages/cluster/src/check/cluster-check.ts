import type { ClusterContext } from "../plan/open-cluster.js";
import type { ClusterPlan } from "../plan/planner.js";
import type { CheckResult } from "../probe/verdicts.js";
import { infraChecks, mungeChecks } from "./on-nodes.js";
import { writtenChecksFromFacts } from "./written.js";

export interface CheckReport {
  ok: boolean;
  plan?: ClusterPlan;
  checks: CheckResult[];
}

/** `check`: every pre-flight check, writing nothing. */
export async function clusterCheck(
  ctx: ClusterContext,
  opts: { withMunge?: boolean } = {},
): Promise<CheckReport> {
  const checks = [...ctx.checks];
  if (!ctx.plan || checks.some((c) => !c.ok)) return { ok: false, checks };
  const plan = ctx.plan;
  const written = writtenChecksFromFacts(ctx.timed, plan);
  ctx.emit(written);
  const infra = await infraChecks(ctx.conns, ctx.timed, plan, ctx.emit);
  checks.push(...infra, ...written);
  if (opts.withMunge) {
    const munge = await mungeChecks(ctx.conns, plan);
    ctx.emit(munge);
    checks.push(...munge);
  }
  return { ok: checks.every((c) => c.ok), plan, checks };
}
