import { uploadDir } from "../exec/script-check.js";
import type { ClusterContext } from "../plan/open-cluster.js";
import { onEachNode } from "../ssh/fan-out.js";
import { shellQuote } from "../ssh/shell-quote.js";
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
    const uploads = shellQuote(uploadDir(ctx.spec.name));
    const script = [
      // A subshell: the Slurm part exits early when Slurm was never set up.
      `(\n${SLURM_TEARDOWN_SCRIPT}\n)`,
      writeScript(desired, changed, false),
      "rm -rf /etc/podkit/cluster.podkit-tmp",
      `if [ -e ${uploads} ]; then rm -rf ${uploads}; echo "removed ${uploadDir(ctx.spec.name)}"; fi`,
      "created=; [ -e /etc/podkit/cluster/.created-etc-podkit ] && created=1",
      'if [ -e /etc/podkit/cluster ]; then rm -rf /etc/podkit/cluster; echo "removed /etc/podkit/cluster"; fi',
      'if [ -n "$created" ] && rmdir /etc/podkit 2>/dev/null; then echo "removed /etc/podkit"; fi',
    ].join("\n");
    const r = await session.exec(script, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(r.stderr.trim() || `exit ${r.code}`);
    const undone = [
      ...changed.map((path) =>
        desired.get(path) === null ? `removed ${path}` : `removed podkit's lines from ${path}`,
      ),
      ...r.stdout.split("\n").filter((line) => /^(stopped|restored|removed) /.test(line)),
    ];
    return undone.length > 0 ? undone.join("; ") : "nothing to undo";
  });
  const nodes = results.map((r, i) => ({
    node: `node-${ctx.ranks[i]} (${ctx.conns[i]!.host})`,
    ok: r.ok,
    detail: r.ok ? r.value : r.error,
  }));
  return { ok: nodes.every((n) => n.ok), nodes };
}
