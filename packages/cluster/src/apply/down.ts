import type { ClusterContext } from "../plan/open-cluster.js";
import { onEachNode } from "../ssh/fan-out.js";
import { changedFiles, teardownFiles, writeScript } from "./desired-files.js";
import { SLURM_TEARDOWN_SCRIPT } from "./slurm.js";

export interface DownReport {
  ok: boolean;
  nodes: Array<{ node: string; ok: boolean; detail: string }>;
}

/** `down`: stop what podkit started, put back what it replaced, remove what it wrote. Idempotent. */
export async function clusterDown(ctx: ClusterContext): Promise<DownReport> {
  const results = await onEachNode(ctx.conns, async (session, conn) => {
    const timed = ctx.timed[conn.index];
    if (!timed) throw new Error("could not read the node's files");
    const desired = teardownFiles(timed.facts);
    const changed = changedFiles(timed.facts.files, desired);
    const script = [
      // A subshell: the Slurm part exits early when Slurm was never set up.
      `(\n${SLURM_TEARDOWN_SCRIPT}\n)`,
      writeScript(desired, changed, false),
      "rm -rf /etc/podkit/cluster.podkit-tmp",
      "if [ -e /etc/podkit/cluster/.created-etc-podkit ]; then rm -rf /etc/podkit/cluster; rmdir /etc/podkit 2>/dev/null || true; else rm -rf /etc/podkit/cluster; fi",
    ].join("\n");
    const r = await session.exec(script, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(r.stderr.trim() || `exit ${r.code}`);
    return changed.length > 0 ? `restored ${changed.join(", ")}` : "nothing to undo";
  });
  const nodes = results.map((r, i) => ({
    node: `node-${ctx.ranks[i]} (${ctx.conns[i]!.host})`,
    ok: r.ok,
    detail: r.ok ? r.value : r.error,
  }));
  return { ok: nodes.every((n) => n.ok), nodes };
}
