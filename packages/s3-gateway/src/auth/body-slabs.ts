/**
 * A big upload's bytes are copied once, where they arrive, into 1 MiB slabs of shared memory; the
 * MD5 thread and the file write then both read the same slab, which goes back to a small pool
 * when the last of them lets go.
 *
 * Why: a socket chunk that waits for the disk or the hash survives V8's young-generation
 * collections. Survivors made V8 grow the young generation from 16 to 32 MiB during an upload and
 * then waited for a full collection, so a one-process gateway peaked at 126-132 MB during a 5 GiB
 * upload. Copied into a slab, each chunk is garbage as soon as its `data` event returns.
 */
export const SLAB_BYTES = 1 << 20;
/** Slabs kept for reuse after a big upload (more are allocated while several run at once). */
const MAX_FREE_SLABS = 4;
const freeSlabs: SharedArrayBuffer[] = [];

/** One slab being filled or read. Each reader holds it; the last release returns it to the pool. */
export class Slab {
  readonly memory: SharedArrayBuffer;
  /** Bytes written into it so far. */
  filled = 0;
  private holds = 1;

  /** A slab from the pool (or a new one), held once by the caller, who fills it. */
  constructor() {
    this.memory = freeSlabs.pop() ?? new SharedArrayBuffer(SLAB_BYTES);
  }

  /** Copies as much of `chunk[from…]` as fits; returns how many bytes it took. */
  fill(chunk: Uint8Array, from: number): number {
    const n = Math.min(chunk.length - from, SLAB_BYTES - this.filled);
    new Uint8Array(this.memory, this.filled, n).set(chunk.subarray(from, from + n));
    this.filled += n;
    return n;
  }

  get full(): boolean {
    return this.filled === SLAB_BYTES;
  }

  /** One more reader (the MD5 thread, the writer) that will call release() when done. */
  hold(): void {
    if (this.holds <= 0) throw new Error("a slab was held after its last release");
    this.holds += 1;
  }

  /**
   * One reader is done. The pool only gets a slab back when no one can still read it: a slab
   * reused early would put another upload's bytes into this one's file or hash.
   */
  release(): void {
    if (this.holds <= 0) throw new Error("a slab was released more often than it was held");
    this.holds -= 1;
    if (this.holds === 0 && freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(this.memory);
  }
}

const lent = new WeakMap<Buffer, Slab>();

/**
 * The slab's filled bytes as a Buffer for the next stream, held on its behalf: whoever consumes
 * the stream calls releaseSlab(buffer) once nothing reads it any more (after its write). A Buffer
 * that is dropped without a release is simply collected, slab and all.
 */
export function lendSlab(slab: Slab): Buffer {
  slab.hold();
  const buffer = Buffer.from(slab.memory, 0, slab.filled);
  lent.set(buffer, slab);
  return buffer;
}

/** Gives back a Buffer that lendSlab made (once); any other Buffer is left alone. */
export function releaseSlab(buffer: Buffer): void {
  const slab = lent.get(buffer);
  if (!slab) return;
  lent.delete(buffer);
  slab.release();
}
