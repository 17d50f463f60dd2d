import type { ClusterContext } from "../plan/open-cluster.js";
import type { ClusterPlan } from "../plan/planner.js";
import type { CheckResult } from "../probe/verdicts.js";
import { infraChecks, injectedChecks, mungeChecks } from "./on-nodes.js";

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
  const [infra, injected] = await Promise.all([
    infraChecks(ctx.conns, ctx.timed, plan),
    injectedChecks(ctx.conns, plan),
  ]);
  checks.push(...infra, ...injected);
  if (opts.withMunge) checks.push(...(await mungeChecks(ctx.conns, plan)));
  return { ok: checks.every((c) => c.ok), plan, checks };
}
