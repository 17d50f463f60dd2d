/** What the benchmarks share: the server under test in its own process, and load-generator processes. */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type EphemeralPostgres, startEphemeralPostgres } from "../src/testing/index.js";

const PODKIT = fileURLToPath(new URL("../../cli/dist/main.js", import.meta.url));
const ACK_SERVER = fileURLToPath(new URL("./ack-server.mjs", import.meta.url));
const LOAD_WORKER = fileURLToPath(new URL("./load-worker.mjs", import.meta.url));
export const ADMIN = `pka_bench_${randomUUID()}`;

export interface Server {
  url: string;
  stop(): Promise<void>;
}

export async function startServer(backend: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "podkit-bench-"));
  let pg: EphemeralPostgres | null = null;
  if (backend === "postgres") pg = await startEphemeralPostgres({ fsync: true });
  const db = pg ? pg.url : join(dir, "bench.sqlite");
  // The baseline server runs in its own process too, so both sides are measured alike.
  const args =
    backend === "baseline"
      ? [ACK_SERVER]
      : [
          PODKIT,
          "control-plane",
          "serve",
          "--listen",
          "127.0.0.1:0",
          "--db",
          db,
          "--data-dir",
          dir,
          "--admin-token",
          ADMIN,
          // Extra `serve` flags for experiments, e.g. PODKIT_BENCH_SERVE_ARGS="--sweep-interval 1h".
          ...(process.env.PODKIT_BENCH_SERVE_ARGS ?? "").split(" ").filter(Boolean),
        ];
  // Node flags for the server process, e.g. PODKIT_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.PODKIT_BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], {
    env: { ...process.env, PODKIT_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`control plane exited with ${code}: ${out}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await pg?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LoadWorker {
  call<T>(op: string, args?: object): Promise<T>;
  stop(): Promise<void>;
}

/** One load-generator process (bench/load-worker.mjs); several share the fleet between them. */
export function startLoadWorker(): LoadWorker {
  const child = fork(LOAD_WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  let seq = 0;
  child.on("message", (m: { seq: number; ok: boolean; result?: never; error?: string }) => {
    const p = pending.get(m.seq);
    pending.delete(m.seq);
    if (m.ok) p?.resolve(m.result as never);
    else p?.reject(new Error(`load worker: ${m.error}`));
  });
  child.on("exit", (code) => {
    for (const p of pending.values()) p.reject(new Error(`load worker exited with ${code}`));
    pending.clear();
  });
  return {
    call: <T>(op: string, args?: object) =>
      new Promise<T>((resolve, reject) => {
        const n = ++seq;
        pending.set(n, { resolve: resolve as (v: never) => void, reject });
        child.send({ seq: n, op, args });
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
