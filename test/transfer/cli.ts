import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";

/** The built `podkit` command, run as a separate process the way users run it. */
export const PODKIT = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
  /** Resolves with the first stdout line for which `match` returns true. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with stderr so far once it matches `pattern` (polled: stderr is for people, not framing). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export function podkit(
  args: string[],
  /** `wrap`: run this command line instead, which runs podkit itself (e.g. under a pseudo-terminal). */
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string; wrap?: string[] } = {},
): Running {
  const started = Date.now();
  const [command, ...commandArgs] = options.wrap ?? [process.execPath, PODKIT, ...args];
  const child = spawn(command as string, commandArgs, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<(line: string) => void>();
  let partial = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
    partial += d.toString();
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) for (const l of listeners) l(line);
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  else child.stdin?.end();
  const done = new Promise<Finished>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
  const waitForLine = (match: (line: string) => boolean, timeoutMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for output; stderr: ${stderr}`)),
        timeoutMs,
      );
      const existing = stdout.split("\n").find(match);
      if (existing !== undefined) {
        clearTimeout(timer);
        resolve(existing);
        return;
      }
      const l = (line: string): void => {
        if (!match(line)) return;
        listeners.delete(l);
        clearTimeout(timer);
        resolve(line);
      };
      listeners.add(l);
      void done.then(() => {
        clearTimeout(timer);
        reject(new Error(`podkit exited before the expected output; stderr: ${stderr}`));
      });
    });
  const waitForStderr = async (pattern: RegExp, timeoutMs = 60_000): Promise<string> => {
    let exited = false;
    void done.then(() => {
      exited = true;
    });
    for (const until = Date.now() + timeoutMs; !pattern.test(stderr); ) {
      if (exited || Date.now() > until)
        throw new Error(`${exited ? "exited" : "timed out"} before stderr matched ${pattern}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return stderr;
  };
  return { child, done, waitForLine, waitForStderr };
}

/** `podkit relay` on loopback with free ports; resolves once it listens. */
export async function startCliRelay(
  pass = "e2e-pass",
  /** How the password is given: `--pass` (the relay's first spelling, kept as an alias) by default. */
  passFlag: "--pass" | "--relay-pass" = "--pass",
): Promise<{ address: string; ports: number[]; stop: () => Promise<void>; process: Running }> {
  const proc = podkit(["relay", "--host", "127.0.0.1", "--ports", "0,0,0,0,0", passFlag, pass, "--json"]);
  const line = await proc.waitForLine((l) => l.startsWith("{"), 20_000);
  const { address, ports } = JSON.parse(line) as { address: string; ports: number[] };
  return {
    address,
    ports,
    process: proc,
    stop: async () => {
      proc.child.kill("SIGTERM");
      await proc.done;
    },
  };
}

/** The relay a test file shares: started before its tests, stopped after them. */
export interface SuiteRelay {
  readonly address: string;
  readonly ports: number[];
  /** `--relay <address> --relay-pass <pass>` for `podkit send` / `receive`. */
  flags(): string[];
}

/** One `podkit relay` for the whole test file (call at the file's top level). */
export function relayForSuite(pass: string): SuiteRelay {
  let relay: Awaited<ReturnType<typeof startCliRelay>> | undefined;
  beforeAll(async () => {
    relay = await startCliRelay(pass);
  });
  afterAll(async () => {
    await relay?.stop();
  });
  const running = () => {
    if (!relay) throw new Error("the test file's relay is not running (use it inside tests)");
    return relay;
  };
  return {
    get address() {
      return running().address;
    },
    get ports() {
      return running().ports;
    },
    flags: () => ["--relay", running().address, "--relay-pass", pass],
  };
}

/** Parses `--json` output: one event per line. */
export function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
