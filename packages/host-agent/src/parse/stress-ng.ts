import { createRequire } from "node:module";

/**
 * stress-ng text output with `--metrics-brief` (0.15 line format `stress-ng: <level>: [pid] text`).
 * The verdict needs the exit status (see `man stress-ng`: 2 = a stressor failed) and the text:
 * a `fail:`/`error:` line or a missing metrics row fails the run even if the exit status is 0.
 */
export interface StressNgMetric {
  stressor: string;
  bogoOps: number;
  realTimeSeconds: number;
  bogoOpsPerSecond: number;
}

export interface StressNgResult {
  metrics: StressNgMetric[];
  failures: string[];
  successful: boolean;
  exitCode: number | null;
  passed: boolean;
  problems: string[];
}

const EXIT_MEANINGS: Record<number, string> = {
  1: "bad options or a fatal harness problem",
  2: "one or more stressors failed",
  3: "a stressor could not start for lack of resources",
  4: "a stressor is unavailable on this system (stress-ng exit 4)",
  5: "a stressor was killed by an unexpected signal",
  6: "a stressor exited unexpectedly",
  7: "bogo-ops metrics may be untrustworthy",
};

export function parseStressNg(
  output: string,
  exitCode: number | null,
  expected: readonly string[] = [],
): StressNgResult {
  const metrics: StressNgMetric[] = [];
  const failures: string[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = /^stress-ng: (\w+):\s*\[\d+\]\s?(.*)$/.exec(line);
    if (!m) continue;
    const [, level, body] = m;
    if (level === "fail" || level === "error") failures.push(body!.trim());
    if (level === "metrc") {
      const row = /^(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/.exec(
        body!.trim(),
      );
      if (row) {
        metrics.push({
          stressor: row[1]!,
          bogoOps: Number(row[2]),
          realTimeSeconds: Number(row[3]),
          bogoOpsPerSecond: Number(row[6]),
        });
      }
    }
  }
  const successful = /successful run completed/.test(output) && !/unsuccessful run completed/.test(output);
  const problems: string[] = [];
  if (exitCode !== null && exitCode !== 0)
    problems.push(`stress-ng exited with ${exitCode} (${EXIT_MEANINGS[exitCode] ?? "unknown status"})`);
  for (const f of failures) problems.push(f);
  if (!successful) problems.push("no `successful run completed` line");
  for (const name of expected) {
    const row = metrics.find((r) => r.stressor === name);
    if (!row) problems.push(`no metrics for the ${name} stressor`);
    else if (row.bogoOps <= 0) problems.push(`the ${name} stressor did no work (0 bogo ops)`);
  }
  return { metrics, failures, successful, exitCode, passed: problems.length === 0, problems };
}

/** Metrics from the `--yaml FILE` report (0.09 and 0.15 layouts; older files lack some keys). */
export function parseStressNgYaml(text: string): StressNgMetric[] {
  // Loaded on first use: only burn tests need it, and the daemon's memory is budgeted.
  const { parse: parseYaml } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  const doc = parseYaml(text) as { metrics?: Array<Record<string, unknown>> } | null;
  return (doc?.metrics ?? []).map((m) => ({
    stressor: String(m.stressor),
    bogoOps: Number(m["bogo-ops"]),
    realTimeSeconds: Number(m["wall-clock-time"]),
    bogoOpsPerSecond: Number(m["bogo-ops-per-second-real-time"]),
  }));
}
