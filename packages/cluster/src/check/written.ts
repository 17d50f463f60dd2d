/**
 * Checks of what `up` wrote, read back from a fresh SSH session (what a job launched later will see):
 * the hostname's address, the variables pam_env gives a login, and every file podkit writes
 * (`run` and `torchrun` load /etc/podkit/cluster.env, MPI reads the hostfile).
 */
import { ALL_ENV_KEYS, type ClusterPlan, hashEnv, NODE_PATHS, type PlannedNode } from "../plan/planner.js";
import { parseEnvLines } from "../probe/env-lines.js";
import { FILE_SECTION, fileSections, splitSections } from "../probe/node-facts.js";
import type { CheckResult, TimedFacts } from "../probe/verdicts.js";
import { type NodeConnection, sessionOf } from "../ssh/fan-out.js";
import { nodeLabel as label } from "./from-facts.js";

const VERIFY_SCRIPT = [
  'echo "@@resolve"; getent ahostsv4 "$(hostname)" | awk \'{print $1}\' | uniq',
  'echo "@@env"; env',
  ...[NODE_PATHS.clusterEnv, NODE_PATHS.nodeList, NODE_PATHS.hostfile].map(FILE_SECTION),
  'echo "@@end"',
].join("\n");

export interface WrittenState {
  /** Addresses `getent ahostsv4 $(hostname)` gave, in order. */
  resolve: string[];
  /** The environment of a fresh SSH session. */
  env: Map<string, string>;
  files: Record<string, string | null>;
}

export function parseWrittenState(stdout: string): WrittenState {
  const s = splitSections(stdout);
  return {
    resolve: (s.get("resolve") ?? []).map((l) => l.trim()).filter(Boolean),
    env: parseEnvLines((s.get("env") ?? []).join("\n")),
    files: fileSections(s),
  };
}

const differences = (want: ReadonlyArray<[string, string]>, have: Map<string, string>) =>
  want.filter(([k, v]) => have.get(k) !== v);
const describe = (wrong: ReadonlyArray<[string, string]>, have: Map<string, string>) =>
  wrong.map(([k, v]) => `${k}=${have.get(k) ?? "(unset)"} (should be ${v})`).join(", ");

/** The `env` verdict of one node: the login environment and every file podkit writes, against the plan. */
export function envVerdict(plan: ClusterPlan, n: PlannedNode, seen: WrittenState): CheckResult {
  const problems: string[] = [];
  const wrong = differences(n.env, seen.env);
  const fileText = seen.files[NODE_PATHS.clusterEnv];
  const fileEnv = parseEnvLines(fileText ?? "");
  const fileWrong = differences(n.env, fileEnv);
  const extra = [...fileEnv.keys()].filter((k) => !n.env.some(([key]) => key === k));
  const nothing =
    wrong.length === n.env.length &&
    fileText == null &&
    seen.files[NODE_PATHS.nodeList] == null &&
    seen.files[NODE_PATHS.hostfile] == null;
  if (nothing) {
    return {
      check: "env",
      node: label(n),
      ok: false,
      evidence: `no podkit variables in a new SSH session and none of its files; run "podkit cluster up"`,
    };
  }
  if (wrong.length > 0) {
    const hash = hashEnv(ALL_ENV_KEYS.map((k) => [k, seen.env.get(k) ?? ""]));
    // The hash covers the cluster-wide keys only: name it only when it really differs.
    problems.push(
      hash !== plan.envHash
        ? `env hash ${hash} ≠ planned ${plan.envHash}: ${describe(wrong, seen.env)}; another node or a stale edit disagrees, run "podkit cluster up" again`
        : `a new SSH session (/etc/environment) has ${describe(wrong, seen.env)}; run "podkit cluster up" again`,
    );
  }
  if (fileText == null) problems.push(`${NODE_PATHS.clusterEnv} is missing (run and torchrun load it)`);
  else if (fileWrong.length > 0 || extra.length > 0) {
    const added = extra.map((k) => `${k}=${fileEnv.get(k)} (not set by podkit)`);
    problems.push(
      `${NODE_PATHS.clusterEnv} has ${[describe(fileWrong, fileEnv), ...added].filter(Boolean).join(", ")} (run and torchrun load this file)`,
    );
  }
  for (const [path, want] of [
    [NODE_PATHS.nodeList, plan.nodeList],
    [NODE_PATHS.hostfile, plan.hostfile],
  ] as const) {
    const have = seen.files[path];
    if (have == null) problems.push(`${path} is missing`);
    else if (have !== want) {
      const a = have.split("\n");
      const line = want.split("\n").findIndex((l, i) => l !== a[i]);
      problems.push(`${path} line ${line + 1} is "${a[line] ?? ""}", planned "${want.split("\n")[line]}"`);
    }
  }
  return {
    check: "env",
    node: label(n),
    ok: problems.length === 0,
    evidence:
      problems.length === 0
        ? `all ${n.env.length} variables as planned (env hash ${plan.envHash}), in a new SSH session and in ${NODE_PATHS.clusterEnv}; node list and hostfile as planned`
        : problems.join("; "),
  };
}

/** `hostname` and `env` lines of every node, from one script per node on the given connections. */
export async function writtenChecks(
  conns: readonly NodeConnection[],
  plan: ClusterPlan,
): Promise<CheckResult[]> {
  const seen = await Promise.all(
    plan.nodes.map(async (n) => {
      try {
        const r = await sessionOf(conns, n).exec(VERIFY_SCRIPT, { timeoutMs: 10_000 });
        if (r.lost) return `lost the SSH connection: ${r.lost}`;
        return parseWrittenState(r.stdout);
      } catch (err) {
        return (err as Error).message;
      }
    }),
  );
  return writtenVerdicts(plan, seen);
}

/**
 * The same lines from what the probe already read (`check`: its connections were opened just now,
 * so their session env is what a new job gets), saving a round trip per node.
 */
export function writtenChecksFromFacts(
  timed: ReadonlyArray<TimedFacts | undefined>,
  plan: ClusterPlan,
): CheckResult[] {
  return writtenVerdicts(
    plan,
    plan.nodes.map((n) => {
      const f = timed[n.index]!.facts;
      return { resolve: f.hostnameResolvesTo, env: f.sessionEnv, files: f.files };
    }),
  );
}

function writtenVerdicts(plan: ClusterPlan, seen: ReadonlyArray<WrittenState | string>): CheckResult[] {
  const hostname = plan.nodes.map((n, i): CheckResult => {
    const s = seen[i]!;
    if (typeof s === "string") return { check: "hostname", node: label(n), ok: false, evidence: s };
    const ok = s.resolve[0] === n.address;
    return {
      check: "hostname",
      node: label(n),
      ok,
      evidence: ok
        ? `${n.hostname} resolves to ${n.address} (${n.interface})`
        : `${n.hostname} resolves to ${s.resolve.join(", ") || "nothing"}, not ${n.address} on ${n.interface}: gloo and c10d would use the wrong address; run "podkit cluster up" to fix /etc/hosts`,
    };
  });
  const env = plan.nodes.map((n, i) => {
    const s = seen[i]!;
    return typeof s === "string"
      ? { check: "env" as const, node: label(n), ok: false, evidence: s }
      : envVerdict(plan, n, s);
  });
  return [...hostname, ...env];
}
