import { readSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { sealParts } from "../crypto/aead.js";
import { CHUNK_BYTES, chunkCount } from "../crypto/chunks.js";
import { AdaptiveCompressor, STORED_HEADER_BYTES } from "../crypto/compress.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { chunkGarbage } from "../memory/garbage.js";
import { aborted } from "../session/errors.js";

/** Chunks prepared together: compression of a batch runs on the libuv pool in parallel. */
const BATCH_CHUNKS = 32;
/** Room for a stored-block header, then the 8-byte offset, then the data. */
const DATA_AT = STORED_HEADER_BYTES + 8;

/**
 * Streams one file's chunks over the data connections: chunk k goes to connection k mod N, each
 * chunk = LE offset ‖ bytes, deflated unless disabled, sealed, framed. With a resume list only the
 * listed chunks are read and sent (their slots in the round robin are still used). Each chunk is
 * read straight into the buffer that is sealed: one allocation, no copies, and socket back-pressure
 * is awaited so memory stays flat whatever the file size.
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
  const wanted = options.offsets ? new Set(options.offsets) : null;
  const handle = await openFile(options.path, "r");
  let sent = 0;
  const pool: Buffer[] = [];
  const compressor = new AdaptiveCompressor();
  try {
    const total = chunkCount(options.size);
    for (let first = 0; first < total; first += BATCH_CHUNKS) {
      if (options.signal?.aborted) throw aborted();
      const indexes: number[] = [];
      for (let k = first; k < Math.min(total, first + BATCH_CHUNKS); k++) {
        if (!wanted || wanted.has(k * CHUNK_BYTES)) indexes.push(k);
      }
      if (indexes.length === 0) continue;
      const framed = indexes.map((k) => readChunk(handle.fd, k, options.size, pool));
      const bodies = options.compress
        ? await Promise.all(framed.map((f) => compressor.compressFramed(f)))
        : framed.map((f) => f.subarray(STORED_HEADER_BYTES));
      for (let i = 0; i < indexes.length; i++) {
        const k = indexes[i] as number;
        const sealed = sealParts(key, bodies[i] as Buffer);
        // The cipher copied the plaintext: its buffer can hold the next chunk (less garbage, flat RSS).
        release(pool, framed[i] as Buffer);
        await (conns[k % conns.length] as FramedSocket).writeParts(sealed);
        sent += (framed[i] as Buffer).length - DATA_AT;
        chunkGarbage.dropped(FULL);
      }
      options.onProgress?.(sent);
    }
  } finally {
    await handle.close();
  }
}

const FULL = DATA_AT + CHUNK_BYTES;

function release(pool: Buffer[], buf: Buffer): void {
  if (buf.buffer.byteLength === FULL && pool.length < BATCH_CHUNKS)
    pool.push(Buffer.from(buf.buffer, 0, FULL));
}

/** [5 spare bytes][LE offset][chunk bytes], read synchronously: page-cache reads beat a pool round trip. */
function readChunk(fd: number, k: number, size: number, pool: Buffer[]): Buffer {
  const offset = k * CHUNK_BYTES;
  const length = Math.min(CHUNK_BYTES, size - offset);
  const buf = (pool.pop() ?? Buffer.allocUnsafeSlow(FULL)).subarray(0, DATA_AT + length);
  buf.writeBigUInt64LE(BigInt(offset), STORED_HEADER_BYTES);
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, buf, DATA_AT + filled, length - filled, offset + filled);
    if (n === 0) throw new Error(`file shrank while sending (expected ${size} bytes)`);
    filled += n;
  }
  return buf;
}
