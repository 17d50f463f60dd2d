import type { ClusterPlan } from "../plan/planner.js";
import type { CheckResult } from "../probe/verdicts.js";
import { type NodeConnection, sessionOf } from "../ssh/fan-out.js";
import type { RunningCommand } from "../ssh/session.js";
import { nodeLabel as label } from "./from-facts.js";
import {
  listenerCommand,
  parseListenerOutput,
  parseProbeOutput,
  peersToProbe,
  probeCommand,
} from "./tcp-scripts.js";

/** Throwaway listeners, then every node connects to the primary port and to its peers at once. */
export async function tcpChecks(conns: readonly NodeConnection[], plan: ClusterPlan): Promise<CheckResult[]> {
  const primaryBind = `${plan.primaryAddress}:${plan.primaryPort}`;
  const listeners = await Promise.all(
    plan.nodes.map(async (n) => {
      const binds = [`${n.address}:0`, ...(n.rank === 0 ? [primaryBind] : [])];
      let text = "";
      let onReady: () => void = () => {};
      const ready = new Promise<void>((resolve) => {
        onReady = resolve;
      });
      let running: RunningCommand | undefined;
      try {
        running = await sessionOf(conns, n).start(listenerCommand(binds), {
          onStdout: (c) => {
            text += c.toString("utf8");
            if (/^(READY|NOPYTHON)$/m.test(text)) onReady();
          },
        });
      } catch (err) {
        return { node: n, running, status: parseListenerOutput(""), error: (err as Error).message };
      }
      void running.result.then(() => onReady());
      const timer = setTimeout(onReady, 10_000);
      await ready;
      clearTimeout(timer);
      return { node: n, running, status: parseListenerOutput(text), error: undefined };
    }),
  );
  try {
    const peerPort = new Map(
      plan.nodes.map((n, i) => [n.rank, listeners[i]!.status.listening.get(`${n.address}:0`)]),
    );
    const primaryStatus = listeners[0]!.status;
    const primaryBindError = primaryStatus.bindFailures.get(primaryBind);
    const probes = await Promise.all(
      plan.nodes.map(async (n) => {
        const targets = [];
        if (!primaryBindError)
          targets.push({ label: "primary", host: plan.primaryAddress, port: plan.primaryPort });
        for (const r of peersToProbe(n.rank, plan.numNodes)) {
          const port = peerPort.get(r);
          if (port) targets.push({ label: `node-${r}`, host: plan.nodes[r]!.address, port });
        }
        try {
          const res = await sessionOf(conns, n).exec(probeCommand(targets), { timeoutMs: 15_000 });
          const error = res.lost ? `lost the SSH connection: ${res.lost}` : undefined;
          return { noPython: res.stdout.includes("NOPYTHON"), results: parseProbeOutput(res.stdout), error };
        } catch (err) {
          return { noPython: false, results: new Map<string, string>(), error: (err as Error).message };
        }
      }),
    );
    return plan.nodes.flatMap((n, i): CheckResult[] => {
      const listener = listeners[i]!.status;
      const probe = probes[i]!;
      const broken = listeners[i]!.error ?? probe.error;
      if (broken) {
        return [
          { check: "tcp-primary", node: label(n), ok: false, evidence: broken },
          { check: "peers", node: label(n), ok: false, evidence: broken },
        ];
      }
      if (listener.noPython || probe.noPython) {
        const evidence = "python3 is not installed on this node; podkit needs it for the TCP checks";
        return [
          { check: "tcp-primary", node: label(n), ok: false, evidence },
          { check: "peers", node: label(n), ok: false, evidence },
        ];
      }
      const primary = probe.results.get("primary");
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
      const peerLabels = peersToProbe(n.rank, plan.numNodes).map((r) => `node-${r}`);
      const failed = peerLabels.filter((l) => !probe.results.get(l)?.startsWith("OK"));
      const peers: CheckResult = {
        check: "peers",
        node: label(n),
        ok: failed.length === 0,
        evidence:
          failed.length === 0
            ? `reached ${peerLabels.length === 0 ? "no peers (single node)" : peerLabels.join(", ")} on the cluster network`
            : failed
                .map((l) => `${l}: ${probe.results.get(l)?.replace(/^FAIL /, "") ?? "no listener"}`)
                .join("; "),
      };
      return [tcp, peers];
    });
  } finally {
    for (const l of listeners) l.running?.channel.end();
    await Promise.all(listeners.map((l) => l.running?.result));
  }
}
