import { createHash, randomBytes } from "node:crypto";
import { mungeChecks } from "../check/on-nodes.js";
import type { ClusterContext } from "../plan/open-cluster.js";
import type { ClusterPlan } from "../plan/planner.js";
import type { CheckResult } from "../probe/verdicts.js";
import { onEachNode } from "../ssh/fan-out.js";
import { shellQuote } from "../ssh/shell-quote.js";
import { renderGresConf, renderSlurmConf } from "./slurm-conf.js";

/** Where podkit keeps its Slurm state on a node: backups of what it replaced, and what it started. */
export const SLURM_STATE_DIR = "/etc/podkit/cluster/slurm";

const COMMON = `
set -e
export PATH=$PATH:/usr/sbin:/sbin
S=${SLURM_STATE_DIR}
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() { if running "$1"; then p=$(cat "$1"); kill "$p"; for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; fi; }
`;

/**
 * Per-node bring-up: back up what it replaces (once), write key and configs, and (re)start munged,
 * slurmctld (primary) and slurmd only when something changed or they are not running.
 */
export function slurmNodeScript(opts: {
  nodeName: string;
  isPrimary: boolean;
  /** Whether a new munge key (base64) comes on stdin: never on the command line, where `ps` would show it. */
  newMungeKey: boolean;
  slurmConf: string;
  gresConf: string;
}): string {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  return `${COMMON}
mkdir -p $S/backup /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
chown slurm:slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
backup() { if [ ! -e "$S/backup/$2" ] && [ ! -e "$S/backup/$2.absent" ]; then if [ -e "$1" ]; then cp -a "$1" "$S/backup/$2"; else : > "$S/backup/$2.absent"; fi; fi; }
backup /etc/slurm/slurm.conf slurm.conf
backup /etc/slurm/gres.conf gres.conf
backup /etc/munge/munge.key munge.key
KEY_CHANGED=0; CONF_CHANGED=0
KEY=${opts.newMungeKey ? "$(cat)" : '""'}
if [ -n "$KEY" ]; then
  umask 077; printf %s "$KEY" | base64 -d > /etc/munge/munge.key.podkit-tmp
  chown munge:munge /etc/munge/munge.key.podkit-tmp; chmod 0400 /etc/munge/munge.key.podkit-tmp
  mv -f /etc/munge/munge.key.podkit-tmp /etc/munge/munge.key; umask 022; KEY_CHANGED=1
fi
put() { printf %s "$2" | base64 -d > "$1.podkit-tmp"; if cmp -s "$1.podkit-tmp" "$1"; then rm -f "$1.podkit-tmp"; else mv -f "$1.podkit-tmp" "$1"; CONF_CHANGED=1; fi; }
put /etc/slurm/slurm.conf ${b64(opts.slurmConf)}
${opts.gresConf ? `put /etc/slurm/gres.conf ${b64(opts.gresConf)}` : "if [ -e /etc/slurm/gres.conf ]; then rm -f /etc/slurm/gres.conf; CONF_CHANGED=1; fi"}
mkdir -p /run/munge; chown munge:munge /run/munge; chmod 0755 /run/munge
if [ $KEY_CHANGED = 1 ]; then stop /run/munge/munged.pid; fi
if ! running /run/munge/munged.pid; then runuser -u munge -- /usr/sbin/munged; echo munged >> $S/started; echo "started munged"; fi
${
  opts.isPrimary
    ? `if [ $KEY_CHANGED = 1 ] || [ $CONF_CHANGED = 1 ]; then stop /run/slurmctld.pid; fi
if ! running /run/slurmctld.pid; then slurmctld; echo slurmctld >> $S/started; echo "started slurmctld"; fi`
    : ""
}
if [ $KEY_CHANGED = 1 ] || [ $CONF_CHANGED = 1 ]; then stop /run/slurmd.pid; fi
if ! running /run/slurmd.pid; then slurmd -N ${shellQuote(opts.nodeName)}; echo slurmd >> $S/started; echo "started slurmd"; fi
`;
}

/** Stop what podkit started and put back the files it replaced (part of `down`). */
export const SLURM_TEARDOWN_SCRIPT = `${COMMON}
[ -d $S ] || exit 0
if [ -f $S/started ]; then
  for d in slurmd:/run/slurmd.pid slurmctld:/run/slurmctld.pid munged:/run/munge/munged.pid; do
    if grep -qx "\${d%%:*}" $S/started && running "\${d#*:}"; then stop "\${d#*:}"; echo "stopped \${d%%:*}"; fi
  done
fi
# Each line printed is one thing undone: down lists them.
restore() {
  if [ -e "$S/backup/$2" ]; then cp -a "$S/backup/$2" "$1"; echo "restored $1";
  elif [ -e "$S/backup/$2.absent" ] && [ -e "$1" ]; then rm -f "$1"; echo "removed $1"; fi
}
restore /etc/slurm/slurm.conf slurm.conf
restore /etc/slurm/gres.conf gres.conf
restore /etc/munge/munge.key munge.key
rm -rf $S
`;

export interface SlurmReport {
  ok: boolean;
  checks: CheckResult[];
  /** Per node: what was started (nothing on an idempotent re-run). */
  started: Array<{ node: string; actions: string[] }>;
  sinfo: string;
  srunHostnames: string[];
}

const KEY_STATE = `${SLURM_STATE_DIR}/munge-key.sha256`;

