import { spawn } from "node:child_process";
import type { CommandResult } from "./parse/reading.js";

export interface RunOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  /** Output beyond this is dropped (a runaway tool must not eat the agent's memory). */
  maxOutputBytes?: number;
  /** Aborting kills the command like the deadline does (the agent is stopping, or the run overran its budget). */
  signal?: AbortSignal;
}

/**
 * Run a command with a hard deadline. On timeout the whole process group gets SIGKILL, so a
 * hung nvidia-smi (a wedged GPU makes it block in the kernel) never hangs the agent; the
 * promise settles at the deadline even if the child cannot be reaped.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<CommandResult> {
  const max = options.maxOutputBytes ?? 32 * 1024 * 1024;
  return new Promise((resolve) => {
    let settled = false;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const finish = (r: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
      resolve(r);
    };
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) into.push(chunk);
    };
    child.stdout.on("data", collect(out));
    child.stderr.on("data", collect(err));
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
      finish({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: null,
        timedOut: true,
      });
    };
    const timer = setTimeout(kill, options.timeoutMs);
    if (options.signal?.aborted) kill();
    options.signal?.addEventListener("abort", kill, { once: true });
    child.on("error", (e) =>
      finish({ stdout: "", stderr: "", exitCode: null, timedOut: false, spawnError: (e as Error).message }),
    );
    child.on("close", (code, signal) =>
      finish({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: code ?? (signal ? 128 : null),
        timedOut: false,
      }),
    );
  });
}
