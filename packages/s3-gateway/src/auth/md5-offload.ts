import { Worker } from "node:worker_threads";
import { workerModuleUrl } from "@podkit/core";
import type { Slab } from "./body-slabs.js";
import type { Md5Reply, Md5Request } from "./md5-worker.js";

/**
 * MD5 of big uploads computed on a worker thread, so hashing (the costliest step of a PUT,
 * one core's worth at ~700 MiB/s here) overlaps with receiving and writing on the main thread.
 * Small bodies are hashed inline: a message round trip costs more than hashing a few KiB.
 * One worker (md5-worker.ts) serves every upload. It reads the body's slabs (body-slabs.ts) in
 * place, while the main thread writes the same slabs to the file; each upload keeps at most
 * MAX_OUTSTANDING bytes waiting for the hash.
 */
/** Bytes posted but not yet hashed before the body stream waits (bounds memory). */
const MAX_OUTSTANDING = 2 << 20;
/** Bodies at least this big are hashed on the worker. */
export const OFFLOAD_MIN_BYTES = 8 << 20;

interface Job {
  outstanding: number;
  waiters: Array<() => void>;
  done?: (hex: string) => void;
  failed?: (err: Error) => void;
  error?: Error;
}

/**
 * Slabs the worker has not acknowledged yet, by sequence number: a shared one is released only on
 * its acknowledgement, even when its upload was abandoned meanwhile (the worker may still be
 * reading it).
 */
const hashing = new Map<number, { slab?: Slab; job: Job; bytes: number }>();
let nextSeq = 1;

let worker: Worker | undefined;
const jobs = new Map<number, Job>();
let nextId = 1;

/**
 * The thread keeps the process alive only while it hashes something: an idle one must not hold
 * a stopping gateway open. (Called after the listeners are attached: adding a "message" listener
 * refs the worker again.)
 */
function holdWhileBusy(): void {
  if (jobs.size > 0) worker?.ref();
  else worker?.unref();
}

function send(m: Md5Request, transfer?: ArrayBuffer[]): void {
  getWorker().postMessage(m, transfer);
}

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(workerModuleUrl("./md5-worker.js", import.meta.url));
  w.on("message", (m: Md5Reply) => {
    if (m.t === "a") {
      const hashed = hashing.get(m.seq);
      if (!hashed) return;
      hashing.delete(m.seq);
      const { slab, job, bytes } = hashed;
      job.outstanding -= bytes;
      slab?.release();
      if (job.outstanding <= MAX_OUTSTANDING) for (const wake of job.waiters.splice(0)) wake();
      return;
    }
    const job = jobs.get(m.id);
    if (job) {
      jobs.delete(m.id);
      holdWhileBusy();
      job.done?.(m.hex);
    }
  });
  // A dead hashing thread fails the uploads it was hashing (they answer 500), never hangs them.
  // Its unacknowledged slabs are never reused (nothing can tell whether it was still reading them).
  const fail = (err: Error) => {
    if (worker === w) worker = undefined;
    for (const { slab } of hashing.values()) slab?.abandon();
    hashing.clear();
    for (const job of jobs.values()) {
      job.error = err;
      job.failed?.(err);
      for (const wake of job.waiters.splice(0)) wake();
    }
    jobs.clear();
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`the MD5 worker thread exited (${code})`)));
  worker = w;
  holdWhileBusy();
  return w;
}

export class OffloadedMd5 {
  private readonly id = nextId++;
  private readonly job: Job = { outstanding: 0, waiters: [] };

  constructor() {
    jobs.set(this.id, this.job);
    holdWhileBusy();
  }

  /**
   * Hash a filled slab next (holding it until the worker has read it); returns a promise only
   * when too much is waiting to be hashed.
   */
  hash(slab: Slab): Promise<void> | undefined {
    if (slab.filled > 0) {
      if (this.job.error) throw this.job.error;
      const seq = nextSeq++;
      this.job.outstanding += slab.filled;
      if (slab.shared) {
        slab.hold();
        hashing.set(seq, { slab, job: this.job, bytes: slab.filled });
        send({ t: "u", id: this.id, seq, n: slab.filled, b: slab.memory });
      } else {
        // All shared slabs are in use: the thread gets a copy of this one (see body-slabs.ts).
        const copy = slab.memory.slice(0, slab.filled) as ArrayBuffer;
        hashing.set(seq, { job: this.job, bytes: slab.filled });
        send({ t: "u", id: this.id, seq, n: slab.filled, b: copy }, [copy]);
      }
    }
    if (this.job.outstanding <= MAX_OUTSTANDING) return undefined;
    return new Promise((resolve) => this.job.waiters.push(resolve));
  }

  digest(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.job.error) return reject(this.job.error);
      this.job.done = (hex) => resolve(Buffer.from(hex, "hex"));
      this.job.failed = reject;
      send({ t: "e", id: this.id });
    });
  }

  /** Forget an upload that failed midway. */
  discard(): void {
    jobs.delete(this.id);
    holdWhileBusy();
    const abandon: Md5Request = { t: "x", id: this.id };
    worker?.postMessage(abandon);
  }
}
