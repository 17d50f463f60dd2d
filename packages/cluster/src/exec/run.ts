import { type ClusterPlan, NODE_PATHS, type PlannedNode } from "../plan/planner.js";
import type { NodeConnection } from "../ssh/fan-out.js";
import { shellQuote } from "../ssh/shell-quote.js";

export interface RunOptions {
  /** One deadline for the whole run; every node is stopped when it passes. */
  timeoutMs: number;
  /** Called with whole lines, already prefixed `[node-i] `. */
  onLine: (line: string, stream: "stdout" | "stderr") => void;
  /** Grace between SIGTERM and SIGKILL when stopping a node. */
  killGraceMs?: number;
  /** Aborting (Ctrl-C) stops every node, like a failure does. */
  signal?: AbortSignal;
}

export interface NodeRunResult {
  node: string;
  rank: number;
  code: number | null;
  /** Stopped by podkit because another node failed or the deadline passed. */
  stopped: boolean;
  /** Why the SSH connection to the node was lost mid-command (the node died, rebooted or left the network). */
  lost?: string;
}

export interface RunReport {
  ok: boolean;
  timedOut: boolean;
  interrupted: boolean;
  /** The first node that failed on its own, if any. */
  firstFailure?: NodeRunResult;
  nodes: NodeRunResult[];
  wallMs: number;
}

const PID_MARK = "@@podkit-pgid ";

/**
 * The remote wrapper: loads the cluster env (so it works without PAM too), runs the command in its
 * own session (setsid) so the whole process group can be stopped, and reports that group's id.
 */
export function wrapCommand(command: string): string {
  return [
    `if [ ! -r ${NODE_PATHS.clusterEnv} ]; then echo "podkit: ${NODE_PATHS.clusterEnv} is missing on $(hostname); run podkit cluster up first" >&2; exit 97; fi`,
    `set -a; . ${NODE_PATHS.clusterEnv}; set +a`,
    "cd ~",
    `setsid /bin/bash -c ${shellQuote(command)} </dev/null &`,
    "pid=$!",
    `echo "${PID_MARK}$pid" >&2`,
    "wait $pid",
  ].join("\n");
}

function lineSplitter(emit: (line: string) => void) {
  let buf = "";
  return {
    push(chunk: Buffer) {
      buf += chunk.toString("utf8");
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        emit(buf.slice(0, nl).replace(/\r$/, ""));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    },
    flush() {
      if (buf) emit(buf);
      buf = "";
    },
  };
}

/**
 * Run a command on every node at once (`commandFor` may differ per node, e.g. torchrun's node rank),
 * stream output with a `[node-i]` prefix, and stop every node as soon as one fails or time runs out.
 */
// Long: one fan-out whose streams, timers and first-failure stop share the same state.
export async function runOnAll(
  conns: readonly NodeConnection[],
  plan: ClusterPlan,
  commandFor: (node: PlannedNode) => string,
  opts: RunOptions,
): Promise<RunReport> {
  // One function on purpose: the per-node runs, the deadline, the abort and stop-all share the same
  // state (process groups, finished, stopped), which must be read and written in one place.
  const started = Date.now();
  const pgids = new Map<number, number>();
  const finished = new Set<number>();
  const stopped = new Set<number>();
  let timedOut = false;
  let stopping: Promise<void> | undefined;

  const stopAll = (except?: number): Promise<void> => {
    stopping ??= stopNodes(except);
    return stopping;
  };
  const stopNodes = async (except?: number) => {
    const grace = Math.max(1, Math.round((opts.killGraceMs ?? 3000) / 1000));
    await Promise.all(
      plan.nodes.map(async (n) => {
        if (n.rank === except || finished.has(n.rank)) return;
        stopped.add(n.rank);
        const pgid = pgids.get(n.rank);
        const session = conns[n.index]!.session!;
        if (pgid === undefined || session.lost) return;
        await session
          .exec(
            `kill -TERM -- -${pgid} 2>/dev/null; for i in $(seq ${grace * 10}); do kill -0 -- -${pgid} 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL -- -${pgid} 2>/dev/null; true`,
            { timeoutMs: (grace + 5) * 1000 },
          )
          .catch(() => {});
      }),
    );
  };

  const deadline = setTimeout(() => {
    timedOut = true;
    opts.onLine(
      `[podkit] deadline of ${Math.round(opts.timeoutMs / 1000)} s passed: stopping every node`,
      "stderr",
    );
    void stopAll();
  }, opts.timeoutMs);
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    opts.onLine("[podkit] interrupted: stopping every node", "stderr");
    void stopAll();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  let firstFailure: NodeRunResult | undefined;
  const results = await Promise.all(
    plan.nodes.map(async (n): Promise<NodeRunResult> => {
      const prefix = `[${n.alias}] `;
      const out = lineSplitter((l) => opts.onLine(prefix + l, "stdout"));
      const err = lineSplitter((l) => {
        if (l.startsWith(PID_MARK)) pgids.set(n.rank, Number(l.slice(PID_MARK.length)));
        else opts.onLine(prefix + l, "stderr");
      });
      const session = conns[n.index]!.session!;
      const running = await session.start(wrapCommand(commandFor(n)), {
        onStdout: (c) => out.push(c),
        onStderr: (c) => err.push(c),
      });
      running.channel.end();
      const r = await running.result;
      out.flush();
      err.flush();
      finished.add(n.rank);
      const result: NodeRunResult = {
        node: n.alias,
        rank: n.rank,
        code: r.code,
        stopped: stopped.has(n.rank),
      };
      if (r.lost) result.lost = `lost the SSH connection to ${n.alias} (${n.sshHost}) mid-command: ${r.lost}`;
      if (r.code !== 0 && !result.stopped && !timedOut && !interrupted) {
        if (!firstFailure) {
          firstFailure = result;
          opts.onLine(
            `[podkit] ${result.lost ?? `${n.alias} exited with ${r.code ?? `signal ${r.signal}`}`}: stopping the other nodes`,
            "stderr",
          );
        }
        void stopAll(n.rank);
      }
      return result;
    }),
  );
  clearTimeout(deadline);
  opts.signal?.removeEventListener("abort", onAbort);
  // Wait for the kill commands too, so nothing podkit started outlives this call.
  await stopping;
  const report: RunReport = {
    ok: results.every((r) => r.code === 0) && !timedOut && !interrupted,
    timedOut,
    interrupted,
    nodes: results,
    wallMs: Date.now() - started,
  };
  if (firstFailure) report.firstFailure = firstFailure;
  return report;
}
