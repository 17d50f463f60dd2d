// The checkpoint thread (started by checkpointer.ts): its own connection runs a passive WAL
// checkpoint every `everyMs` until the parent posts any message.
import { parentPort, workerData } from "node:worker_threads";
import SQLite from "better-sqlite3";

export interface CheckpointWorkerData {
  file: string;
  everyMs: number;
}

const port = parentPort;
if (!port) throw new Error("checkpoint-worker.js runs as a worker thread (see checkpointer.ts)");
const { file, everyMs } = workerData as CheckpointWorkerData;
const db = new SQLite(file);
db.pragma("busy_timeout = 1000");
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // busy or locked: the next tick tries again, and commits still checkpoint on their own
  }
}, everyMs);
port.on("message", () => {
  clearInterval(timer);
  db.close();
  port.close();
});
