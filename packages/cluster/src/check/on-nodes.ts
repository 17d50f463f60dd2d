import { ALL_ENV_KEYS, type ClusterPlan, hashEnv, type PlannedNode } from "../plan/planner.js";
import { parseEnvLines } from "../probe/env-lines.js";
import type { CheckResult, TimedFacts } from "../probe/verdicts.js";
import type { NodeConnection } from "../ssh/fan-out.js";
import { clockChecks, gpuChecks, nodeLabel, versionChecks } from "./from-facts.js";
import {
  listenerCommand,
  parseListenerOutput,
  parseProbeOutput,
  peersToProbe,
  probeCommand,
} from "./tcp-scripts.js";

const label = nodeLabel;
const sessionOf = (conns: readonly NodeConnection[], n: PlannedNode) => conns[n.index]!.session!;

/** Checks that need nothing written yet: a failure here stops `up` before it touches any node. */
export async function infraChecks(
  conns: readonly NodeConnection[],
  timed: ReadonlyArray<TimedFacts | undefined>,
  plan: ClusterPlan,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const n of plan.nodes) {
    const f = timed[n.index]!.facts;
    const iface = f.interfaces.find((i) => i.name === n.interface)!;
    results.push({
      check: "interface",
      node: label(n),
      ok: true,
      evidence: `${n.interface} is up with ${iface.ipv4.map((a) => `${a.address}/${a.prefix}`).join(", ")}`,
    });
  }
  const [routes, tcp] = await Promise.all([routeChecks(conns, plan), tcpChecks(conns, plan)]);
  results.push(
    ...routes,
    ...tcp,
    ...clockChecks(timed, plan),
    ...gpuChecks(timed, plan),
    ...versionChecks(timed, plan),
  );
  return results;
}

async function routeChecks(conns: readonly NodeConnection[], plan: ClusterPlan): Promise<CheckResult[]> {
  return Promise.all(
    plan.nodes.map(async (n): Promise<CheckResult> => {
      const r = await sessionOf(conns, n).exec(
        `PATH=$PATH:/usr/sbin:/sbin ip -o route get ${plan.primaryAddress}`,
        {
          timeoutMs: 5000,
        },
      );
      const dev = /\bdev (\S+)/.exec(r.stdout)?.[1];
      const ok = dev === n.interface || (n.rank === 0 && dev === "lo");
      return {
        check: "route",
        node: label(n),
        ok,
        evidence: ok
          ? `route to the primary ${plan.primaryAddress} leaves via ${dev}`
          : `route to the primary ${plan.primaryAddress} leaves via ${dev ?? `nothing (${r.stderr.trim() || r.stdout.trim()})`}, not ${n.interface}; fix the routes or netmasks so cluster traffic stays on ${n.interface}`,
      };
    }),
  );
}

