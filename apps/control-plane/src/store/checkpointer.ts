import { Worker } from "node:worker_threads";

/**
 * SQLite's automatic WAL checkpoint runs inside whichever commit crosses the threshold, and with
 * better-sqlite3 that commit blocks the event loop while pages are copied and fsynced: a latency
 * spike for every agent. Instead a worker thread, with its own connection, runs a passive
 * checkpoint every second; the main connection's automatic checkpoint stays on, far later, only as
 * a safety net.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 1000");
const timer = setInterval(() => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
}, workerData.everyMs);
parentPort.on("message", () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(
  file: string,
  sqliteModulePath: string,
  onError: (err: Error) => void,
  everyMs = 1000,
): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { file, module: sqliteModulePath, everyMs },
  });
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
