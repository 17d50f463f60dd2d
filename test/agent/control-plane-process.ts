import { type ChildProcess, spawn } from "node:child_process";
import { PODKIT, waitFor } from "./helpers.js";

/** The real control plane (`podkit control-plane serve`) as a process the test can kill and restart. */
export async function startControlPlaneProcess(options: {
  port: number;
  dataDir: string;
  adminToken: string;
  /** A PostgreSQL URL; SQLite in the data directory when left out. */
  db?: string;
  /** More `control-plane serve` flags. */
  args?: string[];
}) {
  const proc: ChildProcess = spawn(
    process.execPath,
    [
      PODKIT,
      "control-plane",
      "serve",
      "--listen",
      `127.0.0.1:${options.port}`,
      "--data-dir",
      options.dataDir,
      ...(options.db ? ["--db", options.db] : []),
      ...(options.args ?? []),
    ],
    {
      env: { ...process.env, PODKIT_ADMIN_TOKEN: options.adminToken, PODKIT_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  proc.stdout!.on("data", (d) => (output += String(d)));
  proc.stderr!.on("data", (d) => (output += String(d)));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${options.port}`;
  await waitFor(
    "control plane listening",
    () => {
      if (proc.exitCode !== null) throw new Error(`control plane exited: ${output}`);
      return /control plane listening on/.test(output);
    },
    30_000,
  );
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${options.adminToken}`,
        "content-type": "application/json",
        ...(init.headers ?? {}),
      },
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    url,
    api,
    logs: () => output,
    kill9: async () => {
      proc.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      proc.kill("SIGTERM");
      await exited;
    },
    proc,
  };
}
