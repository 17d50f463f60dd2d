/**
 * Benchmark: `cluster up` and `cluster check` (parallel fan-out over ssh2) on 1, 4 and 8 namespace
 * nodes, against the plainest baseline, a sequential `ssh node true` loop over the same nodes; the
 * target is check at 8 nodes ≤ 2× one node's check. Also how fast the pre-flight reports a blocked
 * primary port, against torchrun left to find out by itself (opt-in, it takes minutes).
 *
 *   pnpm --filter @podkit/cluster bench                      # sizes 1,4,8, 3 repeats (about 2 min)
 *   BENCH_SIZES=1,4,8,16 BENCH_REPEATS=5 BENCH_UP_LOOP=1 BENCH_TORCHRUN_HANG=1 pnpm --filter @podkit/cluster bench
 *
 * Needs root (it builds network namespaces) and the Debian packages of scripts/test-deps/cluster.txt.
 */
import { cpus, loadavg } from "node:os";
import { ClusterSpecSchema } from "@podkit/core";
import { type NetnsCluster, startNetnsCluster } from "../../../test/cluster/netns.js";
import { changedFiles, desiredFiles, writeScript } from "../src/apply/desired-files.js";
import { clusterCheck, clusterDown, clusterUp, openCluster, planCluster, runOnAll } from "../src/index.js";
import { FACTS_SCRIPT, parseFacts } from "../src/probe/node-facts.js";

const sizes = (process.env.BENCH_SIZES ?? "1,4,8").split(",").map(Number);
const repeats = Number(process.env.BENCH_REPEATS ?? "3");

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function specOf(c: NetnsCluster) {
  return ClusterSpecSchema.parse({
    name: "bench",
    ssh: { user: "root", identityFile: c.privateKey, knownHosts: c.knownHosts },
    nodes: c.nodes.map((n) => ({ host: n.mgmtIp })),
  });
}

async function parallelUp(c: NetnsCluster): Promise<number> {
  const t0 = performance.now();
  const ctx = await openCluster(specOf(c));
  const report = await clusterUp(ctx);
  ctx.close();
  if (!report.ok) throw new Error(`up failed: ${JSON.stringify(report.checks.filter((x) => !x.ok))}`);
  return performance.now() - t0;
}

async function reset(c: NetnsCluster): Promise<void> {
  const ctx = await openCluster(specOf(c));
  await clusterDown(ctx);
  ctx.close();
}

/** The bash-loop way: one OpenSSH call per node and step, one node after another. */
function sequentialUp(c: NetnsCluster): number {
  const t0 = performance.now();
  const ssh = (i: number, script: string) => {
    const r = c.ssh(i, script);
    if (r.code !== 0) throw new Error(`ssh node-${i}: ${r.stderr}`);
    return r.stdout;
  };
  const facts = c.nodes.map((n) => parseFacts(ssh(n.index, FACTS_SCRIPT)));
  const result = planCluster(specOf(c), facts);
  if (!result.ok) throw new Error("plan failed");
  const plan = result.plan;
  for (const node of plan.nodes) {
    const desired = desiredFiles(plan, node, facts[node.index]!);
    ssh(node.index, writeScript(desired, changedFiles(facts[node.index]!.files, desired)));
    ssh(node.index, `ip -o route get ${plan.primaryAddress}; getent ahostsv4 $(hostname); env`);
  }
  return performance.now() - t0;
}

/** The plainest baseline: `ssh node true` to every node, one after another (OpenSSH, host keys checked). */
function sshTrueLoop(c: NetnsCluster): number {
  const t0 = performance.now();
  for (const n of c.nodes) {
    const r = c.ssh(n.index, "true");
    if (r.code !== 0) throw new Error(`ssh node-${n.index} true: ${r.stderr}`);
  }
  return performance.now() - t0;
}

/** `check` on a cluster that is up: connect, probe, plan, every pre-flight check. */
async function parallelCheck(c: NetnsCluster): Promise<number> {
  const t0 = performance.now();
  const ctx = await openCluster(specOf(c));
  const report = await clusterCheck(ctx);
  ctx.close();
  if (!report.ok) throw new Error(`check failed: ${JSON.stringify(report.checks.filter((x) => !x.ok))}`);
  return performance.now() - t0;
}

