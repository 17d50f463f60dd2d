import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../exec.js";

export interface HookResult {
  hook: string;
  phase: "before" | "after";
  exitCode: number | null;
  timedOut: boolean;
  output: string;
  passed: boolean;
}

/** Executables in the hooks directory, in name order (like run-parts); a missing directory means none. */
export function listHooks(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        if (!statSync(p).isFile()) return false;
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * Run hooks for one phase. They get the phase as their first argument and in PODKIT_BURN_PHASE;
 * after-hooks also get the verdict (`passed`/`failed`) and the report's path. A hook that exits
 * non-zero fails the burn test: hosts add their own checks this way.
 */
export async function runHooks(
  dir: string,
  phase: "before" | "after",
  extra: { result?: "passed" | "failed"; reportPath?: string; timeoutMs?: number } = {},
): Promise<HookResult[]> {
  const results: HookResult[] = [];
  for (const hook of listHooks(dir)) {
    const args = phase === "after" ? [phase, extra.result ?? "failed"] : [phase];
    const r = await runCommand(hook, args, {
      timeoutMs: extra.timeoutMs ?? 300_000,
      env: {
        ...process.env,
        PODKIT_BURN_PHASE: phase,
        ...(extra.result ? { PODKIT_BURN_RESULT: extra.result } : {}),
        ...(extra.reportPath ? { PODKIT_BURN_REPORT: extra.reportPath } : {}),
      },
    });
    results.push({
      hook,
      phase,
      exitCode: r.exitCode,
      timedOut: r.timedOut,
      output: `${r.stdout}${r.stderr}`.slice(-4000),
      passed: r.exitCode === 0 && !r.timedOut,
    });
  }
  return results;
}
