import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PODKIT = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
export const TESTDATA = fileURLToPath(new URL("../testdata/agent/", import.meta.url));
export const FAKE_SMI = fileURLToPath(new URL("./fake-nvidia-smi", import.meta.url));
export const H100_CAPTURE = join(TESTDATA, "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt");

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `podkit-${prefix}-`));
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 20_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface AgentProcess {
  proc: ChildProcess;
  metricsUrl: string;
  logs: () => string;
  stop: () => Promise<number | null>;
  kill9: () => Promise<void>;
}

/** `podkit agent run` flags for an agent replaying the 8× H100 capture, enrolled with `token`. */
export function enrolledAgentArgs(o: {
  controlPlane: string;
  token: string;
  stateDir: string;
  kmsgPath: string;
}): string[] {
  return [
    "--simulate",
    "h100-8x",
    "--control-plane",
    o.controlPlane,
    "--token",
    o.token,
    "--state-dir",
    o.stateDir,
    "--metrics-listen",
    "127.0.0.1:0",
    "--kmsg",
    o.kmsgPath,
  ];
}

/** `podkit agent run` flags for an agent reading GPUs through `nvidiaSmi` (the fake by default). */
export function agentArgs(o: {
  stateDir: string;
  kmsgPath: string;
  nvidiaSmi?: string;
  listen?: string;
}): string[] {
  return [
    "--nvidia-smi",
    o.nvidiaSmi ?? FAKE_SMI,
    "--kmsg",
    o.kmsgPath,
    "--state-dir",
    o.stateDir,
    "--metrics-listen",
    o.listen ?? "127.0.0.1:0",
  ];
}

/**
 * Start `podkit agent run` as a real process without waiting for it; `metricsUrl` is what
 * `--metrics-listen` names (give a fixed port).
 */
export function spawnAgentProcess(args: string[], env: NodeJS.ProcessEnv = {}, listen = ""): AgentProcess {
  const proc = spawn(process.execPath, [PODKIT, "agent", "run", ...args], {
    env: { ...process.env, PODKIT_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout!.on("data", (d) => (output += String(d)));
  proc.stderr!.on("data", (d) => (output += String(d)));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    metricsUrl: `http://${listen}/metrics`,
    logs: () => output,
    stop: async () => {
      proc.kill("SIGTERM");
      return exited;
    },
    kill9: async () => {
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** Start `podkit agent run` as a real process; resolves when it prints its metrics address. */
export async function startAgentProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<AgentProcess> {
  const agent = spawnAgentProcess(args, env);
  const metricsUrl = await waitFor(
    "agent metrics address",
    () => {
      if (agent.proc.exitCode !== null)
        throw new Error(`agent exited with ${agent.proc.exitCode}: ${agent.logs()}`);
      return /metrics on (http:\/\/\S+), state/.exec(agent.logs())?.[1];
    },
    30_000,
  );
  return { ...agent, metricsUrl };
}

export function podkit(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [PODKIT, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A kernel-log file the test appends to one line at a time, like the kernel does. */
export class FakeKernelLog {
  constructor(readonly path: string) {
    writeFileSync(path, "");
  }
  append(...lines: string[]): void {
    for (const l of lines) appendFileSync(this.path, `${l}\n`);
  }
}

export function scrapeValue(
  body: string,
  metric: string,
  labels: Record<string, string> = {},
): number | null {
  for (const line of body.split("\n")) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(" ").pop());
  }
  return null;
}
