import { Worker } from "node:worker_threads";
import { workerModuleUrl } from "@podkit/core";
import type { Md5Reply, Md5Request } from "./md5-worker.js";

/**
 * MD5 of big uploads computed on a worker thread, so hashing (the costliest step of a PUT,
 * one core's worth at ~700 MiB/s here) overlaps with receiving and writing on the main thread.
 * Small bodies are hashed inline: a message round trip costs more than hashing a few KiB.
 * One worker (md5-worker.ts) serves every upload; each upload keeps at most MAX_OUTSTANDING bytes
 * in flight.
 */
/** Bytes gathered before one message to the worker. */
const BATCH = 1 << 20;
/** Bytes posted but not yet hashed before the body stream waits (bounds memory). */
const MAX_OUTSTANDING = 4 << 20;
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
 * Slabs travel to the worker and back (moved, never cloned) and are reused, so hashing a big
 * upload allocates nothing: freshly allocated buffers handed to a worker would pile up until
 * that idle isolate happens to collect garbage (RSS grew past 200 MB that way).
 */
const freeSlabs: ArrayBuffer[] = [];
const MAX_FREE_SLABS = 4;
function takeSlab(): ArrayBuffer {
  return freeSlabs.pop() ?? new ArrayBuffer(BATCH);
}

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
    if (m.t === "a" && freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(m.b);
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.t === "a") {
      job.outstanding -= m.n;
      if (job.outstanding <= MAX_OUTSTANDING) for (const wake of job.waiters.splice(0)) wake();
    } else {
      jobs.delete(m.id);
      holdWhileBusy();
      job.done?.(m.hex);
    }
  });
  // A dead hashing thread fails the uploads it was hashing (they answer 500), never hangs them.
  const fail = (err: Error) => {
    if (worker === w) worker = undefined;
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
  private slab: Uint8Array | undefined;
  private filled = 0;

  constructor() {
    jobs.set(this.id, this.job);
    holdWhileBusy();
  }

  /** Feed a chunk; returns a promise only when too much is waiting to be hashed. */
  update(chunk: Buffer): Promise<void> | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      this.slab ??= new Uint8Array(takeSlab());
      const n = Math.min(chunk.length - offset, BATCH - this.filled);
      this.slab.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === BATCH) this.post();
    }
    if (this.job.outstanding <= MAX_OUTSTANDING) return undefined;
    return new Promise((resolve) => this.job.waiters.push(resolve));
  }

  private post(): void {
    if (!this.slab || this.filled === 0) return;
    const buffer = this.slab.buffer as ArrayBuffer;
    this.job.outstanding += this.filled;
    send({ t: "u", id: this.id, n: this.filled, b: buffer }, [buffer]);
    this.slab = undefined;
    this.filled = 0;
  }

  digest(): Promise<Buffer> {
    this.post();
    return new Promise((resolve, reject) => {
      if (this.job.error) return reject(this.job.error);
      this.job.done = (hex) => resolve(Buffer.from(hex, "hex"));
      this.job.failed = reject;
      send({ t: "e", id: this.id });
    });
  }

  /** Forget an upload that failed midway. */
  discard(): void {
    if (this.slab && freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(this.slab.buffer as ArrayBuffer);
    this.slab = undefined;
    jobs.delete(this.id);
    holdWhileBusy();
    const abandon: Md5Request = { t: "x", id: this.id };
    worker?.postMessage(abandon);
  }
}
