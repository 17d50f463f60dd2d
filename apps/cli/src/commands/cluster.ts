import { readFileSync } from "node:fs";
import { basename } from "node:path";
import {
  type CheckResult,
  type ClusterContext,
  type ClusterPlan,
  clusterCheck,
  clusterDown,
  clusterSlurm,
  clusterUp,
  commandLine,
  launchedScript,
  loadClusterSpec,
  NODE_PATHS,
  nodesMissingScript,
  openCluster,
  parseEnvLines,
  previewChanges,
  runOnAll,
  torchrunLine,
  uploadDir,
} from "@podkit/cluster";
import { type ClusterSpec, NotFoundError, PodkitError, parseDuration } from "@podkit/core";
import { type Command, Option } from "commander";
import { formatTable, type Output, printJson } from "../output.js";
import { checkStreamer, printChecks, printPlan } from "./cluster-output.js";

interface CommonOpts {
  file: string;
  json?: boolean;
  acceptNewHostKeys?: boolean;
  /** false with --no-ib. */
  ib?: boolean;
}

class ClusterCheckFailed extends PodkitError<"E_CLUSTER_CHECK"> {
  constructor(message: string) {
    super("E_CLUSTER_CHECK", message);
  }
}

function withCommon(cmd: Command): Command {
  return cmd
    .option("-f, --file <cluster.yaml>", "the cluster file", "cluster.yaml")
    .option("--json", "print JSON")
    .option(
      "--accept-new-host-keys",
      "trust hosts missing from known_hosts on first use and record their keys",
    )
    .option(
      "--no-ib",
      "keep NCCL on sockets even where InfiniBand/RoCE ports exist (network.transport: sockets)",
    );
}

/** Load the file, connect to every node, run `fn`, and always close the connections. */
async function withCluster(
  opts: CommonOpts,
  fn: (ctx: ClusterContext) => Promise<void>,
  stream?: (spec: ClusterSpec) => (c: CheckResult) => void,
): Promise<void> {
  const loaded = loadClusterSpec(opts.file).spec;
  const spec =
    opts.ib === false ? { ...loaded, network: { ...loaded.network, transport: "sockets" as const } } : loaded;
  const ctx = await openCluster(spec, {
    acceptNewHostKeys: opts.acceptNewHostKeys ?? false,
    ...(stream ? { onCheck: stream(spec) } : {}),
  });
  try {
    await fn(ctx);
  } finally {
    ctx.close();
  }
}

function requirePlan(ctx: ClusterContext, output: Output, json: boolean | undefined): ClusterPlan {
  if (ctx.plan && ctx.checks.every((c) => c.ok)) return ctx.plan;
  if (json) printJson(output, { ok: false, checks: ctx.checks });
  else printChecks(output, ctx.checks);
  throw new ClusterCheckFailed("cannot plan the cluster: fix the failures above (nothing was changed)");
}

