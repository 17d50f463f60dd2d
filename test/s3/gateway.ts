import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PODKIT = fileURLToPath(new URL("../../apps/cli/dist/main.js", import.meta.url));
export const ACCESS_KEY = "e2e-access-key";
export const SECRET_KEY = "e2e-secret-key-0123456789";

export interface RunningGateway {
  endpoint: string;
  port: number;
  proc: ChildProcess;
  /** Everything the gateway wrote to stderr (the access log). */
  log: () => string;
  /** What it printed on stdout (the --json line). */
  stdout: () => string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** The e2e suites run against a single-process gateway and against one with two workers. */
export const WORKER_COUNTS = [1, 2] as const;

/** Start `podkit s3 serve` on an ephemeral loopback port and wait for its endpoint. */
export async function startGateway(
  root: string,
  extraArgs: string[] = [],
  /** `--workers`; "default" leaves the flag out. */
  workers: number | "default" = 1,
): Promise<RunningGateway> {
  const proc = spawn(
    process.execPath,
    [
      PODKIT,
      "s3",
      "serve",
      "--root",
      root,
      "--listen",
      "127.0.0.1:0",
      "--json",
      ...(workers === "default" ? [] : ["--workers", String(workers)]),
      ...extraArgs,
    ],
    {
      env: { ...process.env, PODKIT_S3_ACCESS_KEY: ACCESS_KEY, PODKIT_S3_SECRET_KEY: SECRET_KEY },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so kill9 takes the workers down with the supervisor.
      detached: true,
    },
  );
  let stdout = "";
  let stderr = "";
  proc.stderr!.on("data", (c) => {
    stderr += c;
  });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on("data", (c) => {
      stdout += c;
      try {
        resolve((JSON.parse(stdout) as { endpoint: string }).endpoint);
      } catch {
        // not complete yet
      }
    });
    proc.once("exit", (code) => reject(new Error(`podkit s3 serve exited with ${code}: ${stderr}`)));
  });
  return {
    endpoint,
    port: Number(new URL(endpoint).port),
    proc,
    log: () => stderr,
    stdout: () => stdout,
    // A gateway that died during a test (a crash the clients might only see as a refused
    // connection) fails the suite here, with what it printed.
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(
          `podkit s3 serve had already exited (${proc.exitCode ?? proc.signalCode}): ${stderr.slice(-2000)}`,
        );
      proc.kill("SIGTERM");
      await exited;
      if (proc.exitCode !== 0)
        throw new Error(
          `podkit s3 serve exited with ${proc.exitCode ?? proc.signalCode} on SIGTERM: ${stderr.slice(-2000)}`,
        );
    },
    // The whole gateway at once (supervisor and workers), as a machine losing it would.
    kill9: async () => {
      process.kill(-proc.pid!, "SIGKILL");
      await exited;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        try {
          process.kill(-proc.pid!, 0);
        } catch {
          return; // every process of the group is gone
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A private HOME with configs for the AWS CLI, s3cmd and rclone pointing at the gateway. */
export function clientEnv(gw: { endpoint: string; port: number }, secret = SECRET_KEY): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), "podkit-s3-client-"));
  writeFileSync(
    join(home, ".s3cfg"),
    [
      "[default]",
      `access_key = ${ACCESS_KEY}`,
      `secret_key = ${secret}`,
      `host_base = 127.0.0.1:${gw.port}`,
      `host_bucket = 127.0.0.1:${gw.port}`,
      "use_https = False",
      "signature_v2 = False",
      "bucket_location = us-east-1",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(home, "rclone.conf"),
    [
      "[gw]",
      "type = s3",
      "provider = Other",
      `access_key_id = ${ACCESS_KEY}`,
      `secret_access_key = ${secret}`,
      `endpoint = ${gw.endpoint}`,
      "region = us-east-1",
      "force_path_style = true",
      "",
    ].join("\n"),
  );
  return {
    PATH: process.env.PATH,
    HOME: home,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_MAX_ATTEMPTS: "1",
    AWS_EC2_METADATA_DISABLED: "true",
    ENDPOINT: gw.endpoint,
  };
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): CliResult {
  const r = spawnSync(cmd, args, {
    env,
    encoding: "utf8",
    input,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const aws = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  run("/usr/bin/aws", ["--endpoint-url", env.ENDPOINT!, ...args], env);
export const s3cmd = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  run("/usr/bin/s3cmd", ["-c", join(env.HOME!, ".s3cfg"), "--no-progress", ...args], env);
export const rclone = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  run("/usr/bin/rclone", ["--config", join(env.HOME!, "rclone.conf"), ...args], env);
/** Run a Python snippet with Debian's boto3; ENDPOINT and the keys are in its environment. */
export const boto3 = (env: NodeJS.ProcessEnv, script: string) => run("/usr/bin/python3", ["-c", script], env);

/**
 * Like `run`, but without blocking the test's event loop: a gateway child keeps its stderr pipe
 * drained, and its exit and last log lines are seen while the client runs. (With spawnSync a
 * gateway that died mid-run looked alive and silent until the client had finished.)
 */
export function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
export const boto3Async = (env: NodeJS.ProcessEnv, script: string) =>
  runAsync("/usr/bin/python3", ["-c", script], env);
