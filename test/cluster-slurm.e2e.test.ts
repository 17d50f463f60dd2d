import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRows, failures, podkit, writeClusterFile } from "./cluster/cli.js";
import { type NetnsCluster, startNetnsCluster } from "./cluster/netns.js";

const SNAPSHOT = "sha256sum /etc/munge/munge.key; ls /etc/slurm; pgrep -l 'munged|slurm' || true";

describe("podkit cluster slurm on 3 namespace nodes (real munge, slurmctld, slurmd)", () => {
  let c: NetnsCluster;
  let file: string;
  let before: string[];

  beforeAll(async () => {
    c = await startNetnsCluster({ nodes: 3, fakeGpus: 2 });
    file = writeClusterFile(c, { extra: "slurm: { partition: gpupart }" });
    // every node starts with its own random munge key, as after a fresh `apt install munge`
    before = c.nodes.map((n) => c.exec(n.index, SNAPSHOT).stdout);
    expect(new Set(before.map((b) => b.split(" ")[0])).size).toBe(3);
    expect((await podkit(["cluster", "up", "-f", file])).code).toBe(0);
  });
  afterAll(() => c?.down());

  it("distributes one munge key, starts the daemons and waits until every node is idle", async () => {
    const r = await podkit(["cluster", "slurm", "-f", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = checkRows(r.stdout);
    expect(rows.map((x) => `${x.result} ${x.check} ${x.node}`)).toEqual([
      "PASS munge node-0",
      "PASS munge node-1",
      "PASS munge node-2",
      "PASS slurm node-0",
    ]);
    expect(rows[3]!.evidence).toBe("srun -N 3 hostname ran on node-0, node-1, node-2");
    expect(r.stdout).toContain("node-0: started munged, started slurmctld, started slurmd");
    expect(
      new Set(c.nodes.map((n) => c.exec(n.index, "sha256sum /etc/munge/munge.key").stdout.split(" ")[0]))
        .size,
    ).toBe(1);
    const conf = c.exec(2, "cat /etc/slurm/slurm.conf").stdout;
    expect(conf).toContain("SlurmctldHost=node-0(10.65.0.2)");
    expect(conf).toMatch(
      /NodeName=node-2 NodeAddr=10\.65\.0\.4 NodeHostname=node-2 CPUs=\d+ RealMemory=\d+ Gres=gpu:2 State=UNKNOWN/,
    );
    expect(c.exec(2, "cat /etc/slurm/gres.conf").stdout).toContain(
      "NodeName=node-2 Name=gpu File=/dev/nvidia[0-1]",
    );
  });

  it("runs srun across all nodes with GPUs from gres, and an sbatch job", async () => {
    const srun = c.exec(
      0,
      "timeout 60 srun -N 3 --gres=gpu:2 bash -c 'echo $(hostname) nodeid=$SLURM_NODEID gpus=$CUDA_VISIBLE_DEVICES'",
    );
    expect(srun.code, srun.stderr).toBe(0);
    expect(srun.stdout.trim().split("\n").sort()).toEqual([
      "node-0 nodeid=0 gpus=0,1",
      "node-1 nodeid=1 gpus=0,1",
      "node-2 nodeid=2 gpus=0,1",
    ]);
    const job = [
      "#!/bin/bash",
      "#SBATCH --partition=gpupart --nodes=3 --ntasks-per-node=2 --time=00:02:00 --output=/root/job_%j.out",
      "srun bash -c 'echo $(hostname) procid=$SLURM_PROCID ntasks=$SLURM_NTASKS'",
    ].join("\n");
    const submit = c.exec(0, `cat > /root/job.sh <<'EOF'\n${job}\nEOF\nsbatch --parsable /root/job.sh`);
    expect(submit.code, submit.stderr).toBe(0);
    const id = submit.stdout.trim();
    const wait = c.exec(
      0,
      `for i in $(seq 120); do [ -z "$(squeue -h -j ${id})" ] && break; sleep 0.5; done; cat /root/job_${id}.out`,
    );
    const lines = wait.stdout.trim().split("\n").sort();
    expect(lines).toHaveLength(6);
    expect(lines.map((l) => l.split(" ")[1])).toEqual([
      "procid=0",
      "procid=1",
      "procid=2",
      "procid=3",
      "procid=4",
      "procid=5",
    ]);
    expect(new Set(lines.map((l) => l.split(" ")[0]))).toEqual(new Set(["node-0", "node-1", "node-2"]));
  });

  it("is idempotent: a second run starts nothing", async () => {
    const r = await podkit(["cluster", "slurm", "-f", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/node-0: already running\nnode-1: already running\nnode-2: already running/);
  });

  it("trap: a node with a different munge key is caught by the cross-node munge check, and slurm repairs it", async () => {
    c.exec(
      2,
      "kill $(cat /run/munge/munged.pid); sleep 0.3; head -c 1024 /dev/urandom > /etc/munge/munge.key; runuser -u munge -- /usr/sbin/munged",
    );
    const r = await podkit(["cluster", "check", "-f", file]);
    expect(r.code).toBe(1);
    const failed = failures(r.stdout);
    expect(failed.map((f) => `${f.check} ${f.node}`)).toEqual(["munge node-2"]);
    expect(failed[0]!.evidence).toMatch(
      /cannot decode a credential made on node-0: .*Invalid credential.*munge keys differ/,
    );
    const fix = await podkit(["cluster", "slurm", "-f", file]);
    expect(fix.code).toBe(0);
    expect(failures((await podkit(["cluster", "check", "-f", file])).stdout)).toEqual([]);
  });

  it("down stops the daemons and restores each node's own key and config", async () => {
    const r = await podkit(["cluster", "down", "-f", file]);
    expect(r.code).toBe(0);
    // Slurm's part is listed too, not only up's files.
    const node0 = r.stdout.split("\n").find((l) => l.startsWith("node-0 ")) ?? "";
    for (const undone of [
      "stopped slurmd",
      "stopped slurmctld",
      "stopped munged",
      "/etc/slurm/slurm.conf",
      "/etc/munge/munge.key",
    ])
      expect(node0).toContain(undone);
    expect(c.nodes.map((n) => c.exec(n.index, SNAPSHOT).stdout)).toEqual(before);
  });
});