export function registerClusterCommands(program: Command, output: Output): void {
  // Long but flat: one commander block per verb (its options and a short handler), in `--help` order.
  const cluster = program
    .command("cluster")
    .description(
      "bootstrap an Instant Cluster from plain machines over SSH (env, /etc/hosts, checks, torchrun, Slurm)",
    )
    .enablePositionalOptions();

  withCommon(cluster.command("plan"))
    .description(
      "show, for every node, exactly what `up` would set (connects to discover facts; changes nothing)",
    )
    .action(async (opts: CommonOpts) => {
      await withCluster(opts, async (ctx) => {
        const plan = requirePlan(ctx, output, opts.json);
        const changes = previewChanges(ctx, plan);
        if (opts.json) printJson(output, { ...plan, changes });
        else printPlan(output, plan, changes);
      });
    });

  withCommon(cluster.command("up"))
    .description(
      "check every node, then write the cluster env, /etc/hosts, node list and hostfile (idempotent)",
    )
    .action(async (opts: CommonOpts) => {
      const stream = opts.json ? undefined : (spec: ClusterSpec) => checkStreamer(output, spec);
      await withCluster(
        opts,
        async (ctx) => {
          const report = await clusterUp(ctx, { withMunge: false });
          if (opts.json) printJson(output, report);
          else {
            for (const c of report.changes) {
              output.out(`${c.node}: ${c.files.length === 0 ? "unchanged" : `wrote ${c.files.join(", ")}`}`);
            }
            // What the plan had to guess (CPU trainers on GPU-less nodes, shared hostnames) is said here
            // too, not only by `plan`: `up` is what writes it.
            for (const w of ctx.plan?.warnings ?? []) output.err(`warning: ${w}`);
          }
          if (!report.ok)
            throw new ClusterCheckFailed(
              report.stoppedBefore ?? "some checks failed after writing; see FAIL lines",
            );
        },
        stream,
      );
    });

  withCommon(cluster.command("check"))
    .description(
      "run every pre-flight check (SSH, NIC, route, hostname, TCP to the primary, peers, env, clock, GPUs, versions)",
    )
    .option("--munge", "also check a cross-node munge round trip (on by default when the file has slurm:)")
    .action(async (opts: CommonOpts & { munge?: boolean }) => {
      const stream = opts.json ? undefined : (spec: ClusterSpec) => checkStreamer(output, spec);
      await withCluster(
        opts,
        async (ctx) => {
          const report = await clusterCheck(ctx, { withMunge: opts.munge ?? ctx.spec.slurm !== undefined });
          if (opts.json) printJson(output, { ok: report.ok, checks: report.checks });
          if (!report.ok)
            throw new ClusterCheckFailed(`${report.checks.filter((c) => !c.ok).length} check(s) failed`);
        },
        stream,
      );
    });

  cluster
    .command("env")
    .description("on a cluster node: print this node's cluster variables (for scripts inside a Pod)")
    .option("--json", "print JSON")
    .option("--from <path>", "the env file up wrote", NODE_PATHS.clusterEnv)
    // The first spelling; hidden because -f/--file names the cluster file everywhere else.
    .addOption(new Option("--file <path>").hideHelp())
    .action((opts: { json?: boolean; from: string; file?: string }) => {
      const file = opts.file ?? opts.from;
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        throw new NotFoundError(
          `${file} does not exist: this machine is not part of a podkit cluster yet (run "podkit cluster up -f cluster.yaml" from your machine)`,
        );
      }
      const env = parseEnvLines(text);
      if (opts.json) printJson(output, Object.fromEntries(env));
      else for (const [k, v] of env) output.out(`${k}=${v}`);
    });

  withCommon(cluster.command("down"))
    .description("remove what up and slurm wrote and stop what they started; nodes are left as they were")
    .action(async (opts: CommonOpts) => {
      await withCluster(opts, async (ctx) => {
        const report = await clusterDown(ctx);
        if (opts.json) printJson(output, report);
        else
          output.out(
            formatTable(
              ["NODE", "RESULT"],
              report.nodes.map((n) => [n.node, n.ok ? n.detail : `FAILED: ${n.detail}`]),
            ),
          );
        if (!report.ok) throw new ClusterCheckFailed("down failed on some nodes; see above");
      });
    });

  withCommon(cluster.command("run"))
    .description(
      "run a command on every node at once with the cluster env; output prefixed [node-i]; one failure stops all",
    )
    .argument("<command...>", "the command (after --)")
    .option("--timeout <duration>", "one deadline for the whole run (e.g. 90s, 2h)", "1h")
    .action(async (argv: string[], opts: CommonOpts & { timeout: string }) => {
      await withCluster(opts, async (ctx) => {
        const plan = requirePlan(ctx, output, false);
        const command = commandLine(argv);
        const script = launchedScript(argv);
        if (script) {
          await requireScript(
            ctx,
            plan,
            script,
            `podkit cluster torchrun -f ${opts.file} --upload ${script}`,
          );
        }
        await runAndReport(ctx, plan, () => command, parseDuration(opts.timeout), output, opts.json);
      });
    });

  withCommon(cluster.command("torchrun"))
    .description(
      "launch torchrun on every node (static rendezvous on the primary's cluster IP), after the pre-flight",
    )
    .argument("<script>", "the training script (path on the nodes, or a local file with --upload)")
    .argument("[args...]", "arguments for the script")
    .passThroughOptions()
    .option("--nproc-per-node <n>", "workers per node (default NUM_TRAINERS, at least 1)")
    .option("--upload", "copy the local script to every node first (to /tmp/podkit-<cluster>/)")
    .option("--print", "only print each node's torchrun line")
    .option("--skip-checks", "launch without the pre-flight checks")
    .addOption(new Option("--torchrun <path>", "the launcher on the nodes").default("torchrun"))
    .option("--timeout <duration>", "one deadline for the whole run", "24h")
    .action(
      async (
        script: string,
        args: string[],
        opts: CommonOpts & {
          nprocPerNode?: string;
          upload?: boolean;
          print?: boolean;
          skipChecks?: boolean;
          torchrun: string;
          timeout: string;
        },
      ) => {
        await withCluster(opts, async (ctx) => {
          const plan = requirePlan(ctx, output, false);
          let remoteScript = script;
          if (opts.upload) {
            const data = readFileSync(script);
            remoteScript = `${uploadDir(plan.name)}/${basename(script)}`;
            await Promise.all(
              plan.nodes.map(async (n) => {
                const s = ctx.conns[n.index]!.session!;
                await s.exec(`mkdir -p ${uploadDir(plan.name)}`);
                await s.writeFile(remoteScript, data, 0o644);
              }),
            );
          }
          const lineFor = (n: ClusterPlan["nodes"][number]) =>
            torchrunLine(plan, n, {
              script: remoteScript,
              args,
              torchrun: opts.torchrun,
              ...(opts.nprocPerNode ? { nprocPerNode: Number(opts.nprocPerNode) } : {}),
              ...(ctx.timed[n.index]!.facts.torchVersion
                ? { torchVersion: ctx.timed[n.index]!.facts.torchVersion }
                : {}),
            });
          if (opts.print) {
            for (const n of plan.nodes) output.out(`[${n.alias}] ${lineFor(n)}`);
            return;
          }
          if (!opts.skipChecks) {
            const report = await clusterCheck(ctx);
            const failed = report.checks.filter((c) => !c.ok);
            if (failed.length > 0) {
              printChecks(output, failed);
              throw new ClusterCheckFailed(
                `pre-flight failed (${failed.length} check(s)); torchrun was not started (it would hang or fail later)`,
              );
            }
            // After the infrastructure checks: a node that is down is named as such, not as missing the script.
            if (!opts.upload) {
              await requireScript(
                ctx,
                plan,
                script,
                `podkit cluster torchrun -f ${opts.file} --upload ${script}`,
              );
            }
          }
          await runAndReport(ctx, plan, lineFor, parseDuration(opts.timeout), output, opts.json);
        });
      },
    );

  withCommon(cluster.command("slurm"))
    .description(
      "one munge key, slurm.conf and gres.conf for every node, slurmctld + slurmd, wait for idle, srun check",
    )
    .option("--wait <duration>", "how long to wait for every node to be idle", "60s")
    .action(async (opts: CommonOpts & { wait: string }) => {
      await withCluster(opts, async (ctx) => {
        const plan = requirePlan(ctx, output, opts.json);
        const report = await clusterSlurm(ctx, plan, { waitIdleMs: parseDuration(opts.wait) });
        if (opts.json) printJson(output, report);
        else {
          printChecks(output, report.checks);
          for (const s of report.started) {
            output.out(`${s.node}: ${s.actions.length === 0 ? "already running" : s.actions.join(", ")}`);
          }
          if (report.sinfo) output.out(`sinfo:\n${report.sinfo.replace(/^/gm, "  ")}`);
        }
        if (!report.ok) throw new ClusterCheckFailed("Slurm is not ready; see FAIL lines");
      });
    });
}

