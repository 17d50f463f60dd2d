import type { FileHandle } from "node:fs/promises";
import { finished, type Readable } from "node:stream";
import { ChunkGarbage } from "@podkit/core/gc";
import { releaseSlab } from "../../auth/body-slabs.js";

/**
 * Upload bodies arrive as fresh 64 KiB socket Buffers (a big body's are copied into slabs and
 * dropped before they get here); without pacing, tens of MiB of them wait dead for V8's next
 * collection during a big upload (one pacer for every upload of the process). Every 4 MiB rather
 * than core's 8: each collection costs 0.3-0.5 ms (`--trace-gc`), and at 8 MiB a one-process
 * gateway's 5 GiB upload held about 5 MB more.
 */
const bodyGarbage = new ChunkGarbage(4 << 20);

/** Below this much buffered data a write waits for more (unless the body has ended). */
const BATCH_BYTES = 1 << 20;
/** Stop reading the body while this much is waiting to be written (bounds memory per upload). */
const MAX_PENDING_BYTES = 2 << 20;
/** Start flushing to disk in the background every this many bytes, so the final fsync is short. */
const FLUSH_EVERY_BYTES = 32 << 20;

/** What appendStream writes through: an OpenFile, or a FileHandle wrapped by `handleTarget`. */
export interface AppendTarget {
  /** Bytes written at the current position (possibly fewer than given). */
  writev(buffers: Buffer[]): Promise<number>;
  write(buffer: Buffer, offset: number, length: number): Promise<number>;
  datasync(): Promise<void>;
}

/** A FileHandle as an AppendTarget. */
export function handleTarget(handle: FileHandle): AppendTarget {
  return {
    writev: async (buffers) => (await handle.writev(buffers)).bytesWritten,
    write: async (buffer, offset, length) => (await handle.write(buffer, offset, length)).bytesWritten,
    datasync: () => handle.datasync(),
  };
}

/**
 * Append a stream to an open file. Chunks are taken as they arrive (flowing mode: no
 * re-concatenation, no promise per chunk) and written with writev on libuv's thread pool while
 * the next ones are received and hashed; whatever piled up during a write goes out in the next
 * one, so the disk is never idle while data waits. Back-pressure pauses the body at
 * MAX_PENDING_BYTES. Every FLUSH_EVERY_BYTES a datasync starts in the background. Slabs of a big
 * body (body-slabs.ts) are given back once their write has returned, whether it worked or not.
 */
export function appendStream(
  handle: AppendTarget,
  body: Readable,
  onChunk?: (chunk: Buffer) => void,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    new Appender(handle, body, resolve, reject, onChunk).start();
  });
}

/** One appendStream call's state: pending chunks, the write in flight, the background flush. */
class Appender {
  private batch: Buffer[] = [];
  private batched = 0;
  private total = 0;
  private writing = false;
  private ended = false;
  private failed = false;
  private sinceFlush = 0;
  private flushing: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.onChunk?.(chunk);
    this.batch.push(chunk);
    this.batched += chunk.length;
    if (this.batched >= MAX_PENDING_BYTES && this.writing) this.body.pause();
    this.pump();
  };

  constructor(
    private readonly handle: AppendTarget,
    private readonly body: Readable,
    private readonly resolve: (total: number) => void,
    private readonly reject: (err: unknown) => void,
    private readonly onChunk: ((chunk: Buffer) => void) | undefined,
  ) {}

  start(): void {
    this.body.on("data", this.onData);
    // finished() also reports a body that failed before we got here (a verifier that gave up).
    finished(this.body, { writable: false }, (err) => {
      if (err) return this.fail(err);
      this.ended = true;
      this.pump();
    });
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    // Waiting chunks were never handed to a write: their slabs can go back now.
    for (const chunk of this.batch) releaseSlab(chunk);
    this.batch = [];
    this.batched = 0;
    this.body.off("data", this.onData);
    if (!this.body.destroyed) this.body.destroy();
    // Leave no thread-pool work on the handle behind: the caller closes and removes the file.
    void this.waitIdle().then(() => this.reject(err));
  }

  private async waitIdle(): Promise<void> {
    if (this.writing) await new Promise<void>((r) => (this.idle = r));
    await this.flushing?.catch(() => undefined);
  }

  private pump(): void {
    if (this.writing || this.failed) return;
    if (this.batched === 0 || (this.batched < BATCH_BYTES && !this.ended)) {
      if (this.ended && this.batched === 0) {
        void (this.flushing ?? Promise.resolve()).then(
          () => this.resolve(this.total),
          (err: unknown) => this.fail(err),
        );
      }
      return;
    }
    const buffers = this.batch;
    const length = this.batched;
    this.batch = [];
    this.batched = 0;
    this.writing = true;
    if (this.body.isPaused() && !this.ended) this.body.resume();
    writeAll(this.handle, buffers, length).then(
      () => this.written(buffers, length),
      (err: unknown) => {
        this.settle(buffers);
        this.fail(err);
      },
    );
  }

  /** The write has returned: nothing reads these chunks any more. */
  private settle(buffers: Buffer[]): void {
    for (const chunk of buffers) releaseSlab(chunk);
    this.writing = false;
    this.idle?.();
    this.idle = undefined;
  }

  private written(buffers: Buffer[], length: number): void {
    this.settle(buffers);
    this.total += length;
    // The chunks that came off the socket for these bytes are garbage now.
    bodyGarbage.dropped(length);
    this.sinceFlush += length;
    if (this.sinceFlush >= FLUSH_EVERY_BYTES && this.flushing === undefined && !this.failed) {
      this.sinceFlush = 0;
      const flushing = this.handle.datasync().finally(() => {
        this.flushing = undefined;
      });
      flushing.catch(() => undefined);
      this.flushing = flushing;
    }
    this.pump();
  }
}

/** writev may write less than asked (signals, huge batches); write the rest. */
async function writeAll(handle: AppendTarget, buffers: Buffer[], length: number): Promise<void> {
  let bytesWritten = await handle.writev(buffers);
  while (bytesWritten < length) {
    const rest = Buffer.concat(buffers).subarray(bytesWritten);
    bytesWritten += await handle.write(rest, 0, rest.length);
  }
}
