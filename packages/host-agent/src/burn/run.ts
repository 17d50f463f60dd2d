import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findOnPath, type XidEvent } from "@podkit/core";
import { requireDisruptiveAllowed } from "../actions.js";
import type { GpuSource } from "../collectors/gpu.js";
import { KernelLogFollower } from "../collectors/kernel-log.js";
import { runCommand } from "../exec.js";
import type { MaintenanceDecision } from "../maintenance.js";
import { type GpuBurnResult, parseGpuBurn } from "../parse/gpu-burn.js";
import { KernelLogParser } from "../parse/kernel-log.js";
import { parseStressNg, parseStressNgYaml, type StressNgResult } from "../parse/stress-ng.js";
import { loadXidCatalog } from "../parse/xid-catalog.js";
import { enqueueEvent } from "../report/events.js";
import { Outbox } from "../report/outbox.js";
import { writeFileAtomic } from "../state-files.js";
import { classifyKernelError } from "../xid.js";
import { type HookResult, runHooks } from "./hooks.js";

export interface BurnTestOptions {
  stateDir: string;
  gpuSeconds?: number;
  cpuSeconds?: number;
  memory?: boolean;
  /** Size for the memory stressor (stress-ng syntax: "75%", "2G"). */
  memoryBytes?: string;
  disk?: string;
  diskBytes?: string;
  hooksDir?: string;
  gpuBurnPath?: string;
  stressNgPath?: string;
  gpuSource?: GpuSource;
  kmsgPath?: string | null;
  thermalLimitCelsius?: number;
  now?: () => Date;
}

export interface BurnReport {
  id: string;
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  problems: string[];
  maintenance: MaintenanceDecision;
  hooks: HookResult[];
  gpuBurn: (GpuBurnResult & { exitCode: number | null; command: string }) | { skipped: string };
  stressNg: (StressNgResult & { command: string }) | { skipped: string };
  xids: XidEvent[];
  maxTemperatureCelsius: Record<string, number>;
  reportPath: string;
  summaryPath: string;
}

