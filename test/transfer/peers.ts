import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PODKIT } from "./cli.js";

/**
 * The real croc 9.6.15, croc 10.7.0 and runpodctl programs the interop suite drives. They are found in
 * `PODKIT_PEERS` (default `../shared/peers` beside the repository); `PODKIT_CROC_V9`, `PODKIT_CROC_V10`
 * and `PODKIT_RUNPODCTL` point at single other builds.
 */
export interface Peers {
  crocV9: string;
  crocV10: string;
  runpodctl: string;
}

const REPO = fileURLToPath(new URL("../..", import.meta.url));

export function findPeers(env: NodeJS.ProcessEnv = process.env): Peers {
  const dir = resolve(REPO, env.PODKIT_PEERS ?? "../shared/peers");
  const peers: Peers = {
    crocV9: resolve(REPO, env.PODKIT_CROC_V9 ?? join(dir, "croc-v9")),
    crocV10: resolve(REPO, env.PODKIT_CROC_V10 ?? join(dir, "croc-v10")),
    runpodctl: resolve(REPO, env.PODKIT_RUNPODCTL ?? join(dir, "runpodctl-peer")),
  };
  const missing = Object.values(peers).filter((path) => {
    try {
      accessSync(path, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0)
    throw new Error(
      `interop peers missing or not executable: ${missing.join(", ")}. Put croc-v9 (croc 9.6.15), croc-v10 (croc 10.7.0) and runpodctl-peer in one folder and set PODKIT_PEERS to it (default ../shared/peers from the repository root), or name single builds with PODKIT_CROC_V9, PODKIT_CROC_V10, PODKIT_RUNPODCTL.`,
    );
  return peers;
}

/**
 * A network namespace with nothing but loopback: croc's multicast discovery and local relays (fixed
 * ports 9009…) stay inside it, and fixed ports cannot clash with anything else on the machine.
 */
export function createNamespace(name: string): { name: string; remove: () => void } {
  execFileSync("ip", ["netns", "add", name]);
  execFileSync("ip", ["-n", name, "link", "set", "lo", "up"]);
  return {
    name,
    remove: () => {
      try {
        execFileSync("ip", ["netns", "delete", name]);
      } catch {
        // already gone
      }
    },
  };
}

export interface Proc {
  readonly stdout: string;
  readonly stderr: string;
  kill(signal?: NodeJS.Signals): void;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Resolves once `match` is true of stdout + stderr so far. */
  waitFor(match: (output: string) => boolean, timeoutMs?: number): Promise<void>;
}

/** Runs a program inside `ns` with its own croc config and home, the way a user would run it. */
export function run(
  ns: string,
  argv: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Proc {
  const home = mkdtempSync(join(tmpdir(), "podkit-peer-home-"));
  mkdirSync(join(home, "conf"));
  const child = spawn("ip", ["netns", "exec", ns, ...argv], {
    cwd: options.cwd,
    env: { ...process.env, HOME: home, CROC_CONFIG_DIR: join(home, "conf"), ...options.env },
    // No stdin means /dev/null: croc reads a piped stdin as the data to send.
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const watchers = new Set<() => void>();
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const w of watchers) w();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of watchers) w();
  });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((ok) =>
    child.on("close", (code) => ok({ code, stdout, stderr })),
  );
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    kill: (signal = "SIGKILL") => child.kill(signal),
    done,
    waitFor: (match, timeoutMs = 60_000) =>
      new Promise((ok, fail) => {
        const check = (): void => {
          if (!match(stdout + stderr)) return;
          watchers.delete(check);
          clearTimeout(timer);
          ok();
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          fail(new Error(`timed out waiting for output of ${argv.join(" ")}:\n${stdout}\n${stderr}`));
        }, timeoutMs);
        watchers.add(check);
        void done.then(() => {
          if (!watchers.has(check)) return;
          watchers.delete(check);
          clearTimeout(timer);
          if (match(stdout + stderr)) ok();
          else fail(new Error(`${argv[0]} exited before the expected output:\n${stdout}\n${stderr}`));
        });
        check();
      }),
  };
}

export const podkitArgv = (args: string[]): string[] => [process.execPath, PODKIT, ...args];

/** runpodctl reads its relay list from this file (real runpodctl downloads the same JSON). */
export function runpodctlRelays(address: string, pass: string, ports: readonly number[]): string {
  const file = join(mkdtempSync(join(tmpdir(), "podkit-rpc-")), "relays.json");
  writeFileSync(file, JSON.stringify({ relays: [{ address, password: pass, ports: ports.join(",") }] }));
  return file;
}
