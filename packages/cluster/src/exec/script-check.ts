import { posix } from "node:path";
import type { ClusterContext } from "../plan/open-cluster.js";
import type { ClusterPlan } from "../plan/planner.js";
import { shellQuote } from "../ssh/shell-quote.js";

/** Where `torchrun --upload` copies a script on every node (and what `down` removes). */
export function uploadDir(clusterName: string): string {
  return `/tmp/podkit-${clusterName}`;
}

const LAUNCHERS = /^(torchrun|python(\d+(\.\d+)?)?)$/;

/**
 * The script a command line launches, when it is a `torchrun …` or `python …` line: the first
 * non-option argument ending in `.py`. Anything else (a module with -m, a shell line) is not guessed at.
 */
export function launchedScript(argv: readonly string[]): string | null {
  const [launcher, ...rest] = argv;
  if (!launcher || !LAUNCHERS.test(posix.basename(launcher))) return null;
  for (const arg of rest) {
    if (arg === "-m" || arg === "-c") return null;
    if (!arg.startsWith("-") && arg.endsWith(".py")) return arg;
  }
  return null;
}

/**
 * The nodes on which `path` is not a readable file, seen from where `run` and `torchrun` start
 * commands (the login user's home). Checked before launch: a missing script otherwise ends in one
 * Python traceback per node and a torch elastic traceback on top.
 */
export async function nodesMissingScript(
  ctx: ClusterContext,
  plan: ClusterPlan,
  path: string,
): Promise<string[]> {
  const missing = await Promise.all(
    plan.nodes.map(async (n) => {
      const session = ctx.conns[n.index]?.session;
      if (!session) return `${n.alias} (${n.sshHost})`;
      const r = await session.exec(`cd ~ && test -f ${shellQuote(path)} && test -r ${shellQuote(path)}`, {
        timeoutMs: 10_000,
      });
      return r.code === 0 ? null : `${n.alias} (${n.sshHost})`;
    }),
  );
  return missing.filter((m): m is string => m !== null);
}
