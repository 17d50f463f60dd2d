import { createHash } from "node:crypto";
import { open as openFile } from "node:fs/promises";
import { Xxh64 } from "@node-rs/xxhash";
import murmur from "murmurhash3js-revisited";
import { aborted } from "../session/errors.js";

/** Hash algorithms a croc sender may announce in `HashAlgorithm` ("" means xxhash). */
export type HashAlgorithm = "xxhash" | "imohash" | "md5";

/** Which imohash sampling the peer uses: generation A (library default) or B (croc 10's custom). */
export type ImohashFlavour = "a" | "b";

const IMOHASH_THRESHOLD = 128 * 1024;
const IMOHASH_SAMPLE: Record<ImohashFlavour, number> = { a: 16 * 1024, b: 2 * 1024 * 1024 };

const READ_BYTES = 1024 * 1024;

/**
 * Feeds a whole file to `update` through one reused buffer. A read stream would allocate a fresh
 * 1 MiB Buffer per read; those live outside the JS heap and V8 frees them only in batches, which
 * added ~30 MB to the peak RSS of hashing a large file.
 */
async function readWhole(path: string, update: (data: Buffer) => void, signal?: AbortSignal): Promise<void> {
  const handle = await openFile(path, "r");
  try {
    const buf = Buffer.allocUnsafeSlow(READ_BYTES);
    for (let position = 0; ; ) {
      if (signal?.aborted) throw aborted();
      const { bytesRead } = await handle.read(buf, 0, READ_BYTES, position);
      if (bytesRead === 0) return;
      update(buf.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** XXH64 (seed 0) of a whole file, streamed, as 8 big-endian bytes like croc's `HashFile`. */
export async function xxhashFile(path: string, signal?: AbortSignal): Promise<Buffer> {
  const hasher = new Xxh64();
  await readWhole(path, (data) => hasher.update(data), signal);
  return digestToBytes(hasher.digest());
}

/**
 * XXH64 of a file computed from its chunks as they arrive, so a fresh download needs no second pass
 * over the file. Chunks come nearly in order over several connections: one ahead of the next offset
 * waits (up to `maxWaitingBytes`); a gap, an overlap or too much waiting gives up, and the caller
 * hashes the file instead.
 */
export class ArrivalXxhash {
  private readonly hasher = new Xxh64();
  private next = 0;
  private readonly waiting = new Map<number, readonly Buffer[]>();
  private waitingBytes = 0;
  private failed = false;

  constructor(
    private readonly size: number,
    private readonly maxWaitingBytes = 4 * 1024 * 1024,
  ) {}

  /** A chunk's bytes, as written at `offset` (the pieces must stay unchanged while they wait). */
  add(offset: number, pieces: readonly Buffer[]): void {
    if (this.failed) return;
    if (offset !== this.next) {
      const length = byteLength(pieces);
      if (
        offset < this.next ||
        this.waiting.has(offset) ||
        this.waitingBytes + length > this.maxWaitingBytes
      ) {
        this.failed = true;
        this.waiting.clear();
        return;
      }
      this.waiting.set(offset, pieces);
      this.waitingBytes += length;
      return;
    }
    this.feed(pieces);
    for (let w = this.waiting.get(this.next); w; w = this.waiting.get(this.next)) {
      this.waiting.delete(this.next);
      this.waitingBytes -= byteLength(w);
      this.feed(w);
    }
  }

  /** 8 big-endian bytes like `xxhashFile`, once every byte came exactly once; otherwise null. */
  digest(): Buffer | null {
    return !this.failed && this.next === this.size ? digestToBytes(this.hasher.digest()) : null;
  }

  private feed(pieces: readonly Buffer[]): void {
    for (const piece of pieces) this.hasher.update(piece);
    this.next += byteLength(pieces);
  }
}

function byteLength(pieces: readonly Buffer[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

export function xxhashBytes(data: Uint8Array): Buffer {
  return digestToBytes(new Xxh64().update(data).digest());
}

function digestToBytes(digest: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(digest);
  return out;
}

export async function md5File(path: string, signal?: AbortSignal): Promise<Buffer> {
  const hasher = createHash("md5");
  await readWhole(path, (data) => hasher.update(data), signal);
  return hasher.digest();
}

/** kalafut/imohash: murmur3-x64-128 of the file or of three samples, first bytes = uvarint(size). */
export function imohashBytes(sampled: Uint8Array, size: number): Buffer {
  const digest = Buffer.from(murmur.x64.hash128(sampled), "hex");
  let value = size;
  let i = 0;
  while (value >= 0x80) {
    digest[i++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  digest[i] = value;
  return digest;
}

export async function imohashFile(path: string, flavour: ImohashFlavour): Promise<Buffer> {
  const sample = IMOHASH_SAMPLE[flavour];
  const handle = await openFile(path, "r");
  try {
    const { size } = await handle.stat();
    const readAt = async (position: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    };
    if (size < IMOHASH_THRESHOLD || size < 4 * sample) return imohashBytes(await readAt(0, size), size);
    const parts = [
      await readAt(0, sample),
      await readAt(Math.floor(size / 2), sample),
      await readAt(size - sample, sample),
    ];
    return imohashBytes(Buffer.concat(parts), size);
  } finally {
    await handle.close();
  }
}

/** Symlinks are "hashed" as the ASCII hex SHA-256 of their target, whatever the algorithm. */
export function symlinkHash(target: string): Buffer {
  return Buffer.from(createHash("sha256").update(target).digest("hex"), "ascii");
}

export function normaliseHashAlgorithm(name: string | undefined): HashAlgorithm | null {
  if (name === undefined || name === "" || name === "xxhash") return "xxhash";
  if (name === "imohash" || name === "md5") return name;
  return null;
}

/** Hash of a regular file in the algorithm the sender announced; null when Podkit cannot compute it. */
export async function hashFile(
  path: string,
  algorithm: string | undefined,
  flavour: ImohashFlavour,
  signal?: AbortSignal,
): Promise<Buffer | null> {
  switch (normaliseHashAlgorithm(algorithm)) {
    case "xxhash":
      return xxhashFile(path, signal);
    case "md5":
      return md5File(path, signal);
    case "imohash":
      return imohashFile(path, flavour);
    default:
      return null;
  }
}
