import { fdatasync, writeSync, writevSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open } from "../crypto/aead.js";
import { CHUNK_BYTES, decodeChunkParts, MAX_CHUNK_BYTES } from "../crypto/chunks.js";
import { inflateChunk } from "../crypto/compress.js";
import type { ArrivalXxhash } from "../crypto/hash.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { chunkGarbage } from "../memory/garbage.js";
import { TransferError } from "../session/errors.js";

/**
 * Written bytes between background flushes. The final fsync before the file is renamed into place
 * would otherwise write the whole file out after the last byte arrived (about 0.4 s per GiB here,
 * nothing of it overlapped with the network); flushing as we go leaves it only the last stretch.
 */
const FLUSH_EVERY_BYTES = 64 * 1024 * 1024;

/** The file currently being received: chunks are written at their offsets in any order. */
export class FileSink {
  private bytes = 0;
  private chunks = 0;
  private unflushed = 0;
  private flushing: Promise<void> | null = null;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;
  readonly done: Promise<void>;

  /** `expectedChunks` is set for a resume (only those chunks come); otherwise completion is by bytes. */
  constructor(
    readonly handle: FileHandle,
    readonly size: number,
    readonly expectedChunks: number | null,
    private readonly onProgress: (bytes: number) => void,
    /** Hashes the bytes as they are written (a fresh download), sparing a pass over the file. */
    readonly arrivalHash: ArrivalXxhash | null = null,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
  }

  get receivedBytes(): number {
    return this.bytes;
  }

  /** Writes one chunk, given as pieces, at its offset (any multiple of 32 KiB, any size up to 4 MiB). */
  async write(offset: number, data: readonly Buffer[]): Promise<void> {
    let length = 0;
    for (const piece of data) length += piece.length;
    if (offset % CHUNK_BYTES !== 0 || offset + length > this.size || length > MAX_CHUNK_BYTES) {
      throw new TransferError(
        "E_PROTOCOL",
        `sender sent a chunk outside the file (offset ${offset}, ${length} bytes)`,
      );
    }
    // Positional writes land in the page cache; doing them synchronously avoids a thread-pool round
    // trip per chunk, which dominated the receiver's time. One writev per chunk, whatever its pieces.
    writeAllAt(this.handle.fd, data, length, offset);
    this.arrivalHash?.add(offset, data);
    this.bytes += length;
    this.unflushed += length;
    if (this.unflushed >= FLUSH_EVERY_BYTES && this.flushing === null) this.flushInBackground();
    this.chunks++;
    this.onProgress(this.bytes);
    const complete =
      this.expectedChunks === null ? this.bytes >= this.size : this.chunks >= this.expectedChunks;
    if (complete) this.resolveDone();
  }

  /** Starts an fdatasync on the thread pool (never blocking the loop); its failure surfaces in `settle`. */
  private flushInBackground(): void {
    this.unflushed = 0;
    this.flushing = new Promise((resolve, reject) =>
      fdatasync(this.handle.fd, (err) => (err ? reject(err) : resolve())),
    );
    const flushing = this.flushing;
    flushing.then(
      () => {
        if (this.flushing === flushing) this.flushing = null;
      },
      () => {},
    );
  }

  /** Waits for a background flush still running (before the final sync and close of the file). */
  async settle(): Promise<void> {
    await this.flushing;
  }

  fail(err: Error): void {
    this.rejectDone(err);
  }
}

/** `writevSync` until every byte of `pieces` is at `position` (a short write goes on piece by piece). */
function writeAllAt(fd: number, pieces: readonly Buffer[], length: number, position: number): void {
  let written = pieces.length === 1 ? 0 : writevSync(fd, pieces as Buffer[], position);
  if (written === length) return;
  let start = 0;
  for (const piece of pieces) {
    const end = start + piece.length;
    for (let from = Math.max(0, written - start); from < piece.length; ) {
      const n = writeSync(fd, piece, from, piece.length - from, position + start + from);
      from += n;
      written += n;
    }
    start = end;
  }
}

/**
 * Reads chunks from every data connection until they close, handing each to the current sink.
 * Zero-length chunks (runpodctl's trailing chunk on exact multiples of 32 KiB) are skipped.
 */
export function startDataLoops(options: {
  conns: readonly FramedSocket[];
  key: Buffer;
  compressed: () => boolean;
  sink: () => FileSink | null;
  onError: (err: Error) => void;
}): void {
  for (const conn of options.conns) {
    void (async () => {
      for (;;) {
        const frame = await conn.read();
        const sealed = open(options.key, frame);
        conn.release(frame); // decrypted into a new buffer: the frame's memory can take the next one
        const plain = options.compressed() ? inflateChunk(sealed, MAX_CHUNK_BYTES + 8) : [sealed];
        const { offset, data } = decodeChunkParts(plain);
        if (data.every((piece) => piece.length === 0)) continue;
        const sink = options.sink();
        if (!sink) throw new TransferError("E_PROTOCOL", "sender sent data for no requested file");
        await sink.write(offset, data);
        chunkGarbage.dropped(frame.length); // the cipher's output (the frame itself is pooled)
      }
    })().catch((err: Error) => options.onError(err));
  }
}
