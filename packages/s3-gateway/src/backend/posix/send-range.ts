import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { s3ErrorFor } from "../../errors/s3-errors.js";
import { CHUNK_BYTES as CHUNK, giveBack, takeChunk } from "./chunk-pool.js";
import type { OpenFile } from "./open-file.js";

/** Reads in flight while earlier chunks are still being written: 3 kept pace with nginx's sendfile. */
const DEPTH = 3;

function write(out: Writable, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(bytes, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Send bytes [start, end] of an open file to `out`, then end it. A read stream allocates a fresh
 * 1 MiB buffer per chunk, and that garbage cost a sixth of a big GET's CPU. Here a few pooled
 * buffers rotate: each goes back only once the socket has taken its bytes (the write callback),
 * so the next file read overlaps the previous write. A file that shrinks meanwhile ends the send
 * with an error (the announced length cannot be met), one that grows sends no more than `end`.
 */
export async function sendRange(file: OpenFile, start: number, end: number, out: Writable): Promise<void> {
  // Settles when the response has finished, or fails as soon as the client goes away: a write
  // into a destroyed response never calls back, so every wait below races this.
  const done = finished(out);
  done.catch(() => {});
  const total = end - start + 1;
  if (total < CHUNK) {
    // One read and one write, into a buffer of its own (Node's slab for the smallest).
    const buf = Buffer.allocUnsafe(Math.max(total, 0));
    if (total > 0) await readFully(file, buf, total, start);
    out.end(buf);
    return done;
  }
  const writes: Promise<void>[] = [];
  for (let pos = start; pos <= end; ) {
    if (writes.length >= DEPTH - 1) await Promise.race([writes.shift(), done]);
    const buf = takeChunk();
    const want = Math.min(CHUNK, end - pos + 1);
    try {
      await readFully(file, buf, want, pos);
    } catch (err) {
      giveBack(buf);
      throw err;
    }
    pos += want;
    // The buffer returns to the pool only once the socket has taken it; after a failed write
    // the socket may still hold it, so it is left to the garbage collector.
    const written = write(out, want === CHUNK ? buf : buf.subarray(0, want)).then(() => giveBack(buf));
    // A write can fail after this send has already given up on the client (`done` rejected
    // first); that late failure must not surface as an unhandled rejection and stop the gateway.
    written.catch(() => {});
    writes.push(written);
  }
  await Promise.race([Promise.all(writes), done]);
  out.end();
  return done;
}

async function readFully(file: OpenFile, buf: Buffer, length: number, position: number): Promise<void> {
  let got = 0;
  while (got < length) {
    const bytesRead = await file.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw s3ErrorFor("object-shrank");
    got += bytesRead;
  }
}