/** Throwaway listeners, then every node connects to the primary port and to its peers at once. */
async function tcpChecks(conns: readonly NodeConnection[], plan: ClusterPlan): Promise<CheckResult[]> {
  const primaryBind = `${plan.primaryAddress}:${plan.primaryPort}`;
  const listeners = await Promise.all(
    plan.nodes.map(async (n) => {
      const binds = [`${n.address}:0`, ...(n.rank === 0 ? [primaryBind] : [])];
      let text = "";
      let onReady: () => void = () => {};
      const ready = new Promise<void>((resolve) => {
        onReady = resolve;
      });
      const running = await sessionOf(conns, n).start(listenerCommand(binds), {
        onStdout: (c) => {
          text += c.toString("utf8");
          if (/^(READY|NOPYTHON)$/m.test(text)) onReady();
        },
      });
      void running.result.then(() => onReady());
      const timer = setTimeout(onReady, 10_000);
      await ready;
      clearTimeout(timer);
      return { node: n, running, status: parseListenerOutput(text) };
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
        const res = await sessionOf(conns, n).exec(probeCommand(targets), { timeoutMs: 15_000 });
        return { noPython: res.stdout.includes("NOPYTHON"), results: parseProbeOutput(res.stdout) };
      }),
    );
    return plan.nodes.flatMap((n, i): CheckResult[] => {
      const listener = listeners[i]!.status;
      const probe = probes[i]!;
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
    for (const l of listeners) l.running.channel.end();
    await Promise.all(listeners.map((l) => l.running.result));
  }
}

const VERIFY_SCRIPT = (primary: string) =>
  [
    'echo "@@resolve"; getent ahostsv4 "$(hostname)" | awk \'{print $1}\' | uniq',
    'echo "@@env"; env',
    `echo "@@primary ${primary}"`,
  ].join("\n");

/** Checks of what `up` wrote, seen from a fresh SSH session (what a job launched later will see). */
export async function injectedChecks(
  conns: readonly NodeConnection[],
  plan: ClusterPlan,
): Promise<CheckResult[]> {
  const seen = await Promise.all(
    plan.nodes.map(async (n) => {
      const r = await sessionOf(conns, n).exec(VERIFY_SCRIPT(plan.primaryAddress), { timeoutMs: 10_000 });
      const resolve = r.stdout.split("@@env")[0]!.replace("@@resolve", "").trim().split("\n").filter(Boolean);
      const env = parseEnvLines(r.stdout.split("@@env")[1] ?? "");
      return { resolve, env };
    }),
  );
  const results: CheckResult[] = [];
  plan.nodes.forEach((n, i) => {
    const { resolve } = seen[i]!;
    const ok = resolve[0] === n.address;
    results.push({
      check: "hostname",
      node: label(n),
      ok,
      evidence: ok
        ? `${n.hostname} resolves to ${n.address} (${n.interface})`
        : `${n.hostname} resolves to ${resolve.join(", ") || "nothing"}, not ${n.address} on ${n.interface}: gloo and c10d would use the wrong address; run "podkit cluster up" to fix /etc/hosts`,
    });
  });
  plan.nodes.forEach((n, i) => {
    const env = seen[i]!.env;
    const actual: Array<[string, string]> = ALL_ENV_KEYS.map((k) => [k, env.get(k) ?? ""]);
    const wrong = n.env.filter(([k, v]) => env.get(k) !== v);
    const hash = hashEnv(actual);
    let evidence: string;
    if (wrong.length === n.env.length)
      evidence = `no podkit variables in a new SSH session; run "podkit cluster up"`;
    else if (wrong.length > 0) {
      evidence = `env hash ${hash} ≠ planned ${plan.envHash}: ${wrong
        .map(([k, v]) => `${k}=${env.get(k) ?? "(unset)"} (should be ${v})`)
        .join(", ")}; another node or a stale edit disagrees, run "podkit cluster up" again`;
    } else evidence = `all ${n.env.length} variables as planned (env hash ${hash})`;
    results.push({ check: "env", node: label(n), ok: wrong.length === 0, evidence });
  });
  return results;
}

/** `munge -n` on the primary, `unmunge` on every node: proves one key and working munged everywhere. */
export async function mungeChecks(
  conns: readonly NodeConnection[],
  plan: ClusterPlan,
): Promise<CheckResult[]> {
  const primary = plan.nodes[0]!;
  const cred = await sessionOf(conns, primary).exec("munge -n", { timeoutMs: 5000 });
  return Promise.all(
    plan.nodes.map(async (n): Promise<CheckResult> => {
      if (cred.code !== 0) {
        return {
          check: "munge",
          node: label(n),
          ok: false,
          evidence: `munge -n failed on the primary: ${cred.stderr.trim() || `exit ${cred.code}`} (is munged running? run "podkit cluster slurm")`,
        };
      }
      const r = await sessionOf(conns, n).exec("unmunge", { stdin: cred.stdout, timeoutMs: 5000 });
      const ok = r.code === 0 && /STATUS:\s+Success/.test(r.stdout);
      return {
        check: "munge",
        node: label(n),
        ok,
        evidence: ok
          ? `decoded a credential made on ${primary.alias}`
          : `cannot decode a credential made on ${primary.alias}: ${r.stderr.trim() || r.stdout.trim()} (munge keys differ or munged is down)`,
      };
    }),
  );
}
