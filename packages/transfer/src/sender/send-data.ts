import { readSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { sealParts } from "../crypto/aead.js";
import { CHUNK_BYTES, WIRE_CHUNK_BYTES } from "../crypto/chunks.js";
import { AdaptiveCompressor } from "../crypto/compress.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { chunkGarbage } from "../memory/garbage.js";
import { aborted } from "../session/errors.js";

/** Bytes of chunks prepared together: compression of a batch runs on the libuv pool in parallel. */
const BATCH_BYTES = 1024 * 1024;
/** The 8-byte LE offset in front of a chunk's bytes. */
const OFFSET_BYTES = 8;

/**
 * Streams one file's chunks over the data connections: chunk k goes to connection k mod N, each
 * chunk = LE offset ‖ bytes, deflated unless disabled (stored blocks for incompressible data), sealed,
 * framed. A whole file goes in `WIRE_CHUNK_BYTES` chunks; with a resume list only the listed 32 KiB
 * chunks are read and sent (their slots in the round robin are still used). Each chunk is read
 * straight into the buffer that is sealed, its pieces are encrypted and written without being joined,
 * and socket back-pressure is awaited, so memory stays flat whatever the file size.
 */
export async function sendFileChunks(options: {
  path: string;
  size: number;
  offsets: number[] | null;
  conns: readonly FramedSocket[];
  key: Buffer;
  compress: boolean;
  signal?: AbortSignal;
  onProgress?: (sentBytes: number) => void;
}): Promise<void> {
  const { conns, key } = options;
  const chunkBytes = options.offsets ? CHUNK_BYTES : WIRE_CHUNK_BYTES;
  const wanted = options.offsets ? new Set(options.offsets) : null;
  const batch = Math.max(1, Math.floor(BATCH_BYTES / chunkBytes));
  const handle = await openFile(options.path, "r");
  let sent = 0;
  const pool = new ChunkPool(OFFSET_BYTES + chunkBytes, batch);
  const compressor = new AdaptiveCompressor();
  try {
    const total = Math.ceil(options.size / chunkBytes);
    for (let first = 0; first < total; first += batch) {
      if (options.signal?.aborted) throw aborted();
      const indexes: number[] = [];
      for (let k = first; k < Math.min(total, first + batch); k++) {
        if (!wanted || wanted.has(k * chunkBytes)) indexes.push(k);
      }
      if (indexes.length === 0) continue;
      const plain = indexes.map((k) => readChunk(handle.fd, k * chunkBytes, chunkBytes, options.size, pool));
      const bodies = options.compress
        ? await Promise.all(plain.map((p) => compressor.compressChunk(p)))
        : plain.map((p) => [p]);
      for (let i = 0; i < indexes.length; i++) {
        const k = indexes[i] as number;
        const chunk = plain[i] as Buffer;
        const sealed = sealParts(key, bodies[i] as Buffer[]);
        // The cipher copied the plaintext: its buffer can hold the next chunk (less garbage, flat RSS).
        pool.release(chunk);
        await (conns[k % conns.length] as FramedSocket).writeParts(sealed);
        sent += chunk.length - OFFSET_BYTES;
        chunkGarbage.dropped(chunk.length);
      }
      options.onProgress?.(sent);
    }
  } finally {
    await handle.close();
  }
}

/** Reusable chunk buffers, all of one size (kept out of V8's heap accounting: allocUnsafeSlow). */
class ChunkPool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly bytes: number,
    private readonly max: number,
  ) {}

  take(length: number): Buffer {
    return (this.free.pop() ?? Buffer.allocUnsafeSlow(this.bytes)).subarray(0, length);
  }

  release(buf: Buffer): void {
    if (buf.buffer.byteLength === this.bytes && this.free.length < this.max)
      this.free.push(Buffer.from(buf.buffer, 0, this.bytes));
  }
}

/** [LE offset][chunk bytes], read synchronously: page-cache reads beat a pool round trip. */
function readChunk(fd: number, offset: number, chunkBytes: number, size: number, pool: ChunkPool): Buffer {
  const length = Math.min(chunkBytes, size - offset);
  const buf = pool.take(OFFSET_BYTES + length);
  buf.writeBigUInt64LE(BigInt(offset), 0);
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, buf, OFFSET_BYTES + filled, length - filled, offset + filled);
    if (n === 0) throw new Error(`file shrank while sending (expected ${size} bytes)`);
    filled += n;
  }
  return buf;
}
