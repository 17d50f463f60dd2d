import type { ClusterPlan } from "../plan/planner.js";

export interface SlurmNodeFacts {
  cpus: number;
  memoryMiB: number;
  gpus: number;
}

export interface SlurmConfOptions {
  clusterName: string;
  partition: string;
}

/** RealMemory a little under MemTotal: slurmd drains a node that reports less than configured. */
export const realMemoryMiB = (memTotalMiB: number) => Math.max(1, Math.floor(memTotalMiB * 0.95));

/**
 * slurm.conf for N nodes: every node with its NodeAddr (the cluster IP) and the controller as
 * `name(addr)`, so nothing depends on hostname resolution; real CPU, memory and GPU counts.
 */
export function renderSlurmConf(
  plan: ClusterPlan,
  facts: ReadonlyArray<SlurmNodeFacts>,
  opts: SlurmConfOptions,
): string {
  const anyGpu = facts.some((f) => f.gpus > 0);
  const primary = plan.nodes[0]!;
  const lines = [
    `# Written by "podkit cluster slurm" for cluster ${plan.name}; identical on every node.`,
    `ClusterName=${opts.clusterName}`,
    `SlurmctldHost=${primary.hostname}(${primary.address})`,
    "SlurmUser=slurm",
    "AuthType=auth/munge",
    "SlurmctldPort=6817",
    "SlurmdPort=6818",
    "StateSaveLocation=/var/lib/slurm/slurmctld",
    "SlurmdSpoolDir=/var/lib/slurm/slurmd",
    "SlurmctldPidFile=/run/slurmctld.pid",
    "SlurmdPidFile=/run/slurmd.pid",
    "SlurmctldLogFile=/var/log/slurm/slurmctld.log",
    "SlurmdLogFile=/var/log/slurm/slurmd.log",
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "MpiDefault=none",
    "ReturnToService=2",
    "SchedulerType=sched/backfill",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "AccountingStorageType=accounting_storage/none",
    "JobAcctGatherType=jobacct_gather/none",
    "JobCompType=jobcomp/none",
    "InactiveLimit=0",
    "KillWait=30",
    "MinJobAge=300",
    "SlurmctldTimeout=120",
    "SlurmdTimeout=300",
    "Waittime=0",
  ];
  if (anyGpu) lines.push("GresTypes=gpu");
  plan.nodes.forEach((n, i) => {
    const f = facts[i]!;
    lines.push(
      `NodeName=${n.hostname} NodeAddr=${n.address} NodeHostname=${n.hostname} CPUs=${f.cpus} ` +
        `RealMemory=${realMemoryMiB(f.memoryMiB)}${f.gpus > 0 ? ` Gres=gpu:${f.gpus}` : ""} State=UNKNOWN`,
    );
  });
  lines.push(`PartitionName=${opts.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP`);
  return `${lines.join("\n")}\n`;
}

/** gres.conf: device files, not bare counts (a count-only line gets the node drained: "0 < 8"). */
export function renderGresConf(plan: ClusterPlan, facts: ReadonlyArray<SlurmNodeFacts>): string {
  const lines = plan.nodes.flatMap((n, i) => {
    const g = facts[i]!.gpus;
    if (g <= 0) return [];
    const files = g === 1 ? "/dev/nvidia0" : `/dev/nvidia[0-${g - 1}]`;
    return [`NodeName=${n.hostname} Name=gpu File=${files}`];
  });
  return lines.length === 0 ? "" : `# Written by "podkit cluster slurm".\n${lines.join("\n")}\n`;
}
