import type { ClusterPlan } from "../plan/planner.js";
import { type CheckResult, guarded, type TimedFacts } from "../probe/verdicts.js";
import { type NodeConnection, sessionOf } from "../ssh/fan-out.js";
import { clockChecks, gpuChecks, nodeLabel, versionChecks } from "./from-facts.js";
import { rdmaChecks } from "./rdma.js";
import { networkChecks } from "./tcp.js";

const label = nodeLabel;

/**
 * Checks that need nothing written yet: a failure here stops `up` before it touches any node. Each
 * group goes to `emit` as soon as it is known; the result keeps one stable order.
 */
export async function infraChecks(
  conns: readonly NodeConnection[],
  timed: ReadonlyArray<TimedFacts | undefined>,
  plan: ClusterPlan,
  emit: (results: readonly CheckResult[]) => void = () => {},
): Promise<CheckResult[]> {
  const interfaces = plan.nodes.map((n): CheckResult => {
    const f = timed[n.index]!.facts;
    const iface = f.interfaces.find((i) => i.name === n.interface)!;
    return {
      check: "interface",
      node: label(n),
      ok: true,
      evidence: `${n.interface} is up with ${iface.ipv4.map((a) => `${a.address}/${a.prefix}`).join(", ")}`,
    };
  });
  const fromFacts = [
    ...clockChecks(timed, plan),
    ...gpuChecks(timed, plan),
    ...versionChecks(timed, plan),
    ...rdmaChecks(timed, plan),
  ];
  emit([...interfaces, ...fromFacts]);
  const { routes, tcp } = await networkChecks(conns, plan);
  emit([...routes, ...tcp]);
  return [...interfaces, ...routes, ...tcp, ...fromFacts];
}

/** `munge -n` on the primary, `unmunge` on every node: proves one key and working munged everywhere. */
export async function mungeChecks(
  conns: readonly NodeConnection[],
  plan: ClusterPlan,
): Promise<CheckResult[]> {
  const primary = plan.nodes[0]!;
  const cred = await sessionOf(conns, primary)
    .exec("munge -n", { timeoutMs: 5000 })
    .catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
  return Promise.all(
    plan.nodes.map((n) =>
      guarded("munge", label(n), async (): Promise<CheckResult> => {
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
    ),
  );
}