const cell = (ms: number, width: number) => ms.toFixed(0).padStart(width);

async function main() {
  console.log(
    `cluster up and check against a sequential \`ssh node true\` loop; ${repeats} repeats, medians`,
  );
  console.log(
    `(${cpus().length} CPUs, load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")})\n`,
  );
  console.log(
    "nodes  ssh-true loop (ms)  podkit up (ms)  podkit check (ms)  check / 1-node check  loop / check",
  );
  let oneNodeCheck: number | undefined;
  for (const n of sizes) {
    const c = await startNetnsCluster({ nodes: n, fakeGpus: 2 });
    try {
      const loop: number[] = [];
      const up: number[] = [];
      const check: number[] = [];
      for (let r = 0; r < repeats; r++) {
        loop.push(sshTrueLoop(c));
        up.push(await parallelUp(c));
        check.push(await parallelCheck(c));
        await reset(c);
      }
      const [l, u, k] = [median(loop), median(up), median(check)];
      if (n === 1) oneNodeCheck = k;
      const vsOne = oneNodeCheck === undefined ? "-" : `${(k / oneNodeCheck).toFixed(2)}×`;
      console.log(
        `${String(n).padStart(5)}  ${cell(l, 18)}  ${cell(u, 14)}  ${cell(k, 17)}  ${vsOne.padStart(20)}  ${`${(l / k).toFixed(2)}×`.padStart(12)}`,
      );
      if (process.env.BENCH_UP_LOOP === "1") {
        const slow: number[] = [];
        for (let r = 0; r < repeats; r++) {
          slow.push(sequentialUp(c));
          await reset(c);
        }
        console.log(`       node-by-node OpenSSH loop of up's steps: ${cell(median(slow), 0)} ms`);
      }
    } finally {
      c.down();
    }
  }
  console.log("\nblocked primary port (iptables DROP on node-0, 3 nodes): time to a clear failure");
  const c = await startNetnsCluster({ nodes: 3, fakeGpus: 2 });
  try {
    await parallelUp(c);
    c.exec(0, "iptables -I INPUT -p tcp --dport 29500 -j DROP");
    const detect: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const ctx = await openCluster(specOf(c));
      const report = await clusterCheck(ctx);
      ctx.close();
      if (report.ok) throw new Error("the pre-flight missed the blocked port");
      detect.push(performance.now() - t0);
    }
    console.log(`podkit cluster check: ${(median(detect) / 1000).toFixed(1)} s (median of ${repeats})`);
    if (process.env.BENCH_TORCHRUN_HANG === "1") {
      const ctx = await openCluster(specOf(c));
      await Promise.all(
        ctx.conns.map((x) =>
          x.session!.exec(
            `cat > /root/job.py <<'EOF'\nimport torch.distributed as d\nd.init_process_group('gloo')\nprint('joined')\nEOF`,
          ),
        ),
      );
      const cap = Number(process.env.BENCH_HANG_CAP_S ?? "180") * 1000;
      const t0 = performance.now();
      const run = await runOnAll(
        ctx.conns,
        ctx.plan!,
        (node) =>
          `torchrun --nnodes=3 --node_rank=${node.rank} --nproc_per_node=1 --rdzv_backend=static --master_addr=10.65.0.2 --master_port=29500 --redirects=1 --tee=1 /root/job.py`,
        { timeoutMs: cap, onLine: () => {} },
      );
      ctx.close();
      const s = (performance.now() - t0) / 1000;
      console.log(
        `torchrun without the pre-flight: ${run.timedOut ? `still hanging when stopped at ${s.toFixed(0)} s` : `failed after ${s.toFixed(1)} s (${run.firstFailure?.node} exit ${run.firstFailure?.code})`}`,
      );
      const ratio = (s / (median(detect) / 1000)).toFixed(1);
      console.log(
        `ratio: ${run.timedOut ? "at least " : ""}${ratio}× sooner to a clear answer with the pre-flight`,
      );
    } else {
      console.log(
        "torchrun without the pre-flight: skipped (BENCH_TORCHRUN_HANG=1 to measure; it takes minutes)",
      );
    }
  } finally {
    c.down();
  }
}

await main();
