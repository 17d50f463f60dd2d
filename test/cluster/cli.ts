import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NetnsCluster } from "./netns.js";

const MAIN = new URL("../../apps/cli/dist/main.js", import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Run the built `podkit` command, as a user would. Asynchronous on purpose: a test worker blocked
 * in spawnSync for over a minute (torchrun on a loaded machine) misses vitest's 60 s RPC deadline.
 */
export function podkit(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** The cluster.yaml form, pointing at the test cluster's eth0 addresses. */
export function writeClusterFile(
  c: NetnsCluster,
  opts: {
    name?: string;
    extra?: string;
    knownHosts?: string;
    interface?: string;
    port?: number;
    gpusPerNode?: number | "auto";
  } = {},
): string {
  const file = join(c.stateDir, `${opts.name ?? "cluster"}.yaml`);
  writeFileSync(
    file,
    [
      "name: demo",
      `primaryPort: ${opts.port ?? 29500}`,
      `ssh: { user: root, identityFile: ${c.privateKey}, knownHosts: ${opts.knownHosts ?? c.knownHosts} }`,
      `gpusPerNode: ${opts.gpusPerNode ?? "auto"}`,
      `network: { interface: ${opts.interface ?? "auto"} }`,
      ...(opts.extra ? [opts.extra] : []),
      "nodes:",
      ...c.nodes.map((n) => `  - host: ${n.mgmtIp}\n    port: 22`),
      "",
    ].join("\n"),
  );
  return file;
}

/** Rows of a check table: "PASS|FAIL check node-i" → evidence. */
export function checkRows(
  stdout: string,
): Array<{ result: string; check: string; node: string; evidence: string }> {
  return stdout
    .split("\n")
    .map((l) => /^(PASS|FAIL)\s+(\S+)\s+(node-\d+) \(\S+\)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ result: m[1]!, check: m[2]!, node: m[3]!, evidence: m[4]! }));
}

export const failures = (stdout: string) => checkRows(stdout).filter((r) => r.result === "FAIL");

/** The JSON line every torchrun rank of allreduce_check.py prints, with the node it ran on. */
export function torchrunRanks(
  stdout: string,
): Array<Record<string, unknown> & { node: number; rank: number }> {
  return stdout
    .split("\n")
    .map((l) => /^\[node-(\d)\] \[default\d\]:(\{.*\})$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ node: Number(m[1]), ...JSON.parse(m[2]!) }));
}

/**
 * `podkit cluster run` of `echo started; sleep 60`; once every node has said "started", `onStarted`
 * acts (Ctrl-C, a lost connection…). Resolves with the exit code and what podkit printed.
 */
export function runUntilStarted(
  file: string,
  nodes: number,
  onStarted: (child: ChildProcess) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, "cluster", "run", "-f", file, "--", "echo started; sleep 60"]);
  let stdout = "";
  let stderr = "";
  let acted = false;
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (!acted && (stdout.match(/started/g) ?? []).length === nodes) {
        acted = true;
        onStarted(child);
      }
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
