/**
 * Benchmark: `cluster up` (parallel fan-out over ssh2) against the same steps run node by node with
 * the OpenSSH client in a loop, on 3, 8 and 16 namespace nodes; and how fast the pre-flight reports
 * a blocked primary port, against torchrun left to find out by itself (opt-in, it takes minutes).
 *
 *   pnpm --filter @podkit/cluster bench                      # sizes 3,8,16, 3 repeats (about 2 min)
 *   BENCH_SIZES=3,8,16,32 BENCH_REPEATS=5 BENCH_TORCHRUN_HANG=1 pnpm --filter @podkit/cluster bench
 *
 * Needs root (it builds network namespaces) and the Debian packages of scripts/test-deps/cluster.txt.
 */
import { cpus, loadavg } from "node:os";
import { ClusterSpecSchema } from "@podkit/core";
import { type NetnsCluster, startNetnsCluster } from "../../../test/cluster/netns.js";
import { changedFiles, desiredFiles, writeScript } from "../src/apply/desired-files.js";
import { clusterCheck, clusterDown, clusterUp, openCluster, planCluster, runOnAll } from "../src/index.js";
import { FACTS_SCRIPT, parseFacts } from "../src/probe/node-facts.js";

const sizes = (process.env.BENCH_SIZES ?? "3,8,16").split(",").map(Number);
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

async function main() {
  console.log(
    `cluster up: parallel fan-out (ssh2) vs node-by-node OpenSSH loop; ${repeats} repeats, medians`,
  );
  console.log(
    `(${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")})\n`,
  );
  console.log("nodes  podkit up (ms)  loop (ms)  loop/podkit");
  for (const n of sizes) {
    const c = await startNetnsCluster({ nodes: n, fakeGpus: 2 });
    try {
      const fast: number[] = [];
      const slow: number[] = [];
      for (let r = 0; r < repeats; r++) {
        fast.push(await parallelUp(c));
        await reset(c);
        slow.push(sequentialUp(c));
        await reset(c);
      }
      const f = median(fast);
      const s = median(slow);
      console.log(
        `${String(n).padStart(5)}  ${f.toFixed(0).padStart(14)}  ${s.toFixed(0).padStart(9)}  ${(s / f).toFixed(2).padStart(11)}`,
      );
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
