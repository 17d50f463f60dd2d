/**
 * A big upload's bytes are copied once, where they arrive, into 1 MiB slabs; the MD5 thread and
 * the file write then both read the same slab, which goes back to a pool when the last of them
 * lets go.
 *
 * Why: a socket chunk that waits for the disk or the hash survives V8's young-generation
 * collections. Survivors made V8 grow the young generation from 16 to 32 MiB during an upload and
 * then waited for a full collection, so a one-process gateway peaked at 126-132 MB during a 5 GiB
 * upload. Copied into a slab, each chunk is garbage as soon as its `data` event returns.
 *
 * Shared memory is kept for good, never dropped: once the MD5 thread has seen a SharedArrayBuffer,
 * its memory lives until that thread's isolate collects garbage, which an idle hashing thread
 * hardly ever does (slabs dropped after bursts of parallel uploads held a gateway at 516 MB). So
 * there are at most SHARED_SLABS of them; when they are all in use (several big uploads at once),
 * a slab is ordinary memory, and the MD5 thread gets a copy of it that it hands back.
 */
export const SLAB_BYTES = 1 << 20;
/** Shared slabs made at most: about what one or two uploads have in flight. */
const SHARED_SLABS = 8;
let sharedSlabs = 0;
const freeShared: SharedArrayBuffer[] = [];

function takeShared(): SharedArrayBuffer | undefined {
  const free = freeShared.pop();
  if (free || sharedSlabs >= SHARED_SLABS) return free;
  sharedSlabs += 1;
  return new SharedArrayBuffer(SLAB_BYTES);
}

/** One slab being filled or read. Each reader holds it; the last release returns it to the pool. */
export class Slab {
  readonly memory: SharedArrayBuffer | ArrayBuffer;
  /** Bytes written into it so far. */
  filled = 0;
  private holds = 1;
  private lost = false;

  /** A shared slab from the pool (ordinary memory when all are in use), held once by the caller, who fills it. */
  constructor() {
    this.memory = takeShared() ?? new ArrayBuffer(SLAB_BYTES);
  }

  /** Whether the MD5 thread may read this slab in place. */
  get shared(): boolean {
    return this.memory instanceof SharedArrayBuffer;
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
    if (this.holds === 0 && this.memory instanceof SharedArrayBuffer && !this.lost)
      freeShared.push(this.memory);
  }

  /**
   * For a reader that will never release it (a hashing thread that died while reading it): its
   * hold is dropped, and the slab never returns to the pool, which may make another in its place.
   */
  abandon(): void {
    if (this.shared && !this.lost) sharedSlabs -= 1;
    this.lost = true;
    this.release();
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
