import { writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open } from "../crypto/aead.js";
import { CHUNK_BYTES, decodeChunk } from "../crypto/chunks.js";
import { inflateChunk } from "../crypto/compress.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { chunkGarbage } from "../memory/garbage.js";
import { TransferError } from "../session/errors.js";

/** The file currently being received: chunks are written at their offsets in any order. */
export class FileSink {
  private bytes = 0;
  private chunks = 0;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;
  readonly done: Promise<void>;

  /** `expectedChunks` is set for a resume (only those chunks come); otherwise completion is by bytes. */
  constructor(
    readonly handle: FileHandle,
    readonly size: number,
    readonly expectedChunks: number | null,
    private readonly onProgress: (bytes: number) => void,
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

  async write(offset: number, data: Buffer): Promise<void> {
    if (offset % CHUNK_BYTES !== 0 || offset + data.length > this.size || data.length > CHUNK_BYTES) {
      throw new TransferError(
        "E_PROTOCOL",
        `sender sent a chunk outside the file (offset ${offset}, ${data.length} bytes)`,
      );
    }
    // Positional writes land in the page cache; doing them synchronously avoids a thread-pool round
    // trip per 32 KiB chunk, which dominated the receiver's time.
    let written = 0;
    while (written < data.length) {
      written += writeSync(this.handle.fd, data, written, data.length - written, offset + written);
    }
    this.bytes += data.length;
    this.chunks++;
    this.onProgress(this.bytes);
    const complete =
      this.expectedChunks === null ? this.bytes >= this.size : this.chunks >= this.expectedChunks;
    if (complete) this.resolveDone();
  }

  fail(err: Error): void {
    this.rejectDone(err);
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
        const plain = options.compressed() ? inflateChunk(sealed, CHUNK_BYTES + 8) : sealed;
        const { offset, data } = decodeChunk(plain);
        if (data.length === 0) continue;
        const sink = options.sink();
        if (!sink) throw new TransferError("E_PROTOCOL", "sender sent data for no requested file");
        await sink.write(offset, data);
        chunkGarbage.dropped(frame.length); // the cipher's output (the frame itself is pooled)
      }
    })().catch((err: Error) => options.onError(err));
  }
}
