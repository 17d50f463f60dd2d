import { Worker } from "node:worker_threads";
import { workerModuleUrl } from "@podkit/core";
import type { CheckpointWorkerData } from "./checkpoint-worker.js";

/**
 * SQLite's automatic WAL checkpoint runs inside whichever commit crosses the threshold, and with
 * better-sqlite3 that commit blocks the event loop while pages are copied and fsynced: a latency
 * spike for every agent. Instead a worker thread, with its own connection, runs a passive
 * checkpoint every second (checkpoint-worker.ts); the main connection's automatic checkpoint stays
 * on, far later, only as a safety net.
 */
export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(file: string, onError: (err: Error) => void, everyMs = 1000): Checkpointer {
  const workerData: CheckpointWorkerData = { file, everyMs };
  const worker = new Worker(workerModuleUrl("./checkpoint-worker.js", import.meta.url), { workerData });
  // A worker's uncaught error is re-thrown in this thread when nobody listens: it must not stop
  // the control plane, whose own connection still checkpoints (wal_autocheckpoint).
  worker.on("error", onError);
  worker.unref();
  return {
    stop: async () => {
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.postMessage("stop");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      await worker.terminate();
    },
  };
}
