import { promisify } from "node:util";
import { constants, deflateRaw, deflateRawSync, inflateRawSync } from "node:zlib";

/**
 * croc compresses with raw DEFLATE (no zlib header) at Go's HuffmanOnly level; any raw inflater reads
 * it. Huffman-only is also the fastest zlib strategy, which matters for multi-GiB transfers.
 */
const DEFLATE_OPTIONS = { strategy: constants.Z_HUFFMAN_ONLY, level: 1, memLevel: 9 };
/** Stored blocks: still valid raw DEFLATE for every croc reader, at memcpy speed. */
const STORED_OPTIONS = { level: 0, memLevel: 9 };
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

/** Bytes in front of the data in a single final stored DEFLATE block. */
export const STORED_HEADER_BYTES = 5;
const MAX_STORED = 0xffff;

/**
 * Turns `buf` = [5 spare bytes][data] into one final stored DEFLATE block in place (RFC 1951 §3.2.4):
 * valid raw DEFLATE for every reader, with no zlib call and no copy.
 */
export function storedBlockInPlace(buf: Buffer): Buffer {
  const len = buf.length - STORED_HEADER_BYTES;
  if (len > MAX_STORED) throw new RangeError("stored block too long");
  buf[0] = 0x01; // BFINAL=1, BTYPE=00
  buf.writeUInt16LE(len, 1);
  buf.writeUInt16LE(~len & 0xffff, 3);
  return buf;
}

/**
 * Inflates raw DEFLATE, taking a fast path when the stream is only stored blocks (what Podkit sends for
 * incompressible data and Go's flate emits for short or random input): the data is sliced out, no zlib.
 */
export function inflateChunk(data: Buffer, maxOutputLength: number): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  let total = 0;
  for (;;) {
    if (pos + 5 > data.length) return decompress(data, maxOutputLength);
    const head = data[pos] as number;
    if ((head & 0x06) !== 0) return decompress(data, maxOutputLength); // not a stored block
    const len = data.readUInt16LE(pos + 1);
    if ((data.readUInt16LE(pos + 3) ^ 0xffff) !== len || pos + 5 + len > data.length)
      return decompress(data, maxOutputLength);
    parts.push(data.subarray(pos + 5, pos + 5 + len));
    total += len;
    if (total > maxOutputLength) throw new RangeError("inflated data exceeds the limit");
    pos += 5 + len;
    if (head & 0x01) break;
  }
  if (pos !== data.length) return decompress(data, maxOutputLength);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/**
 * Chunk compressor that stops wasting CPU on incompressible data (random bytes, archives, model
 * weights): when Huffman coding saves under 2 % it emits stored blocks for the next 64 chunks, then
 * probes again. Every output is a raw DEFLATE stream, so croc and runpodctl receivers read it as usual.
 */
export class AdaptiveCompressor {
  private storedLeft = 0;
  private probeNext = true;
  static readonly PROBE_EVERY = 64;
  private static readonly WORTH_IT = 0.98;

  /** `framed` = [5 spare bytes][plaintext]; the spare bytes let stored mode work in place. */
  compressFramed(framed: Buffer): Promise<Buffer> | Buffer {
    if (this.storedLeft > 0) {
      this.storedLeft--;
      if (this.storedLeft === 0) this.probeNext = true;
      return storedBlockInPlace(framed);
    }
    return this.compress(framed.subarray(STORED_HEADER_BYTES));
  }

  /**
   * The first chunk after a stored run is probed synchronously, so the decision applies to the very
   * next chunk; while data keeps compressing, chunks go to the thread pool in parallel.
   */
  compress(data: Uint8Array): Promise<Buffer> | Buffer {
    if (this.storedLeft > 0) {
      this.storedLeft--;
      if (this.storedLeft === 0) this.probeNext = true;
      return deflateRawSync(data, STORED_OPTIONS);
    }
    if (this.probeNext) {
      this.probeNext = false;
      const out = compress(data);
      this.judge(out.length, data.length);
      return out;
    }
    return compressAsync(data).then((out) => {
      this.judge(out.length, data.length);
      return out;
    });
  }

  private judge(outLength: number, inLength: number): void {
    if (outLength > inLength * AdaptiveCompressor.WORTH_IT) this.storedLeft = AdaptiveCompressor.PROBE_EVERY;
  }
}