/** `podkit cluster slurm`: one munge key, N-node slurm.conf/gres.conf, daemons, idle wait, srun check. */
// Long: the Slurm bring-up steps in the order they must run, each short.
export async function clusterSlurm(
  ctx: ClusterContext,
  plan: ClusterPlan,
  opts: { waitIdleMs?: number } = {},
): Promise<SlurmReport> {
  // Long on purpose: the steps run in order and stop at the first failed check (munge present, key,
  // config and daemons on every node, idle wait, srun), each recorded in `checks`.
  const checks: CheckResult[] = [];
  const primaryLabel = `${plan.nodes[0]!.alias} (${plan.nodes[0]!.sshHost})`;
  const fail = (check: CheckResult["check"], node: string, evidence: string): SlurmReport => {
    checks.push({ check, node, ok: false, evidence });
    return { ok: false, checks, started: [], sinfo: "", srunHostnames: [] };
  };
  const facts = plan.nodes.map((n) => {
    const f = ctx.timed[n.index]!.facts;
    return { cpus: f.cpus, memoryMiB: f.memoryMiB, gpus: f.gpuCount, hasMunge: f.hasMunge };
  });
  const missing = plan.nodes.filter((_, i) => !facts[i]!.hasMunge);
  if (missing.length > 0) {
    return fail(
      "munge",
      missing.map((n) => n.alias).join(", "),
      "munge is not installed (apt-get install slurm-wlm munge)",
    );
  }
  const slurmOpts = {
    clusterName: ctx.spec.slurm?.clusterName ?? ctx.spec.name,
    partition: ctx.spec.slurm?.partition ?? "gpu",
  };
  const slurmConf = renderSlurmConf(plan, facts, slurmOpts);
  const gresConf = renderGresConf(plan, facts);

  // Keep the key podkit wrote last time if every node still has it (idempotent: no munged restart).
  const keyState = await onEachNode(ctx.conns, (s) =>
    s.exec(`cat ${KEY_STATE} 2>/dev/null; echo; sha256sum /etc/munge/munge.key 2>/dev/null | cut -d' ' -f1`),
  );
  const sums = keyState.map((k) => (k.ok ? k.value.stdout.split("\n").filter((l) => l.trim() !== "") : []));
  const keep = sums.every((s) => s.length === 2 && s[0] === s[1] && s[0] === sums[0]![0]);
  const key = keep ? null : randomBytes(1024);
  const keyB64 = key ? key.toString("base64") : null;
  const keySha = key ? createHash("sha256").update(key).digest("hex") : null;

  const results = await onEachNode(ctx.conns, async (session, conn) => {
    const node = plan.nodes.find((n) => n.index === conn.index)!;
    const script = slurmNodeScript({
      nodeName: node.hostname,
      isPrimary: node.rank === 0,
      newMungeKey: keyB64 !== null,
      slurmConf,
      gresConf,
    });
    const r = await session.exec(`${script}\n${keySha ? `echo ${keySha} > ${KEY_STATE}` : ""}`, {
      timeoutMs: 60_000,
      ...(keyB64 ? { stdin: keyB64 } : {}),
    });
    if (r.code !== 0)
      throw new Error(
        `slurm setup failed on ${node.alias}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`,
      );
    return { node: node.alias, actions: r.stdout.split("\n").filter((l) => l.startsWith("started ")) };
  });
  const started: SlurmReport["started"] = [];
  for (const [i, r] of results.entries()) {
    if (!r.ok) return fail("slurm", `node-${ctx.ranks[i]}`, r.error);
    started.push(r.value);
  }
  checks.push(...(await mungeChecks(ctx.conns, plan)));
  if (checks.some((c) => !c.ok)) return { ok: false, checks, started, sinfo: "", srunHostnames: [] };

  const primary = ctx.conns[plan.nodes[0]!.index]!.session!;
  const deadline = Date.now() + (opts.waitIdleMs ?? 60_000);
  let sinfo = "";
  for (;;) {
    const r = await primary.exec("sinfo -h -N -o '%N %t'", { timeoutMs: 10_000 });
    sinfo = r.stdout.trim();
    const states = new Map(sinfo.split("\n").map((l) => l.split(/\s+/) as [string, string]));
    if (plan.nodes.every((n) => states.get(n.hostname) === "idle")) break;
    if (Date.now() > deadline) {
      return fail(
        "slurm",
        primaryLabel,
        `not every node became idle within ${Math.round((opts.waitIdleMs ?? 60_000) / 1000)} s: sinfo says ${sinfo.replace(/\n/g, ", ") || r.stderr.trim()} (see /var/log/slurm/slurmd.log on the nodes)`,
      );
    }
    await new Promise((r2) => setTimeout(r2, 500));
  }
  const srun = await primary.exec(`timeout 60 srun -N ${plan.numNodes} hostname`, { timeoutMs: 70_000 });
  const srunHostnames = srun.stdout.trim().split("\n").filter(Boolean).sort();
  const distinct = new Set(srunHostnames);
  const srunOk = srun.code === 0 && plan.nodes.every((n) => distinct.has(n.hostname));
  checks.push({
    check: "slurm",
    node: primaryLabel,
    ok: srunOk,
    evidence: srunOk
      ? `srun -N ${plan.numNodes} hostname ran on ${[...distinct].join(", ")}`
      : `srun -N ${plan.numNodes} hostname failed (exit ${srun.code}): ${srun.stderr.trim() || srun.stdout.trim()}`,
  });
  return { ok: checks.every((c) => c.ok), checks, started, sinfo, srunHostnames };
}