/** Refuses to launch a script that some node does not have, naming the nodes and the --upload fix. */
async function requireScript(
  ctx: ClusterContext,
  plan: ClusterPlan,
  script: string,
  uploadCommand: string,
): Promise<void> {
  const missing = await nodesMissingScript(ctx, plan, script);
  if (missing.length === 0) return;
  throw new PodkitError(
    "E_SCRIPT_MISSING",
    `${script} is not on ${missing.join(", ")} (looked for from the login directory, where the command starts); ` +
      `nothing was started. To copy your local ${script} to every node first, run: ${uploadCommand}`,
  );
}

async function runAndReport(
  ctx: ClusterContext,
  plan: ClusterPlan,
  commandFor: (n: ClusterPlan["nodes"][number]) => string,
  timeoutMs: number,
  output: Output,
  json: boolean | undefined,
): Promise<void> {
  // Ctrl-C stops the command on every node before podkit exits, instead of leaving it running there.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once("SIGINT", onSigint);
  process.once("SIGTERM", onSigint);
  let report: Awaited<ReturnType<typeof runOnAll>>;
  try {
    report = await runOnAll(ctx.conns, plan, commandFor, {
      timeoutMs,
      signal: interrupt.signal,
      onLine: (line, stream) => (stream === "stdout" ? output.out(line) : output.err(line)),
    });
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  if (json) printJson(output, report);
  if (report.interrupted) {
    throw new PodkitError("E_INTERRUPTED", "interrupted; the command was stopped on every node");
  }
  if (report.timedOut) {
    throw new PodkitError(
      "E_TIMEOUT",
      `the run passed its deadline of ${Math.round(timeoutMs / 1000)} s; every node was stopped`,
    );
  }
  const first = report.firstFailure;
  if (first?.lost) {
    // The catalogue gives 255, like OpenSSH, when the connection (not the command) failed.
    throw new PodkitError(
      "E_NODE_LOST",
      `${first.lost}; its command's fate is unknown, and the other nodes were stopped`,
    );
  }
  if (first) {
    throw new PodkitError(
      "E_NODE_FAILED",
      `${first.node} exited with ${first.code}; the other nodes were stopped`,
      { exitCode: first.code && first.code > 0 ? first.code : 1 },
    );
  }
}
