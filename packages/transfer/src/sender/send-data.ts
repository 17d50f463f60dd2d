import { open as openFile } from "node:fs/promises";
import { seal } from "../crypto/aead.js";
import { CHUNK_BYTES, chunkCount, encodeChunk } from "../crypto/chunks.js";
import { AdaptiveCompressor } from "../crypto/compress.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { aborted } from "../session/errors.js";

/** Chunks read and compressed together: enough to keep the libuv pool busy, little memory. */
const BATCH_CHUNKS = 32;

/**
 * Streams one file's chunks over the data connections: chunk k goes to connection k mod N, each
 * chunk = LE offset ‖ bytes, deflated unless disabled, sealed, framed. With a resume list only the
 * listed chunks are read and sent (their slots in the round robin are still used).
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
      const plains = await readChunks(handle, indexes, options.size);
      const bodies = options.compress ? await Promise.all(plains.map((p) => compressor.compress(p))) : plains;
      for (let i = 0; i < indexes.length; i++) {
        const k = indexes[i] as number;
        await (conns[k % conns.length] as FramedSocket).write(seal(key, bodies[i] as Buffer));
        sent += (plains[i] as Buffer).length - 8;
      }
      options.onProgress?.(sent);
    }
  } finally {
    await handle.close();
  }
}

async function readChunks(
  handle: Awaited<ReturnType<typeof openFile>>,
  indexes: number[],
  size: number,
): Promise<Buffer[]> {
  const firstIndex = indexes[0] as number;
  const lastIndex = indexes[indexes.length - 1] as number;
  const start = firstIndex * CHUNK_BYTES;
  const end = Math.min(size, (lastIndex + 1) * CHUNK_BYTES);
  const block = Buffer.allocUnsafe(end - start);
  let filled = 0;
  while (filled < block.length) {
    const { bytesRead } = await handle.read(block, filled, block.length - filled, start + filled);
    if (bytesRead === 0) throw new Error(`file shrank while sending (expected ${size} bytes)`);
    filled += bytesRead;
  }
  return indexes.map((k) => {
    const from = k * CHUNK_BYTES - start;
    return encodeChunk(k * CHUNK_BYTES, block.subarray(from, Math.min(from + CHUNK_BYTES, block.length)));
  });
}
