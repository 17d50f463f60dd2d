import { promisify } from "node:util";
import { constants, deflateRaw, deflateRawSync, inflateRawSync } from "node:zlib";

/**
 * croc compresses with raw DEFLATE (no zlib header) at Go's HuffmanOnly level; any raw inflater reads
 * it. Huffman-only is also the fastest zlib strategy, which matters for multi-GiB transfers.
 */
const DEFLATE_OPTIONS = { strategy: constants.Z_HUFFMAN_ONLY, level: 1, memLevel: 9 };
/** Nothing a peer sends may inflate to more than this (a chunk is ≤ 32 KiB + 8, messages far less). */
export const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

export function compress(data: Uint8Array): Buffer {
  return deflateRawSync(data, DEFLATE_OPTIONS);
}

export function decompress(data: Uint8Array, maxOutputLength = MAX_INFLATED_BYTES): Buffer {
  return inflateRawSync(data, { maxOutputLength });
}

const deflateRawAsync = promisify(deflateRaw);

/** Off the main thread (libuv pool), so sender and receiver use more than one core for chunks. */
export function compressAsync(data: Uint8Array): Promise<Buffer> {
  return deflateRawAsync(data, DEFLATE_OPTIONS);
}

/** Longest stored DEFLATE block (RFC 1951 §3.2.4: LEN is 16 bits). */
const MAX_STORED = 0xffff;
const STORED_HEADER_BYTES = 5;

/**
 * `data` as stored DEFLATE blocks, returned as pieces (block headers between slices of `data`) to be
 * sealed one after another: valid raw DEFLATE for every reader, with no zlib call and no copy.
 */
export function storedBlocks(data: Buffer): Buffer[] {
  const blocks = Math.max(1, Math.ceil(data.length / MAX_STORED));
  const headers = Buffer.allocUnsafe(blocks * STORED_HEADER_BYTES);
  const pieces: Buffer[] = [];
  for (let b = 0; b < blocks; b++) {
    const from = b * MAX_STORED;
    const len = Math.min(MAX_STORED, data.length - from);
    const header = headers.subarray(b * STORED_HEADER_BYTES, (b + 1) * STORED_HEADER_BYTES);
    header[0] = b === blocks - 1 ? 0x01 : 0x00; // BFINAL on the last, BTYPE=00 (stored)
    header.writeUInt16LE(len, 1);
    header.writeUInt16LE(~len & 0xffff, 3);
    pieces.push(header);
    if (len > 0) pieces.push(data.subarray(from, from + len));
  }
  return pieces;
}

/**
 * Inflates raw DEFLATE into pieces, taking a fast path when the stream is only stored blocks (what
 * Podkit sends for incompressible data and Go's flate emits for short or random input): the data is
 * sliced out, no zlib, no copy; the pieces are written to disk as they are.
 */
export function inflateChunk(data: Buffer, maxOutputLength: number): Buffer[] {
  const parts: Buffer[] = [];
  let pos = 0;
  let total = 0;
  for (;;) {
    if (pos + 5 > data.length) return [decompress(data, maxOutputLength)];
    const head = data[pos] as number;
    if ((head & 0x06) !== 0) return [decompress(data, maxOutputLength)]; // not a stored block
    const len = data.readUInt16LE(pos + 1);
    if ((data.readUInt16LE(pos + 3) ^ 0xffff) !== len || pos + 5 + len > data.length)
      return [decompress(data, maxOutputLength)];
    if (len > 0) parts.push(data.subarray(pos + 5, pos + 5 + len));
    total += len;
    if (total > maxOutputLength) throw new RangeError("inflated data exceeds the limit");
    pos += 5 + len;
    if (head & 0x01) break;
  }
  if (pos !== data.length) return [decompress(data, maxOutputLength)];
  return parts;
}

/**
 * Chunk compressor that stops wasting CPU on incompressible data (random bytes, archives, model
 * weights): when Huffman coding of a probe saves under 2 % it emits stored blocks for the next
 * `PROBE_EVERY` chunks, then probes again. Every output is a raw DEFLATE stream, so croc and
 * runpodctl receivers read it as usual.
 */
export class AdaptiveCompressor {
  private storedLeft = 0;
  private probeNext = true;
  static readonly PROBE_EVERY = 64;
  /** The probe compresses only the start of a chunk: enough to judge, a fraction of the CPU. */
  static readonly PROBE_BYTES = 32 * 1024;
  private static readonly WORTH_IT = 0.98;

  /**
   * A chunk's plaintext as the pieces of one raw DEFLATE stream. The probe runs synchronously, so its
   * verdict applies to this very chunk; while data keeps compressing, chunks go to the thread pool
   * in parallel.
   */
  compressChunk(data: Buffer): Promise<Buffer[]> | Buffer[] {
    if (this.probeNext) {
      this.probeNext = false;
      const sample = data.subarray(0, AdaptiveCompressor.PROBE_BYTES);
      this.judge(compress(sample).length, sample.length);
    }
    if (this.storedLeft > 0) {
      this.storedLeft--;
      if (this.storedLeft === 0) this.probeNext = true;
      return storedBlocks(data);
    }
    return compressAsync(data).then((out) => {
      this.judge(out.length, data.length);
      return [out];
    });
  }

  private judge(outLength: number, inLength: number): void {
    if (outLength > inLength * AdaptiveCompressor.WORTH_IT) this.storedLeft = AdaptiveCompressor.PROBE_EVERY;
  }
}