export function summarize(r: Omit<BurnReport, "summaryPath">): string {
  const lines = [`Burn test ${r.id}: ${r.passed ? "PASSED" : "FAILED"} (${r.startedAt} → ${r.finishedAt})`];
  if ("skipped" in r.gpuBurn) lines.push(`  gpu-burn: skipped (${r.gpuBurn.skipped})`);
  else {
    lines.push(
      `  gpu-burn: ${r.gpuBurn.passed ? "passed" : "FAILED"} on ${r.gpuBurn.gpus.length} GPUs (exit status ${r.gpuBurn.exitCode}, not trusted)`,
    );
    for (const g of r.gpuBurn.gpus)
      lines.push(
        `    GPU ${g.index}: ${g.verdict ?? "no verdict"}, ${g.maxGflops ?? 0} Gflop/s max, ${g.maxTemperatureCelsius ?? "-"} C max`,
      );
  }
  if ("skipped" in r.stressNg) lines.push(`  stress-ng: skipped (${r.stressNg.skipped})`);
  else {
    lines.push(
      `  stress-ng: ${r.stressNg.passed ? "passed" : "FAILED"} (exit status ${r.stressNg.exitCode})`,
    );
    for (const m of r.stressNg.metrics)
      lines.push(`    ${m.stressor}: ${m.bogoOps} bogo ops in ${m.realTimeSeconds} s`);
  }
  lines.push(
    `  XIDs during the test: ${r.xids.length === 0 ? "none" : r.xids.map((x) => `${x.xid} (${x.action})`).join(", ")}`,
  );
  const temps = Object.entries(r.maxTemperatureCelsius);
  if (temps.length)
    lines.push(`  max GPU temperatures: ${temps.map(([g, t]) => `GPU ${g} ${t} C`).join(", ")}`);
  for (const h of r.hooks)
    lines.push(
      `  hook ${h.phase} ${h.hook}: ${h.passed ? "ok" : `FAILED (exit ${h.exitCode}${h.timedOut ? ", timed out" : ""})`}`,
    );
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  lines.push(
    r.passed
      ? "  The machine is relisted (unless something else holds it)."
      : "  The machine stays unlisted.",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * `podkit agent burn-test`: unlist (tell the control plane), run the before-hooks, gpu-burn and
 * stress-ng, parse their output (never trust exit codes alone), watch XIDs and temperatures,
 * write the report, run the after-hooks, relist only if everything passed.
 */
export async function runBurnTest(options: BurnTestOptions): Promise<BurnReport> {
  const now = options.now ?? (() => new Date());
  const { stateDir } = options;
  const maintenance = requireDisruptiveAllowed(stateDir, "burn-test");

  const id = `${now().toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 8)}`;
  const startedAt = now().toISOString();
  const outbox = new Outbox(join(stateDir, "outbox"));
  enqueueEvent(outbox, { kind: "burn-test", phase: "started", summary: `burn test ${id} started` });
  const problems: string[] = [];
  const hooksDir = options.hooksDir ?? "/etc/podkit/burn.d";
  const hooks = await runHooks(hooksDir, "before");
  for (const h of hooks) if (!h.passed) problems.push(`before-hook ${h.hook} failed (exit ${h.exitCode})`);

  const xidWatch = await watchXids(options.kmsgPath);
  const temps = await watchTemperatures(options.gpuSource);
  const gpuBurn = await runGpuBurn(options, problems);
  const stressNg = await runStressNg(options, id, problems);
  const maxTemp = await temps.stop();
  const xids = xidWatch.stop();
  for (const x of xids)
    if (x.action !== "none") problems.push(`XID ${x.xid} during the test (${x.action}): ${x.raw}`);
  const limit = options.thermalLimitCelsius ?? 90;
  for (const [g, t] of Object.entries(maxTemp))
    if (t >= limit) problems.push(`GPU ${g} reached ${t} C (limit ${limit} C)`);

  const dir = join(stateDir, "burn-tests");
  mkdirSync(dir, { recursive: true });
  const reportPath = join(dir, `${id}.json`);
  const summaryPath = join(dir, `${id}.txt`);
  const passedBeforeHooks = problems.length === 0;
  // After-hooks read the report as it stands without their own results.
  writeFileAtomic(
    reportPath,
    JSON.stringify(
      {
        id,
        startedAt,
        passed: passedBeforeHooks,
        problems,
        hooks,
        gpuBurn,
        stressNg,
        xids,
        maxTemperatureCelsius: maxTemp,
      },
      null,
      2,
    ),
  );
  const after = await runHooks(hooksDir, "after", {
    result: passedBeforeHooks ? "passed" : "failed",
    reportPath,
  });
  hooks.push(...after);
  for (const h of after) if (!h.passed) problems.push(`after-hook ${h.hook} failed (exit ${h.exitCode})`);
  const report: BurnReport = {
    id,
    startedAt,
    finishedAt: now().toISOString(),
    passed: problems.length === 0,
    problems,
    maintenance,
    hooks,
    gpuBurn,
    stressNg,
    xids,
    maxTemperatureCelsius: maxTemp,
    reportPath,
    summaryPath,
  };
  writeFileAtomic(reportPath, JSON.stringify(report, null, 2));
  const summary = summarize(report);
  writeFileAtomic(summaryPath, summary);
  enqueueEvent(outbox, {
    kind: "burn-test",
    phase: report.passed ? "passed" : "failed",
    summary,
    report: report as unknown as Record<string, unknown>,
  });
  return report;
}

/** Follows the kernel log for NVIDIA errors that appear while we burn (none when there is no kmsg). */
async function watchXids(kmsgPath: string | null | undefined): Promise<{ stop(): XidEvent[] }> {
  const xids: XidEvent[] = [];
  if (!kmsgPath) return { stop: () => xids };
  const parser = new KernelLogParser();
  const catalog = loadXidCatalog();
  let warm = true;
  const follower = new KernelLogFollower({
    path: kmsgPath,
    onLines: (lines) => {
      for (const l of lines) {
        const errors = parser.feed(l.text);
        if (warm) continue; // what was logged before the test started is not this test's fault
        for (const e of errors)
          xids.push(classifyKernelError(e, catalog, new Map(), new Date().toISOString()));
      }
    },
  });
  follower.start();
  await new Promise((r) => setTimeout(r, 300));
  warm = false;
  return {
    stop: () => {
      follower.close();
      return xids;
    },
  };
}

/** Samples GPU temperatures every 5 s (and at start and stop); stop() gives each GPU's maximum. */
async function watchTemperatures(
  gpuSource: GpuSource | undefined,
): Promise<{ stop(): Promise<Record<string, number>> }> {
  const maxTemp: Record<string, number> = {};
  const sampleTemps = async () => {
    if (!gpuSource) return;
    const reading = await gpuSource.read([]);
    for (const g of reading.gpus)
      if (g.temperatureCelsius !== null)
        maxTemp[g.index] = Math.max(maxTemp[g.index] ?? 0, g.temperatureCelsius);
  };
  const tempTimer = setInterval(() => void sampleTemps().catch(() => undefined), 5000);
  await sampleTemps().catch(() => undefined);
  return {
    stop: async () => {
      clearInterval(tempTimer);
      await sampleTemps().catch(() => undefined);
      return maxTemp;
    },
  };
}

/** gpu-burn for `gpuSeconds`, judged from its output; its problems are added to `problems`. */
async function runGpuBurn(options: BurnTestOptions, problems: string[]): Promise<BurnReport["gpuBurn"]> {
  const gpuBurnPath = options.gpuBurnPath ?? findOnPath("gpu_burn") ?? findOnPath("gpu-burn");
  const gpuSeconds = options.gpuSeconds ?? 3600;
  if (!gpuBurnPath)
    return { skipped: "gpu-burn is not installed (looked for gpu_burn and gpu-burn on PATH)" };
  if (gpuSeconds <= 0) return { skipped: "--gpu-seconds 0" };
  const r = await runCommand(gpuBurnPath, [String(gpuSeconds)], { timeoutMs: (gpuSeconds + 120) * 1000 });
  const parsed = parseGpuBurn(r.stdout + r.stderr);
  if (r.timedOut) parsed.problems.push("gpu-burn did not finish in time");
  const gpuBurn = {
    ...parsed,
    passed: parsed.passed && !r.timedOut,
    exitCode: r.exitCode,
    command: `${gpuBurnPath} ${gpuSeconds}`,
  };
  for (const p of gpuBurn.problems) problems.push(`gpu-burn: ${p}`);
  return gpuBurn;
}

/** stress-ng on the CPU (and memory and disk when asked); its problems are added to `problems`. */
async function runStressNg(
  options: BurnTestOptions,
  id: string,
  problems: string[],
): Promise<BurnReport["stressNg"]> {
  const stressPath = options.stressNgPath ?? findOnPath("stress-ng");
  const cpuSeconds = options.cpuSeconds ?? 600;
  if (cpuSeconds <= 0) return { skipped: "--cpu-seconds 0" };
  if (!stressPath) {
    problems.push("stress-ng is not installed: CPU, memory and disk were not tested");
    return { skipped: "stress-ng is not installed (apt-get install stress-ng)" };
  }
  const yamlPath = join(tmpdir(), `podkit-burn-${id}.yaml`);
  const args = ["--cpu", "0", "--cpu-method", "matrixprod"];
  const expected = ["cpu"];
  if (options.memory) {
    args.push("--vm", "1", "--vm-bytes", options.memoryBytes ?? "75%", "--verify");
    expected.push("vm");
  }
  if (options.disk) {
    args.push("--hdd", "1", "--hdd-bytes", options.diskBytes ?? "1G", "--temp-path", options.disk);
    expected.push("hdd");
  }
  args.push("--timeout", `${cpuSeconds}s`, "--metrics-brief", "--yaml", yamlPath);
  const r = await runCommand(stressPath, args, { timeoutMs: (cpuSeconds + 120) * 1000 });
  const parsed = parseStressNg(r.stdout + r.stderr, r.exitCode, expected);
  if (existsSync(yamlPath)) {
    const fromYaml = parseStressNgYaml(readFileSync(yamlPath, "utf8"));
    if (parsed.metrics.length === 0) parsed.metrics = fromYaml;
    rmSync(yamlPath, { force: true });
  }
  for (const p of parsed.problems) problems.push(`stress-ng: ${p}`);
  return { ...parsed, command: `${stressPath} ${args.join(" ")}` };
}
