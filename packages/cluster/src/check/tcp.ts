import type { ClusterPlan, PlannedNode } from "../plan/planner.js";
import type { CheckResult } from "../probe/verdicts.js";
import { type NodeConnection, sessionOf } from "../ssh/fan-out.js";
import type { RunningCommand } from "../ssh/session.js";
import { nodeLabel as label } from "./from-facts.js";
import {
  nodeCheckCommand,
  parseListenerOutput,
  parseProbeOutput,
  parseRouteLine,
  peersToProbe,
  probeTargetsLine,
} from "./tcp-scripts.js";

/** One node's script: started, its output so far, and a way to wait for a line. */
interface NodeRun {
  node: PlannedNode;
  running?: RunningCommand;
  text: string;
  error?: string;
  waitFor(line: RegExp, ms: number): Promise<void>;
}

async function startNode(
  conns: readonly NodeConnection[],
  n: PlannedNode,
  command: string,
): Promise<NodeRun> {
  const waiters: Array<{ line: RegExp; done: () => void }> = [];
  const run: NodeRun = {
    node: n,
    text: "",
    waitFor: (line, ms) =>
      new Promise<void>((resolve) => {
        if (line.test(run.text) || !run.running) return resolve();
        const timer = setTimeout(resolve, ms);
        waiters.push({
          line,
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
  };
  const wake = (all: boolean) => {
    for (const w of waiters.splice(0)) {
      if (all || w.line.test(run.text)) w.done();
      else waiters.push(w);
    }
  };
  try {
    run.running = await sessionOf(conns, n).start(command, {
      onStdout: (c) => {
        run.text += c.toString("utf8");
        wake(false);
      },
    });
    void run.running.result.then((r) => {
      if (r.lost) run.error = `lost the SSH connection: ${r.lost}`;
      wake(true);
    });
  } catch (err) {
    run.error = (err as Error).message;
  }
  return run;
}

/**
 * The `route`, `tcp-primary` and `peers` lines of every node, from one session per node: its route
 * to the primary, then a listener on its cluster address (and the primary port on the primary), then
 * connects from every node to the primary port and its peers, all at once.
 */
export async function networkChecks(
  conns: readonly NodeConnection[],
  plan: ClusterPlan,
): Promise<{ routes: CheckResult[]; tcp: CheckResult[] }> {
  const primaryBind = `${plan.primaryAddress}:${plan.primaryPort}`;
  const runs = await Promise.all(
    plan.nodes.map((n) =>
      startNode(
        conns,
        n,
        nodeCheckCommand(plan.primaryAddress, [`${n.address}:0`, ...(n.rank === 0 ? [primaryBind] : [])]),
      ),
    ),
  );
  try {
    await Promise.all(runs.map((r) => r.waitFor(/^(READY|NOPYTHON)$/m, 10_000)));
    const status = runs.map((r) => parseListenerOutput(r.text));
    const peerPort = new Map(plan.nodes.map((n, i) => [n.rank, status[i]!.listening.get(`${n.address}:0`)]));
    const primaryBindError = status[0]!.bindFailures.get(primaryBind);
    for (const r of runs) {
      const targets = [];
      if (!primaryBindError)
        targets.push({ label: "primary", host: plan.primaryAddress, port: plan.primaryPort });
      for (const rank of peersToProbe(r.node.rank, plan.numNodes)) {
        const port = peerPort.get(rank);
        if (port) targets.push({ label: `node-${rank}`, host: plan.nodes[rank]!.address, port });
      }
      if (r.running?.channel.writable) r.running.channel.write(probeTargetsLine(targets));
    }
    await Promise.all(runs.map((r) => r.waitFor(/^DONE$/m, 15_000)));
    return {
      routes: runs.map((r) => routeVerdict(plan, r)),
      tcp: runs.flatMap((r, i) => tcpVerdicts(plan, r, status[i]!, primaryBind, primaryBindError)),
    };
  } finally {
    for (const r of runs) r.running?.channel.end();
    await Promise.all(runs.map((r) => r.running?.result));
  }
}

function routeVerdict(plan: ClusterPlan, r: NodeRun): CheckResult {
  const n = r.node;
  const route = parseRouteLine(r.text);
  if (!route.raw && r.error) return { check: "route", node: label(n), ok: false, evidence: r.error };
  const dev = route.dev;
  const ok = dev === n.interface || (n.rank === 0 && dev === "lo");
  return {
    check: "route",
    node: label(n),
    ok,
    evidence: ok
      ? `route to the primary ${plan.primaryAddress} leaves via ${dev}`
      : `route to the primary ${plan.primaryAddress} leaves via ${dev ?? `nothing (${route.raw})`}, not ${n.interface}; fix the routes or netmasks so cluster traffic stays on ${n.interface}`,
  };
}

function tcpVerdicts(
  plan: ClusterPlan,
  r: NodeRun,
  listener: ReturnType<typeof parseListenerOutput>,
  primaryBind: string,
  primaryBindError: string | undefined,
): CheckResult[] {
  const n = r.node;
  const both = (evidence: string): CheckResult[] => [
    { check: "tcp-primary", node: label(n), ok: false, evidence },
    { check: "peers", node: label(n), ok: false, evidence },
  ];
  if (listener.noPython)
    return both("python3 is not installed on this node; podkit needs it for the TCP checks");
  const done = /^DONE$/m.test(r.text);
  if (r.error && !done) return both(r.error);
  const results = parseProbeOutput(r.text);
  const primary = results.get("primary");
  const tcp: CheckResult = primaryBindError
    ? {
        check: "tcp-primary",
        node: label(n),
        ok: false,
        evidence: `cannot listen on ${primaryBind} on the primary: ${primaryBindError} (a leftover job still holds the port? stop it or change primaryPort)`,
      }
    : {
        check: "tcp-primary",
        node: label(n),
        ok: primary?.startsWith("OK") ?? false,
        evidence: primary?.startsWith("OK")
          ? `connected to ${primaryBind} (${primary.slice(3)})`
          : `cannot connect to ${primaryBind}: ${primary?.replace(/^FAIL /, "") ?? "no answer from the probe"}; torchrun would hang in rendezvous`,
      };
  const peerLabels = peersToProbe(n.rank, plan.numNodes).map((x) => `node-${x}`);
  const failed = peerLabels.filter((l) => !results.get(l)?.startsWith("OK"));
  const peers: CheckResult = {
    check: "peers",
    node: label(n),
    ok: failed.length === 0,
    evidence:
      failed.length === 0
        ? `reached ${peerLabels.length === 0 ? "no peers (single node)" : peerLabels.join(", ")} on the cluster network`
        : failed.map((l) => `${l}: ${results.get(l)?.replace(/^FAIL /, "") ?? "no listener"}`).join("; "),
  };
  return [tcp, peers];
}
