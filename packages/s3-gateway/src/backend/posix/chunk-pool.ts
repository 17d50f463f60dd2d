/** 1 MiB buffers shared by the big reads (GET bodies, MD5 of files made by Pods). */
export const CHUNK_BYTES = 1 << 20;
const POOL_MAX = 4;
const pool: Buffer[] = [];

/**
 * A 1 MiB buffer, reused when one is free: a fresh one per read is external memory V8 counts
 * towards its next full collection (a listing that hashed 100,000 small files with a 1 MiB read
 * buffer each ran a mark-compact every few milliseconds).
 */
export function takeChunk(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

/** Hand a buffer back once nothing (socket, pending read) can still touch it. */
export function giveBack(buf: Buffer): void {
  if (pool.length < POOL_MAX && buf.length === CHUNK_BYTES) pool.push(buf);
}
